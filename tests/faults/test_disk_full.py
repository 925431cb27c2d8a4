"""The disk holding the database fills up: a clear error, no corruption, and recovery when space returns.

The data directory is a real, small file system (a 4 MB tmpfs mounted for
the test, which needs root; the test is skipped otherwise). A ballast file
fills it to the last byte while the server runs; then:

* writes are refused with 507 and the one error shape (code
  ``storage_full``, a sentence in three languages), not a 500;
* the server log says what is wrong and how to fix it, once (rate-limited);
* reads go on (the board, a ticket's page);
* nothing is half-written: SQLite's integrity check passes, every
  acknowledged ticket is there, and no number was used by a refused request;
* when the ballast is deleted, numbers are issued and called again, the
  numbering continuing after the last acknowledged ticket.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from hallq.client import ApiError
from launcher.processes import ServerProcess
from tests.conftest import KIOSK_KEY, make_id

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the data directory needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path: Path) -> None:
    """Write zeros until the file system says ENOSPC."""
    with open(path, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
            except OSError as e:
                assert e.errno == 28, e  # ENOSPC
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 16 or 1]


def test_a_full_disk_gives_a_clear_error_and_the_hall_recovers(tmp_path, small_disk):
    server = ServerProcess(small_disk)
    server.log = tmp_path / "server.log"  # the log must not live on the disk that fills up
    server.start()
    try:
        kiosk = server.client(KIOSK_KEY, retries=0)
        people = iter(make_id(seq=n) for n in range(1, 999))
        acknowledged = [kiosk.issue_ticket("beta", id_number=next(people)) for _ in range(3)]
        clerk = server.client()
        clerk.login("102", "hallq-demo")
        clerk.window_action(2, "sign-in")

        fill(small_disk / "ballast")
        refusals = []
        for _ in range(200):  # the WAL may still have room for a few writes; it soon has none
            try:
                acknowledged.append(kiosk.issue_ticket("beta", id_number=next(people)))
            except ApiError as e:
                refusals.append(e)
                if len(refusals) == 3:
                    break
        assert len(refusals) == 3, "the full disk was never noticed"
        e = refusals[0]
        assert (e.status, e.code) == (507, "storage_full")
        assert e.messages["zh-Hans"] == "服务器存储空间已满，暂时无法办理，请联系工作人员。"
        assert e.messages["en"].startswith("The server's storage is full") and e.messages["zh-Hant"]
        with pytest.raises(ApiError) as call:
            clerk.call_next(2)
        assert call.value.status == 507

        # the operator is told the cause and the fix, once however many requests fail
        log = server.log.read_text(encoding="utf-8", errors="replace")
        assert log.count("cannot write the database") == 1, log[-3000:]
        assert "database or disk is full" in log and "Free space on that disk" in log
        assert "internal_error" not in log and "Traceback" not in log

        # reads go on while the disk is full
        reader = server.client(retries=0)
        assert reader.board()["business_day"] == "2026-11-23"
        assert reader.ticket(acknowledged[0]["id"])["state"] == "waiting"

        db = sqlite3.connect(f"file:{small_disk / 'hallq.sqlite3'}?mode=ro", uri=True)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        labels = [r[0] for r in db.execute("SELECT label FROM tickets ORDER BY number")]
        assert labels == [t["ticket"] for t in acknowledged]  # all acknowledged, none of the refused
        db.close()

        (small_disk / "ballast").unlink()  # space returns
        after = kiosk.issue_ticket("beta", id_number=next(people))
        assert after["ticket"] == f"B{len(acknowledged) + 1:03d}"
        assert clerk.call_next(2)["ticket"]["ticket"] == acknowledged[0]["ticket"]
        db = sqlite3.connect(f"file:{small_disk / 'hallq.sqlite3'}?mode=ro", uri=True)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == len(acknowledged) + 1
        db.close()
    finally:
        server.stop()
