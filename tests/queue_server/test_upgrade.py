"""Upgrades: a database written by each tagged release is opened by today's code and loses nothing.

The fixtures in tests/fixtures/releases/<tag>/ were written by the release's own code
(tests/fixtures/releases/build.py): two days of the sample city hall with tickets of every class,
ratings, bookings and applications through their whole life. Today's server migrates the file and
every row of every table the release had must read back the same (its columns, the rows' SHA-256).
Migrations apply in one transaction: a failing one leaves the old schema whole; a database from a
newer release is refused with the cause and the fix.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import sys
from datetime import datetime
from pathlib import Path

import pytest

from hallq.clock import CHINA, VirtualClock
from hallq.testing import ROOT
from tests.conftest import CITY, Api, make_id

RELEASES = ROOT / "tests" / "fixtures" / "releases"
sys.path.insert(0, str(RELEASES))
from write_day import digest  # noqa: E402  (the very function that wrote expected.json)

TAGS = sorted(p.name for p in RELEASES.iterdir() if (p / "hallq.sqlite3.gz").exists())
AFTER = datetime(2026, 11, 25, 9, 30, tzinfo=CHINA)  # the working day after the fixtures' two days


def unpack(tag: str, data: Path) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    with gzip.open(RELEASES / tag / "hallq.sqlite3.gz", "rb") as f, open(data / "hallq.sqlite3", "wb") as g:
        shutil.copyfileobj(f, g)
    return data / "hallq.sqlite3"


def test_there_is_a_fixture_of_the_first_release():
    assert "v0.1.0" in TAGS
    release = json.loads((RELEASES / "v0.1.0" / "release.json").read_text())
    expected = json.loads((RELEASES / "v0.1.0" / "expected.json").read_text())
    assert release["migrations"][0] == "001_core"
    # it holds what an upgrade must carry: every kind of record, more than a handful of each
    counts = {t: expected[t]["rows"] for t in ("tickets", "journal", "ratings", "appointments", "applications",
                                               "application_events", "staff_accounts")}
    assert counts["tickets"] >= 50 and counts["journal"] >= 300 and counts["ratings"] >= 10, counts
    assert counts["appointments"] >= 2 and counts["applications"] >= 5 and counts["application_events"] >= 10, counts


@pytest.mark.parametrize("tag", TAGS)
def test_every_row_of_a_release_survives_the_upgrade_and_the_hall_goes_on(tag, tmp_path):
    from queue_server.app import create_app
    from queue_server.migrations import migration_files

    db = unpack(tag, tmp_path / "data")
    expected = json.loads((RELEASES / tag / "expected.json").read_text())
    release = json.loads((RELEASES / tag / "release.json").read_text())
    app = create_app(CITY, data_dir=tmp_path / "data", clock=VirtualClock(AFTER, rate=0), mqtt=False,
                     housekeeping=False)
    try:
        api = Api(app.test_client())
        # the schema is today's
        applied = {n for (n,) in sqlite3.connect(db).execute("SELECT name FROM _migrations")}
        assert applied == {p.stem for p in migration_files()} >= set(release["migrations"])
        # 025 rewrote the tickets' CHECK in place: the file is whole and the CHECK still refuses a made-up state
        probe = sqlite3.connect(db)
        assert probe.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            probe.execute("UPDATE tickets SET state = 'lost' WHERE id = (SELECT min(id) FROM tickets)")
        probe.close()
        # every application reads back with its whole timeline; the hall numbers on, the journal goes on
        apps = sqlite3.connect(db).execute("SELECT tracking_no, status FROM applications").fetchall()
        for no, status in apps:
            view = api.ok("get", f"/applications/{no}", as_="1001")
            assert view["status"] == status
        mailed = sqlite3.connect(db).execute("SELECT tracking_no FROM applications WHERE mail_to IS NOT NULL").fetchall()
        for (no,) in mailed:  # the sealed phone opens for the clerk who writes the waybill (a manager here)
            assert api.ok("get", f"/applications/{no}/applicant-name", as_="2001")["mail_to"]["phone"] == "13812345678"
        last_seq = sqlite3.connect(db).execute("SELECT max(seq) FROM journal").fetchone()[0]
        api.ok("post", "/windows/7/sign-in", as_="1007")
        ticket = api.ok("post", "/tickets", {"business": "commerce", "id_number": make_id(seq=999)}, as_="kiosk",
                        status=201)
        prefix = app.extensions["hallq"].hall.config.businesses["commerce"].prefix
        assert ticket["ticket"] == f"{prefix}001"  # a new business day numbers from 1
        assert sqlite3.connect(db).execute("SELECT min(seq) FROM journal WHERE seq > ?", (last_seq,)).fetchone()[0] \
            == last_seq + 1
    finally:
        app.extensions["hallq"].close()
    # and nothing the release wrote was lost or changed, by the upgrade or by opening the hall the next day
    release_db = unpack(tag, tmp_path / "release")
    assert digest(release_db) == expected  # the fixture is what the release wrote
    for table, was in expected.items():
        changes = BY_DESIGN.get(table, ())
        cols = [c for c in was["columns"] if c not in changes]
        old, new = rows(release_db, table, cols), rows(db, table, cols)
        lost = {r for r in old - new if not SHED.get(table, lambda r: False)(dict(zip(cols, r)))}
        assert not lost, f"{table}: {len(lost)} of the release's rows lost or changed, e.g. {sorted(lost)[:1]}"
        if table not in GROWS:
            assert len(new) == len(old), f"{table}: {len(new) - len(old)} rows appeared in the upgrade"
    assert rows(db, "appointments", ["status"]) == {("no_show",), ("checked_in",)}  # the day rolled over
    # 024 sealed the mailing phones the release kept in full: masked in the row, the rest of mail_to as it was
    for (before,), (after,) in zip(sorted(rows(release_db, "applications", ["mail_to"]), key=str),
                                   sorted(rows(db, "applications", ["mail_to"]), key=str)):
        if before is None:
            assert after is None
            continue
        was, now = json.loads(before), json.loads(after)
        assert "*" in now["phone"] and now["phone_sealed"] and now["phone"] != was["phone"]
        assert {k: v for k, v in now.items() if k not in ("phone", "phone_sealed")} == \
               {k: v for k, v in was.items() if k != "phone"}
        assert was["phone"] not in after


# what opening the hall the next day changes in the release's rows, by design (columns), and the
# tables where the next day adds rows; every other table must read back exactly
BY_DESIGN = {
    "appointments": ("status", "no_show_at", "no_show_by"),  # a booking not checked in by the day's end: no-show
    "windows": ("state", "staff_id", "updated_at"),  # window 7 opens
    "meta": ("value",),  # the running server's own keys (the hall's config as applied, its last start)
    "counters": ("value",),  # the new day's numbering
    "sign_in_throttles": ("last_success_at",),  # clerks 1001 and 1007 sign in
    "applications": ("mail_to",),  # 024: the phone a result is mailed to is sealed (checked below)
    "items": ("guide",),  # the sample's services.toml changed since (keywords, 2026-12): applied again, its guides win
                          # and the items it adds are added (in GROWS)
}
SHED = {"sessions": lambda r: r["expires_at"] < AFTER.isoformat()}  # a sign-in cleans out expired sessions
GROWS = {"_migrations", "tickets", "journal", "sessions", "sign_in_throttles", "counters", "requests", "meta", "queue_counts",
         "items"}


def rows(db: Path, table: str, cols: list[str]) -> set[tuple]:
    conn = sqlite3.connect(db)
    try:
        have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        missing = [c for c in cols if c not in have]
        assert not missing, f"{table}: the release's columns are gone: {missing}"
        select = ", ".join(f'"{c}"' for c in cols)  # identifiers in double quotes ('x' would be a string)
        return set(conn.execute(f'SELECT {select} FROM "{table}"'))
    finally:
        conn.close()


def test_a_failing_migration_leaves_the_release_schema_whole(tmp_path, monkeypatch):
    import queue_server.migrations as migrations
    from queue_server.db import Database

    db_path = unpack("v0.1.0", tmp_path / "data")
    before = digest(db_path)
    schema = tmp_path / "schema"
    shutil.copytree(migrations.SCHEMA_DIR, schema)
    (schema / "900_good.sql").write_text("CREATE TABLE upgrade_probe (x INTEGER);\n"
                                         "ALTER TABLE tickets ADD COLUMN probe TEXT;\n")
    (schema / "901_broken.sql").write_text("CREATE TABLE upgrade_probe_2 (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n")
    monkeypatch.setattr(migrations, "SCHEMA_DIR", schema)
    db = Database(db_path)
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        migrations.migrate(db, b"k" * 32)
    db.close()
    after = digest(db_path)
    assert after == before  # neither file applied, not even the good one before the broken one
    assert "upgrade_probe" not in after and "probe" not in after["tickets"]["columns"]


def test_a_database_from_a_newer_release_is_refused_with_the_cause_and_the_fix(tmp_path):
    import subprocess

    from hallq.client import free_port

    db = unpack("v0.1.0", tmp_path / "data")
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO _migrations (name) VALUES ('999_from_the_future')")
    conn.commit()
    conn.close()
    r = subprocess.run([sys.executable, "-m", "launcher", "serve", "--demo", "--config", str(CITY),
                        "--data-dir", str(tmp_path / "data"), "--port", str(free_port())],
                       capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HALLQ_MQTT_URL": "mqtt://127.0.0.1:1"})
    assert r.returncode == 2, r.stderr[-2000:]
    assert "written by a newer hallq" in r.stderr and "999_from_the_future" in r.stderr
    assert "restore a backup" in r.stderr and "Traceback" not in r.stderr
