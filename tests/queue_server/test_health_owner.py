"""A device's health is its publisher's: one MQTT identity cannot overwrite or forget what another reported.

Every identity may publish under ``hallq/<site>/devices/<its own id>/...`` (hallq/mqtt_auth.py), and names the
device in the topic's last segment and the payload. Keyed on that name alone, ``kiosk.kiosk-1`` could publish
``devices/kiosk-1/strip-1/health`` and hide the gateway's LED strip fault from every console, or forget it with
an empty retained message. The server now keeps (owner, device), the owner being the topic's ``<id>``
(queue_server/health_listener.py, queue_server/domain/attention.py, schema/026).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from hallq import contract
from queue_server.domain import attention
from queue_server.health_listener import health_handler
from tests.conftest import TINY

SITE = "tiny"


def _report(device: str, ok: bool, problems: list[str], kind: str = "led_strip",
            at: str = "2026-11-23T09:30:00+08:00") -> bytes:
    return contract.encode(contract.DEVICE_HEALTH, {"device": device, "kind": kind, "ok": ok, "problems": problems,
                                                    "detail": {}, "at": at})


def _topic(owner: str, device: str) -> str:
    return contract.DEVICE_HEALTH.topic(SITE, owner=owner, device=device)


def _console(state) -> list[dict]:
    """What the consoles' attention bar shows of the devices (GET /attention, readmodel.manager.attention)."""
    with state.db.read() as conn:
        return attention.summary(conn, state.hall.now())["device_problems"]


def _all(state) -> list[dict]:
    with state.db.read() as conn:
        return attention.device_health(conn)


def test_another_publisher_cannot_overwrite_or_forget_the_gateways_report(api, state):
    _, handle = health_handler(state.service, SITE)
    handle(_topic("gateway-1", "strip-1"), _report("strip-1", False, ["unplugged"]), True)
    shown = [d for d in _console(state) if d["device"] == "strip-1"]
    assert [(d["problems"], d["reported_at"]) for d in shown] == [(["unplugged"], "2026-11-23T09:30:00+08:00")]
    gateways = shown[0]

    # the kiosk's own identity writes under devices/kiosk-1/: a contradicting "ok" about strip-1 ...
    handle(_topic("kiosk-1", "strip-1"), _report("strip-1", True, [], at="2026-11-23T09:31:00+08:00"), True)
    assert [d for d in _console(state) if d["device"] == "strip-1"] == [gateways]
    # ... an empty retained message (a device "removed") ...
    handle(_topic("kiosk-1", "strip-1"), b"", True)
    assert [d for d in _console(state) if d["device"] == "strip-1"] == [gateways]
    # ... and a made-up fault: kept as the kiosk's own, beside the gateway's, never in its place
    handle(_topic("kiosk-1", "strip-1"), _report("strip-1", False, ["timeout"]), True)
    handle(_topic("kiosk-1", "strip-1"), b"", True)
    handle(_topic("kiosk-1", "strip-1"), _report("strip-1", True, []), True)
    handle(_topic("kiosk-1", "strip-1"), b"", True)
    assert [d for d in _console(state) if d["device"] == "strip-1"] == [gateways]
    assert [(d.get("owner"), d["device"]) for d in _all(state)] == [("gateway-1", "strip-1")]
    # the consoles' API answers the same
    assert [d for d in api.ok("get", "/attention", as_="101")["device_problems"] if d["device"] == "strip-1"] \
        == [gateways]


def test_a_fake_fault_under_another_devices_name_is_the_fakers_own_row(api, state):
    _, handle = health_handler(state.service, SITE)
    handle(_topic("kiosk-1", "kiosk-1-printer"), _report("kiosk-1-printer", True, [], kind="printer"), True)
    handle(_topic("gateway-1", "kiosk-1-printer"), _report("kiosk-1-printer", False, ["paper_out"], kind="printer"),
           True)
    rows = {(d["owner"], d["device"]): (d["ok"], d["problems"]) for d in _all(state)}
    assert rows == {("kiosk-1", "kiosk-1-printer"): (True, []), ("gateway-1", "kiosk-1-printer"): (False, ["paper_out"])}
    # the kiosk's own report of its printer is untouched, and the gateway's empty message forgets only its own
    handle(_topic("gateway-1", "kiosk-1-printer"), b"", True)
    assert [(d["owner"], d["ok"]) for d in _all(state)] == [("kiosk-1", True)]
    # the journal says who reported the fault
    journal = state.db.connection().execute(
        "SELECT actor, data FROM journal WHERE action = 'device_health' ORDER BY seq").fetchall()
    assert [(a, json.loads(d)["problems"]) for a, d in journal] == [("device:gateway-1", ["paper_out"])]


def test_the_owner_still_updates_and_forgets_its_own_devices(state):
    _, handle = health_handler(state.service, SITE)
    handle(_topic("gateway-1", "strip-1"), _report("strip-1", False, ["unplugged"]), True)
    handle(_topic("kiosk-1", "strip-1"), _report("strip-1", False, ["timeout"]), True)  # the kiosk's own row
    handle(_topic("gateway-1", "strip-1"), _report("strip-1", True, [], at="2026-11-23T09:35:00+08:00"), False)
    assert [(d["owner"], d["problems"]) for d in _console(state)] == [("kiosk-1", ["timeout"])]
    handle(_topic("gateway-1", "strip-1"), _report("strip-1", False, ["no_answer"]), False)
    assert [(d["owner"], d["problems"]) for d in _console(state)] == [("gateway-1", ["no_answer"]),
                                                                     ("kiosk-1", ["timeout"])]
    handle(_topic("gateway-1", "strip-1"), b"", True)  # the gateway no longer drives strip-1
    assert [(d["owner"], d["problems"]) for d in _all(state)] == [("kiosk-1", ["timeout"])]
    handle(_topic("kiosk-1", "strip-1"), b"", True)
    assert _all(state) == []


# -- the migration (026) ---------------------------------------------------------------------------------------

LEGACY = [  # device, kind, ok, problems: device_health as the release before 026 kept it, keyed on the name
    ("strip-1", "led_strip", 0, '["unplugged"]'),  # its fault journalled by gateway-1: owner gateway-1
    ("keypad-1", "keypad", 0, '["no_answer"]'),  # journalled first by kiosk-1, last (this state) by gateway-1
    ("kiosk-1-printer", "printer", 1, "[]"),  # an ok first report is never journalled: owner unknown
    ("strip-2", "led_strip", 0, '["timeout"]'),  # the last entry says another state: owner unknown
]
JOURNALLED = [  # actor, data (as record_health journals it)
    ("device:kiosk-1", {"device": "keypad-1", "kind": "keypad", "ok": False, "problems": ["timeout"]}),
    ("device:gateway-1", {"device": "strip-1", "kind": "led_strip", "ok": False, "problems": ["unplugged"]}),
    ("device:gateway-1", {"device": "keypad-1", "kind": "keypad", "ok": False, "problems": ["no_answer"]}),
    ("device:gateway-1", {"device": "strip-2", "kind": "led_strip", "ok": False, "problems": ["unplugged"]}),
    ("kiosk:kiosk-1", {"help_request": 1, "device": "strip-2", "place": ""}),  # not a health report
]


def _legacy_database(path, monkeypatch) -> None:
    """A database as the release before 026 left it: the schema up to 025 and device_health rows in it."""
    from queue_server import migrations
    from queue_server.db import Database

    files = migrations.migration_files()
    upto = next(i for i, f in enumerate(files) if f.name == "026_device_health_owner.sql")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    try:
        monkeypatch.setattr(migrations, "migration_files", lambda: files[:upto])
        migrations.migrate(db)
        monkeypatch.undo()
        with db.write() as conn:
            for device, kind, ok, problems in LEGACY:
                conn.execute("INSERT INTO device_health (device, kind, ok, problems, reported_at, received_at) "
                             "VALUES (?, ?, ?, ?, '2026-11-23T09:00:00+08:00', '2026-11-23T09:00:01+08:00')",
                             (device, kind, ok, problems))
            for actor, data in JOURNALLED:
                conn.execute("INSERT INTO journal (at, business_day, actor, action, data) VALUES "
                             "('2026-11-23T09:00:01+08:00', '2026-11-23', ?, ?, ?)",
                             (actor, "device_health" if actor.startswith("device:") else "help_requested",
                              json.dumps(data, separators=(",", ":"))))
    finally:
        db.close()


def test_an_existing_database_with_reports_upgrades_and_keeps_them(tmp_path, monkeypatch, clock):
    from queue_server.app import create_app

    data = tmp_path / "data"
    _legacy_database(data / "hallq.sqlite3", monkeypatch)
    app = create_app(TINY, data_dir=data, clock=clock, mqtt=False, housekeeping=False)
    state = app.extensions["hallq"]
    try:
        conn = state.db.connection()
        assert "026_device_health_owner" in {n for (n,) in conn.execute("SELECT name FROM _migrations")}
        assert conn.execute("PRAGMA integrity_check").fetchall()[0][0] == "ok"
        rows = {r["device"]: tuple(r) for r in conn.execute(
            "SELECT device, owner, kind, ok, problems, reported_at, received_at FROM device_health")}
        assert rows == {device: (device, owner, kind, ok, problems, "2026-11-23T09:00:00+08:00",
                                 "2026-11-23T09:00:01+08:00")
                        for (device, kind, ok, problems), owner in zip(LEGACY, ["gateway-1", "gateway-1", None, None])}
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):  # one row per (owner, device)
            conn.execute("INSERT INTO device_health (owner, device, kind, ok, problems, reported_at, received_at) "
                         "SELECT owner, device, kind, ok, problems, reported_at, received_at FROM device_health "
                         "WHERE device = 'strip-1'")

        _, handle = health_handler(state.service, SITE)
        # another publisher neither replaces nor forgets a report whose owner the journal told
        handle(_topic("kiosk-1", "strip-1"), _report("strip-1", True, []), True)
        handle(_topic("kiosk-1", "strip-1"), b"", True)
        handle(_topic("kiosk-1", "keypad-1"), b"", True)
        owned = {(d["owner"], d["device"]): d["problems"] for d in _console(state)}
        assert owned == {("gateway-1", "strip-1"): ["unplugged"], ("gateway-1", "keypad-1"): ["no_answer"],
                         (None, "strip-2"): ["timeout"]}
        # an empty message does not forget a row of unknown owner; the first report of its device replaces it
        handle(_topic("gateway-1", "strip-2"), b"", True)
        assert (None, "strip-2") in {(d["owner"], d["device"]) for d in _all(state)}
        handle(_topic("gateway-1", "strip-2"), _report("strip-2", True, []), True)
        handle(_topic("kiosk-1", "kiosk-1-printer"), _report("kiosk-1-printer", False, ["paper_out"], "printer"), True)
        assert {(d["owner"], d["device"]): d["problems"] for d in _all(state)} == {
            ("gateway-1", "strip-1"): ["unplugged"], ("gateway-1", "keypad-1"): ["no_answer"],
            ("gateway-1", "strip-2"): [], ("kiosk-1", "kiosk-1-printer"): ["paper_out"]}
        # and the owners go on as before
        handle(_topic("gateway-1", "strip-1"), _report("strip-1", True, []), True)
        handle(_topic("gateway-1", "keypad-1"), b"", True)
        assert [(d["owner"], d["device"]) for d in _console(state)] == [("kiosk-1", "kiosk-1-printer")]
    finally:
        state.close()

