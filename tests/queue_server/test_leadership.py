"""queue_server/leadership.py: one holder of a duty's lock file at a time, freed when released or when its process
ends, whatever the failure on the way (no descriptor left behind)."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import threading

import pytest

from queue_server import leadership
from queue_server.leadership import Doorbell, Leadership
from queue_server.server_lock import ServerLock


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_one_holder_at_a_time_and_the_next_takes_over_when_it_lets_go(tmp_path):
    first, second = Leadership(tmp_path / "duty.lock"), Leadership(tmp_path / "duty.lock")
    assert first.take() and first.take()  # taking again while holding: still held, nothing opened twice
    assert not second.take() and not second.held
    first.release()
    assert second.take() and second.held and not first.held


def test_a_holder_that_dies_frees_the_duty(tmp_path):
    path = tmp_path / "duty.lock"
    code = f"from queue_server.leadership import Leadership; import os; assert Leadership({str(path)!r}).take(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())
    assert Leadership(path).take()


def test_a_failure_other_than_a_held_lock_is_raised_and_leaves_no_descriptor(tmp_path, monkeypatch):
    def refuse(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(fcntl, "flock", refuse)
    before = _fds()
    for _ in range(5):
        with pytest.raises(OSError):
            Leadership(tmp_path / "duty.lock").take()
    assert _fds() == before


def test_a_lock_file_it_may_not_write_is_opened_read_only(tmp_path, monkeypatch):
    real_open = os.open

    def no_write(path, flags, *mode):
        if flags & os.O_RDWR:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *mode)

    (tmp_path / "duty.lock").touch()
    monkeypatch.setattr(leadership.os, "open", no_write)
    lead = Leadership(tmp_path / "duty.lock")
    assert lead.take()
    monkeypatch.undo()
    assert not Leadership(tmp_path / "duty.lock").take()


def test_a_server_lock_held_shared_is_not_mistaken_for_an_exclusive_one(tmp_path):
    lock = ServerLock(tmp_path)
    lock.share()
    with pytest.raises(RuntimeError):
        lock.try_exclusive()
    assert not ServerLock(tmp_path).try_exclusive()  # a restore is refused while a server runs
    lock.release()
    assert ServerLock(tmp_path).try_exclusive()


def test_a_doorbell_wakes_its_listener_and_a_ring_nobody_hears_is_dropped(tmp_path):
    lock = tmp_path / "duty.lock"
    Doorbell(lock, "duty").ring()  # no holder listening yet: nothing raised, nothing kept
    rung = threading.Event()
    holder, other = Doorbell(lock, "duty"), Doorbell(lock, "duty")
    holder.listen(rung.set, "duty-wake")
    try:
        assert holder.listening and not other.listening
        with pytest.raises(OSError):  # one listener per duty and data directory
            other.listen(lambda: None, "duty-wake-2")
        assert Doorbell(tmp_path / "elsewhere.lock", "duty").address != holder.address
        assert Doorbell(lock, "other-duty").address != holder.address
        other.ring()
        assert rung.wait(5)
    finally:
        holder.close()
        other.close()
    fds = _fds()
    rung.clear()
    Doorbell(lock, "duty").ring()  # closed: the address is free again and nobody hears
    assert not rung.wait(0.2) and not holder.listening and _fds() == fds
