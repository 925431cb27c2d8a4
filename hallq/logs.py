"""One log format for every part of a hall, for an operator reading it on a terminal or in journald.

On a terminal (and in ``hallq start``'s combined output): ``2026-11-23 09:30:01,123 WARNING
hallq.kiosk: the printer is out of paper``. Under systemd, whose journal stamps every line with its
own time and unit and rotates it (``journalctl -u hallq-server``; no log files, no rotation of
our own), a line is ``<4>hallq.kiosk: the printer is out of paper``: the ``<N>`` prefix is the
syslog priority journald records for the line, so ``journalctl -p err`` shows exactly the lines
an operator must act on.

What the levels mean, in every part:

* ERROR: an operator must act (a device that cannot work, a disk that cannot be written, a part
  that gave up restarting, a bug); the line says the cause and the fix.
* WARNING: something went wrong and hallq coped (a broker reconnect, a retried request, a
  printer out of paper that staff see on their console); worth a look if it repeats.
* INFO: what a part did that an operator may want to know (started, listening, a tidal window
  opened). DEBUG (``-v``): for developers.

A healthy hall logs no ERROR line (tests/launcher/test_demo_health.py runs the demo to check).
"""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "<%(syslog_priority)d>%(name)s: %(message)s"
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class _Priority(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.syslog_priority = _PRIORITY.get(record.levelno, 6 if record.levelno > logging.DEBUG else 7)
        return True


def under_journald(stream=None) -> bool:
    """Whether ``stream`` (stderr) is connected to the journal: systemd sets JOURNAL_STREAM to its device:inode."""
    spec = os.environ.get("JOURNAL_STREAM", "")
    if not spec:
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return spec == f"{st.st_dev}:{st.st_ino}"


def setup(verbose: bool = False, stream=None) -> None:
    """Configure the root logger of this process once: the format above, INFO (DEBUG with ``verbose``)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if under_journald(stream):
        handler.addFilter(_Priority())
        handler.setFormatter(logging.Formatter(JOURNAL_FORMAT))
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    if any(getattr(h, "_hallq", False) for h in root.handlers):
        return
    handler._hallq = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
