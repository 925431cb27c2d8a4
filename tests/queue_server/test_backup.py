"""``hallq backup`` and ``hallq restore`` against a real server (queue_server/backup.py), and upgrades.

* A backup taken while tickets are being issued is a consistent database holding every ticket
  acknowledged before it started, written whole or not at all; the server goes on issuing.
* A restore refuses a running server, another site's backup and a newer schema; otherwise it
  keeps the current database aside and the server starts on the backup, numbering on from it.
* A migration that fails half-way leaves nothing of itself behind.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading

import pytest

from launcher.cli import main as hallq
from queue_server.backup import DB_NAME
from queue_server.migrations import migration_files
from tests.conftest import CITY, KIOSK_KEY, TINY

pytestmark = pytest.mark.slow


def run(capsys, *argv: str) -> tuple[int, str]:
    code = hallq([*argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def backup_cmd(server, target) -> list[str]:
    return ["backup", "--config", str(server.config), "--data-dir", str(server.data_dir), "--to", str(target)]


def restore_cmd(data_dir, source, config=TINY) -> list[str]:
    return ["restore", "--config", str(config), "--data-dir", str(data_dir), "--from", str(source)]


def numbers(path) -> list[tuple[str, int]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT origin_business, number FROM tickets ORDER BY id").fetchall()
    finally:
        db.close()


def test_a_backup_while_tickets_are_issued_is_consistent_and_holds_every_acknowledged_one(server_proc, tmp_path,
                                                                                        capsys):
    server = server_proc(config=CITY)  # construction has no daily limit
    acknowledged: list[dict] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()
    warm = threading.Event()
    more_after: list[threading.Event] = []  # set when a ticket is acknowledged after the backup

    def issuer() -> None:
        kiosk = server.client(KIOSK_KEY, retries=0, timeout=5)
        try:
            while not stop.is_set():
                t = kiosk.issue_ticket("construction")
                with lock:
                    acknowledged.append(t)
                    if len(acknowledged) >= 40:
                        warm.set()
                    for e in more_after:
                        e.set()
        except BaseException as e:  # surfaced below
            errors.append(e)
            warm.set()

    thread = threading.Thread(target=issuer)
    thread.start()
    try:
        assert warm.wait(30) and not errors, f"the issuing did not start: {errors}"
        with lock:
            before = list(acknowledged)  # acknowledged before the backup started
        target = tmp_path / "backups" / "city.sqlite3"
        target.parent.mkdir()
        code, said = run(capsys, *backup_cmd(server, target))
        assert code == 0, said
        after = threading.Event()
        with lock:
            more_after.append(after)
        assert after.wait(10), f"the server stopped issuing after the backup: {errors}"
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors

    assert "site liupanshui" in said
    db = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
        held = {row[0] for row in db.execute("SELECT public_id FROM tickets")}
        assert {t["id"] for t in before} <= held, "a ticket acknowledged before the backup is missing"
        site, schema, version, _taken, _source, tickets = db.execute("SELECT * FROM _backup").fetchone()
        assert (site, schema) == ("liupanshui", migration_files()[-1].stem)
        assert tickets == len(held) and version
    finally:
        db.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["city.sqlite3"], "a temporary file was left"


def test_backup_refuses_a_missing_database_and_a_target_it_cannot_write(tmp_path, capsys):
    empty = tmp_path / "no-hall"
    code, said = run(capsys, "backup", "--config", str(TINY), "--data-dir", str(empty), "--to", str(tmp_path / "b"))
    assert code == 2 and "there is no database at" in said
    assert not (tmp_path / "b").exists()

    ddir = tmp_path / "hall"
    ddir.mkdir()
    sqlite3.connect(ddir / DB_NAME).close()
    code, said = run(capsys, "backup", "--config", str(TINY), "--data-dir", str(ddir),
                     "--to", str(tmp_path / "nowhere" / "b.sqlite3"))
    assert code == 2 and "does not exist: create it or choose another --to" in said


def test_restore_refuses_a_running_server_another_site_and_a_newer_schema(server_proc, tmp_path, capsys):
    server = server_proc()
    kiosk = server.client(KIOSK_KEY)
    for _ in range(3):
        kiosk.issue_ticket("alpha")
    good = tmp_path / "good.sqlite3"
    assert run(capsys, *backup_cmd(server, good))[0] == 0

    code, said = run(capsys, *restore_cmd(server.data_dir, good))
    assert code == 2 and "a hallq server is running on" in said
    kiosk.issue_ticket("alpha")  # untouched: the server goes on
    assert len(numbers(server.data_dir / DB_NAME)) == 4
    server.stop()

    other = tmp_path / "other-site.sqlite3"
    shutil.copy(good, other)
    with sqlite3.connect(other) as db:
        db.execute("UPDATE meta SET value = 'village' WHERE key = 'site'")
    code, said = run(capsys, *restore_cmd(server.data_dir, other))
    assert code == 2 and "a backup of site 'village', not of this hall ('tiny')" in said

    newer = tmp_path / "newer.sqlite3"
    shutil.copy(good, newer)
    with sqlite3.connect(newer) as db:
        db.execute("INSERT INTO _migrations (name) VALUES ('999_from_the_future')")
    code, said = run(capsys, *restore_cmd(server.data_dir, newer))
    assert code == 2 and "does not know (999_from_the_future)" in said

    code, said = run(capsys, *restore_cmd(server.data_dir, tmp_path / "missing.sqlite3"))
    assert code == 2 and "there is no backup at" in said
    assert len(numbers(server.data_dir / DB_NAME)) == 4, "a refused restore changed the database"
    assert not list(server.data_dir.glob(f"{DB_NAME}.before-restore-*"))


def test_a_restored_hall_starts_on_the_backup_and_numbers_on_from_it(server_proc, tmp_path, capsys):
    server = server_proc()
    kiosk = server.client(KIOSK_KEY)
    kept = [kiosk.issue_ticket("alpha") for _ in range(3)]
    backup = tmp_path / "tiny.sqlite3"
    assert run(capsys, *backup_cmd(server, backup))[0] == 0
    server.stop()

    code, said = run(capsys, *restore_cmd(server.data_dir, backup))
    assert code == 0, said
    aside = list(server.data_dir.glob(f"{DB_NAME}.before-restore-*"))
    assert len(aside) == 1 and f"kept at {aside[0]}" in said
    assert numbers(aside[0]) == numbers(backup), "the database kept aside is not the one that was there"
    assert not (server.data_dir / f"{DB_NAME}-wal").exists()
    with sqlite3.connect(server.data_dir / DB_NAME) as db:
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = '_backup'").fetchone()

    server.clock = "2026-11-23T09:45:00+08:00"
    server.start()
    reader = server.client()
    for t in kept:
        assert reader.ticket(t["id"])["ticket"] == t["ticket"]
    kiosk = server.client(KIOSK_KEY)
    new = kiosk.issue_ticket("alpha")
    assert new["ticket"] not in {t["ticket"] for t in kept}
    issued = numbers(server.data_dir / DB_NAME)
    assert [n for b, n in issued if b == "alpha"] == [1, 2, 3, 4], "the numbering did not go on from the backup"


def test_a_restore_into_an_empty_data_dir_needs_nothing_aside(server_proc, tmp_path, capsys):
    server = server_proc()
    server.client(KIOSK_KEY).issue_ticket("alpha")
    backup = tmp_path / "tiny.sqlite3"
    assert run(capsys, *backup_cmd(server, backup))[0] == 0
    fresh = tmp_path / "new-machine"
    code, said = run(capsys, *restore_cmd(fresh, backup))
    assert code == 0 and "kept at" not in said, said
    assert numbers(fresh / DB_NAME) == numbers(backup)


# -- upgrades ------------------------------------------------------------------------------------

def test_a_migration_that_fails_half_way_leaves_nothing_of_itself(tmp_path, monkeypatch):
    """The pending schema files are one transaction: a failing statement undoes every file before it too."""
    from queue_server import migrations
    from queue_server.db import Database

    broken = tmp_path / "999_broken.sql"
    broken.write_text("CREATE TABLE half (x INTEGER);\nINSERT INTO half VALUES (1);\n"
                      "ALTER TABLE tickets ADD COLUMN half INTEGER;\nINSERT INTO no_such_table VALUES (1);\n",
                      encoding="utf-8")
    real = migrations.migration_files()
    monkeypatch.setattr(migrations, "migration_files", lambda: [*real, broken])
    db = Database(tmp_path / DB_NAME)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            migrations.migrate(db)
        conn = db.connection()
        applied = [n for (n,) in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        assert applied == [], "nothing of the pending files is applied, not even those before the broken one"
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name IN ('half', 'tickets')").fetchone()
        monkeypatch.setattr(migrations, "migration_files", lambda: real)
        assert migrations.migrate(db) == [p.stem for p in real]  # and the database opens and upgrades later
    finally:
        db.close()
