"""The mark a running server leaves on its data directory: a shared lock on ``server.lock``.

Every server process (each Granian worker; each :func:`queue_server.app.create_app`) holds a
shared ``flock`` on ``<data dir>/server.lock`` while it lives. ``hallq restore`` takes it
exclusively: it cannot while any server runs on that directory, and a server started during a
restore waits until the database is in place. The kernel drops the lock when the process dies,
``kill -9`` included, so there is no stale pid file to clean up.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from queue_server.leadership import Leadership

log = logging.getLogger("hallq.server")

LOCK_NAME = "server.lock"


class ServerLock(Leadership):
    """The lock file of one data directory: shared by every server process, exclusive for a restore."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        super().__init__(Path(data_dir) / LOCK_NAME)

    def share(self) -> None:
        """Mark a server as running here (waits while a restore is putting the database in place)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s: a restore is in progress (hallq restore); waiting for it to finish", self.path)
            fcntl.flock(fd, fcntl.LOCK_SH)
        self._fd = fd

    def try_exclusive(self) -> bool:
        """Take the directory for ourselves; False when a server runs on it."""
        if self.held:
            raise RuntimeError(f"{self.path}: this lock object holds the directory already (shared or not)")
        return self.take()
