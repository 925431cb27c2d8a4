"""One log format for every part; under systemd, journald's priorities instead of our timestamps."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from hallq.testing import ROOT

SCRIPT = ("import logging; from hallq import logs; logs.setup(); "
          "logging.getLogger('hallq.kiosk').warning('the printer is out of paper'); "
          "logging.getLogger('hallq.server').error('cannot write the database'); "
          "logging.getLogger('hallq.x').debug('not shown')")


def run(stderr_path, journal: bool) -> list[str]:
    with open(stderr_path, "w") as err:
        st = os.fstat(err.fileno())
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"  # as systemd sets it for a unit's stderr
        subprocess.run([sys.executable, "-c", SCRIPT], stderr=err, env=env, cwd=ROOT, check=True, timeout=30)
    return stderr_path.read_text().splitlines()


def test_on_a_terminal_each_line_has_the_time_the_level_and_the_part(tmp_path):
    lines = run(tmp_path / "err", journal=False)
    assert len(lines) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING hallq\.kiosk: the printer is out of paper", lines[0])
    assert re.fullmatch(r"\S+ \S+ ERROR hallq\.server: cannot write the database", lines[1])


def test_under_journald_a_line_carries_its_syslog_priority_and_no_timestamp(tmp_path):
    assert run(tmp_path / "err", journal=True) == ["<4>hallq.kiosk: the printer is out of paper",
                                                   "<3>hallq.server: cannot write the database"]


def test_a_journal_stream_that_is_not_our_stderr_is_ignored(tmp_path, monkeypatch):
    from hallq import logs

    monkeypatch.setenv("JOURNAL_STREAM", "1:2")  # inherited from a parent whose stderr went elsewhere
    with open(tmp_path / "f", "w") as f:
        assert not logs.under_journald(f)
