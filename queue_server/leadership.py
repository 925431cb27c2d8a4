"""Duties that one server process of several does: whichever holds a lock file's exclusive ``flock``.

``hallq serve --workers N`` runs N processes on one data directory. Some background work must run in exactly one
of them: publishing the journal over MQTT (queue_server/publisher.py, ``publisher.lock``) and forwarding routed
applications to the county platform (queue_server/routing_outbox.py, ``routing.lock``). Each such duty tries
:meth:`Leadership.take` before its work; the process that holds the lock does it, the others skip their turn.
The kernel frees an ``flock`` when its holder dies, however it dies (``kill -9`` too), so another process
takes the duty over at its next try, without a stale lock file to clean up. The others wake the holder with a
:class:`Doorbell` after a change it should act on (a commit to publish, an application to forward).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import threading
from collections.abc import Callable
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


class Doorbell:
    """How the other processes wake the one holding a duty's lock, without polling: an empty datagram on a Unix
    socket in Linux's abstract namespace, named after the lock file (so nothing is left on disk when the holder
    dies, and two data directories never share one).

    The holder :meth:`listen`\\ s (each datagram calls ``on_ring``, on a thread of its own); the others
    :meth:`ring` after a change the holder should act on. A ring nobody hears (no holder yet, or its queue full of
    rings already) is dropped: each duty also runs on a timer, so a lost ring only delays it."""

    def __init__(self, lock_path: str | Path, duty: str) -> None:
        digest = hashlib.sha256(str(Path(lock_path).resolve()).encode()).hexdigest()[:32]
        self.address = b"\0hallq-" + duty.encode() + b"-" + digest.encode()
        self._inbox: socket.socket | None = None
        self._outbox: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def listening(self) -> bool:
        return self._inbox is not None

    def listen(self, on_ring: Callable[[], None], thread_name: str) -> None:
        """Hear the rings from now on; :class:`OSError` if the address cannot be had (the caller falls back to
        its timer and says so)."""
        inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            inbox.bind(self.address)
        except OSError:
            inbox.close()
            raise
        self._inbox = inbox
        threading.Thread(target=self._hear, args=(inbox, on_ring), name=thread_name, daemon=True).start()

    def _hear(self, inbox: socket.socket, on_ring: Callable[[], None]) -> None:
        while not self._closed:
            try:
                inbox.recv(16)
            except OSError:  # closed by close()
                return
            if not self._closed:
                on_ring()

    def ring(self) -> None:
        if self._closed:
            return
        try:
            with self._lock:
                if self._outbox is None:
                    self._outbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._outbox.setblocking(False)
                self._outbox.sendto(b"", self.address)
        except OSError:
            pass  # no holder listening yet, or its queue is full of rings already: its timer covers both

    def close(self) -> None:
        self._closed = True
        for sock in (self._inbox, self._outbox):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # ends the listener's recv
                except OSError:
                    pass
                sock.close()
        self._inbox = self._outbox = None
