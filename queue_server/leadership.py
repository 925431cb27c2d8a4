"""Duties that one server process of several does: whichever holds a lock file's exclusive ``flock``.

``hallq serve --workers N`` runs N processes on one data directory. Some background work must run in exactly one
of them: publishing the journal over MQTT (queue_server/publisher.py, ``publisher.lock``) and forwarding routed
applications to the county platform (queue_server/routing_outbox.py, ``routing.lock``). Each such duty tries
:meth:`Leadership.take` before its work; the process that holds the lock does it, the others skip their turn.
The kernel frees an ``flock`` when its holder dies, however it dies (``kill -9`` too), so another process
takes the duty over at its next try, without a stale lock file to clean up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Leadership:
    """The exclusive ``flock`` on ``path`` (created if missing), held from the first successful :meth:`take`
    until :meth:`release` or the process's end. Two objects on one path conflict even within one process (each
    opens the file itself), which is what lets a test stand in for two processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        # read-write where we may (some network file systems grant an exclusive flock only on a file open for
        # writing); read-only, which a local flock is content with, on a lock file another user (root) created
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            return os.open(self.path, os.O_RDONLY)

    def take(self) -> bool:
        """Hold the lock if no one else does; True while this object holds it. Never waits."""
        if self._fd is not None:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)  # any other failure: the descriptor is not left behind, and the caller hears of it
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor of the open file frees its flock
            self._fd = None
