"""A business's service-level targets at run time: the manager API, the CSV sheet, the migration, the next call.

The tiny hall: alpha has targets 8/8/40 (green/appointment/ordinary, minutes of
opening time), beta 10/10/50; three windows; ten-minute services, so no
promise below 7 minutes can be kept (hallq/targets.py).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from queue_server.domain import hall_settings
from queue_server.domain.context import Actor
from queue_server.domain.errors import Invalid
from tests.conftest import make_id

MANAGER, CLERK = "900", "101"
COLUMNS = ("green_target_minutes", "appointment_target_minutes", "ordinary_target_minutes")


def row(state, code: str = "alpha") -> dict | None:
    r = state.db.connection().execute("SELECT * FROM businesses WHERE code = ?", (code,)).fetchone()
    return dict(r) if r else None


def targets_of(state, code: str = "alpha") -> dict[str, int]:
    r = row(state, code)
    return {k: r[f"{k}_target_minutes"] for k in ("green", "appointment", "ordinary")}


# -- PUT /settings/businesses/<code> ------------------------------------------------------------

def test_a_manager_changes_one_target_and_the_others_stay(api, state):
    before = row(state)
    got = api.ok("put", "/settings/businesses/alpha", {"targets": {"green": 7}}, as_=MANAGER)
    assert got["targets"] == {"green": 7, "appointment": 8, "ordinary": 40}
    assert targets_of(state) == got["targets"]
    assert {k: v for k, v in row(state).items() if k != "green_target_minutes"} == \
        {k: v for k, v in before.items() if k != "green_target_minutes"}
    assert targets_of(state, "beta") == {"green": 10, "appointment": 10, "ordinary": 50}  # another business: untouched
    entry = state.db.connection().execute(
        "SELECT actor, business, data FROM journal WHERE action = 'config_applied' ORDER BY seq DESC LIMIT 1").fetchone()
    assert (entry["actor"], entry["business"]) == (f"staff:{MANAGER}", "alpha")
    assert json.loads(entry["data"])["changed"] == sorted(COLUMNS)  # the three are checked and written together


def test_a_clerk_may_not_change_targets(api, state):
    r = api.put("/settings/businesses/alpha", {"targets": {"green": 7}}, as_=CLERK)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    r = api.put("/settings/businesses/alpha", {"targets": {"green": 7}})
    assert r.status_code == 401
    assert targets_of(state)["green"] == 8


def test_invalid_targets_are_refused_with_every_field_and_nothing_is_written(api, state):
    before = row(state)
    r = api.put("/settings/businesses/alpha", {"daily_limit": 9, "targets": {"green": 45, "appointment": 6}},
                as_=MANAGER)
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["code"] == "invalid_targets"
    assert err["fields"] == [
        {"field": "targets.green", "problem": "45 min is looser than the ordinary target (40 min): "
                                              "a promise must be at least as tight"},
        {"field": "targets.appointment", "problem": "6 min cannot be kept by any allocation: even with all 3 "
                                                    "windows on this business (10 min a service) it needs at least 7 min"},
    ]
    assert err["detail"]["field"] == "targets.green"
    assert err["message"].startswith("绿色通道承诺（45 分钟）不能长于普通号的目标（40 分钟）")
    assert "预约 6 分钟的承诺" in err["message"]
    assert err["messages"]["zh-Hant"].startswith("綠色通道承諾") and err["messages"]["en"].startswith("targets.green:")
    assert row(state) == before  # not even the valid daily limit of the same request


def test_targets_are_checked_with_the_service_minutes_of_the_same_request(api, state):
    # 30-minute services on 3 windows need promises of 20 minutes at least: alpha's 8 cannot stand ...
    r = api.put("/settings/businesses/alpha", {"service_minutes": 30}, as_=MANAGER)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_targets"
    assert [f["field"] for f in r.get_json()["error"]["fields"]] == ["targets.green", "targets.appointment"]
    assert row(state)["service_minutes"] == 10
    # ... unless the same request loosens them
    got = api.ok("put", "/settings/businesses/alpha", {"service_minutes": 30, "targets": {"green": 20, "appointment": 25}},
                 as_=MANAGER)
    assert got["targets"] == {"green": 20, "appointment": 25, "ordinary": 40} and row(state)["service_minutes"] == 30


@pytest.mark.parametrize("targets, field", [({"green": 0}, "targets.green"), ({"ordinary": 481}, "targets.ordinary"),
                                            ({"green": "ten"}, "targets.green"), ({"elderly": 5}, "targets.elderly")])
def test_a_target_of_the_wrong_shape_is_refused_by_the_schema(api, state, targets, field):
    r = api.put("/settings/businesses/alpha", {"targets": targets}, as_=MANAGER)
    err = r.get_json()["error"]
    assert r.status_code == 400 and err["code"] == "invalid_fields"
    assert [f["field"] for f in err["fields"]] == [field]
    assert targets_of(state) == {"green": 8, "appointment": 8, "ordinary": 40}


def test_targets_of_an_unknown_business(api):
    r = api.put("/settings/businesses/gamma", {"targets": {"green": 7}}, as_=MANAGER)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_business"


def test_the_domain_refuses_what_the_schema_would_let_through(service, state):
    """update_business is also called without the API's schema: it checks the shape itself."""
    manager = Actor("staff", MANAGER, role="manager")
    for wrong in ({"elderly": 5}, [7], {"green": True}):
        with pytest.raises(Invalid) as e:
            with service.transaction(manager) as tx:
                hall_settings.update_business(tx, "alpha", {"targets": wrong})
        assert e.value.code in ("invalid_value", "invalid_targets"), wrong
    assert targets_of(state) == {"green": 8, "appointment": 8, "ordinary": 40}


def test_a_target_changed_by_the_manager_applies_to_the_next_call(api, clock):
    """Window 2 serves beta first, then alpha: an alpha ticket jumps beta's only once it is overdue."""
    api.issue("alpha")                                   # A001 at 09:30
    clock.advance(20 * 60)
    for seq in (1, 2):
        api.issue("beta", id_number=make_id(seq=seq))     # B001, B002 at 09:50
    api.open_window(2, "102")
    assert api.act(2, "call-next", "102")["ticket"]["ticket"] == "B001"  # A001 waited 20 of its 40 minutes
    api.ok("put", "/settings/businesses/alpha", {"targets": {"ordinary": 15}}, as_=MANAGER)
    called = api.act(2, "call-next", "102", {"complete_current": True})
    assert called["ticket"]["ticket"] == "A001"          # 20 minutes is now past its 15: overdue, before B002


# -- CSV --------------------------------------------------------------------------------------------

def csv_of(api) -> str:
    r = api.get("/settings/businesses.csv", as_=MANAGER)
    assert r.status_code == 200
    return r.data.decode("utf-8-sig")


def import_csv(api, text: str):
    return api.client.post("/api/v1/settings/businesses.csv", data=text.encode(),
                           headers={**api._headers(MANAGER, None), "Content-Type": "text/csv"})


def sheet(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def unsheet(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    return "\n".join([",".join(header)] + [",".join(r[h] for h in header) for r in rows]) + "\n"


def test_the_export_has_the_three_targets_and_no_age_limit(api):
    header, alpha, beta = csv_of(api).splitlines()
    assert header.split(",") == ["code", "prefix", "name_zh_hans", "name_zh_hant", "name_en", "daily_limit",
                                 "ticket_requires", "service_minutes", *COLUMNS, "active"]
    assert alpha.endswith(",10,8,8,40,1") and beta.endswith(",10,10,10,50,1")


def test_an_old_sheet_with_age_limit_minutes_sets_the_ordinary_target(api, state):
    rows = sheet(csv_of(api))
    old = [{("age_limit_minutes" if k == "ordinary_target_minutes" else k): v for k, v in r.items()
            if k not in ("green_target_minutes", "appointment_target_minutes")} for r in rows]
    old[0]["age_limit_minutes"] = "30"
    r = import_csv(api, unsheet(old))
    assert r.status_code == 200, r.get_json()
    assert targets_of(state) == {"green": 8, "appointment": 8, "ordinary": 30}  # the promises as they were
    assert targets_of(state, "beta") == {"green": 10, "appointment": 10, "ordinary": 50}


def test_blank_target_cells_keep_a_business_targets_and_give_a_new_one_the_hall_default(api, state):
    rows = sheet(csv_of(api))
    rows[0].update(green_target_minutes="", appointment_target_minutes="12", ordinary_target_minutes="")
    new = dict(rows[1], code="gamma", prefix="G", name_zh_hans="丙业务", green_target_minutes="",
               appointment_target_minutes="", ordinary_target_minutes="")
    r = import_csv(api, unsheet([*rows, new]))
    assert r.status_code == 200 and r.get_json() == {"added": 1, "updated": 2}
    assert targets_of(state) == {"green": 8, "appointment": 12, "ordinary": 40}
    assert targets_of(state, "gamma") == state.hall.config.queue.targets.as_dict() == \
        {"green": 10, "appointment": 10, "ordinary": 40}


def test_wrong_targets_in_a_sheet_are_listed_by_line_and_column_and_nothing_is_imported(api, state):
    before = [row(state), row(state, "beta")]
    rows = sheet(csv_of(api))
    rows[0].update(daily_limit="7", green_target_minutes="45")    # line 2: looser than its ordinary 40
    # line 3: a malformed cell is reported alone, not compared with the 10 it would fall back to
    rows[1].update(appointment_target_minutes="0", ordinary_target_minutes="6")
    gamma = dict(rows[1], code="gamma", prefix="G", green_target_minutes="6", appointment_target_minutes="7",
                 ordinary_target_minutes="7")               # line 4: a new business, a promise no window can keep
    r = import_csv(api, unsheet([*rows, gamma]))
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["code"] == "invalid_csv"
    assert err["detail"]["problems"] == [
        {"line": 2, "column": "green_target_minutes",
         "problem": "45 min is looser than the ordinary target (40 min): a promise must be at least as tight"},
        {"line": 3, "column": "appointment_target_minutes", "problem": "must be an integer from 1 to 480"},
        {"line": 4, "column": "green_target_minutes",
         "problem": "6 min cannot be kept by any allocation: even with all 3 windows on this business "
                    "(10 min a service) it needs at least 7 min"},
    ]
    assert "nothing was imported" in err["messages"]["en"] and "未导入任何内容" in err["message"]
    assert [row(state), row(state, "beta")] == before and row(state, "gamma") is None


def test_a_sheet_with_both_the_old_and_the_new_ordinary_column_is_refused(api, state):
    text = csv_of(api)
    header, *lines = text.splitlines()
    both = "\n".join([header + ",age_limit_minutes"] + [line + ",30" for line in lines]) + "\n"
    r = import_csv(api, both)
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["detail"]["problems"] == [
        {"line": 1, "column": "age_limit_minutes",
         "problem": "give one of age_limit_minutes and ordinary_target_minutes "
                    "(age_limit_minutes is the older name of ordinary_target_minutes)"}]
    assert targets_of(state)["ordinary"] == 40


# -- the migration ---------------------------------------------------------------------------------

def test_the_migration_renames_the_age_limit_and_keeps_existing_rows(tmp_path, monkeypatch):
    """A database of the release before the targets: its age limits become the ordinary targets."""
    from queue_server import migrations
    from queue_server.db import Database

    files = migrations.migration_files()
    upto = next(i for i, f in enumerate(files) if f.name == "013_promises.sql")
    db = Database(tmp_path / "old.sqlite3")
    try:
        monkeypatch.setattr(migrations, "migration_files", lambda: files[:upto])
        migrations.migrate(db)
        with db.write() as conn:
            conn.execute("INSERT INTO businesses (code, prefix, name, daily_limit, service_minutes, age_limit_minutes) "
                         "VALUES ('social', 'C', '{\"zh-Hans\": \"社会事务\"}', 999, 10, 25)")
            conn.execute("INSERT INTO businesses (code, prefix, name, daily_limit, service_minutes, age_limit_minutes) "
                         "VALUES ('quick', 'Q', '{\"zh-Hans\": \"快办\"}', 999, 2, 8)")
            conn.execute("INSERT INTO windows (number, name, kind) VALUES (1, '1号窗口', 'acceptance')")
            conn.execute("INSERT INTO tickets (public_id, business_day, business, origin_business, number, label, "
                         "class, state, issued_at, arrived_at, source) VALUES ('p1', '2026-11-23', 'social', "
                         "'social', 1, 'C001', 2, 'waiting', '2026-11-23T09:00:00+08:00', "
                         "'2026-11-23T09:05:00+08:00', 'kiosk:kiosk-1')")
        monkeypatch.undo()
        assert migrations.migrate(db)[0] == "013_promises"  # and the ones after it
        conn = db.connection()
        columns = [r["name"] for r in conn.execute("PRAGMA table_info(businesses)")]
        assert "age_limit_minutes" not in columns and set(COLUMNS) <= set(columns)
        b = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM businesses WHERE code = 'social'").fetchone()
        assert tuple(b) == (10, 10, 25)
        quick = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM businesses WHERE code = 'quick'").fetchone()
        assert tuple(quick) == (8, 8, 8)  # a promise never looser than the ordinary target
        t = conn.execute("SELECT arrived_at, promise_from FROM tickets").fetchone()
        assert t["promise_from"] == t["arrived_at"] == "2026-11-23T09:05:00+08:00"  # a promise starts at arrival
        assert conn.execute("SELECT promise_run FROM windows").fetchone()[0] == 0
        index = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'tickets_waiting'").fetchone()[0]
        assert "promise_from" in index
        assert migrations.migrate(db) == []  # applied once
    finally:
        db.close()


def test_a_fresh_database_has_no_age_limit_column(state):
    with pytest.raises(sqlite3.OperationalError):
        state.db.connection().execute("SELECT age_limit_minutes FROM businesses")


def test_an_unchanged_hall_file_is_applied_again_after_the_upgrade(tmp_path, clock):
    """The file was applied by the release before the targets (its hash stored bare): it is applied once more,
    so the database gets the targets the file gives, not the migration's defaults."""
    from hallq.hallconfig import load_hall
    from queue_server import hallsync
    from queue_server.db import Database
    from queue_server.domain.context import Hall
    from queue_server.migrations import migrate
    from tests.conftest import TINY

    db = Database(tmp_path / "q.sqlite3")
    try:
        migrate(db)
        hall = Hall(load_hall(TINY), clock, b"k" * 32)
        assert hallsync.apply_config(db, hall) is True
        assert hallsync.apply_config(db, hall) is False  # unchanged: live edits survive a restart
        with db.write() as conn:
            conn.execute("UPDATE businesses SET green_target_minutes = 10 WHERE code = 'alpha'")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'config_hash'", (hall.config.content_hash,))
        assert hallsync.apply_config(db, hall) is True
        row = db.connection().execute("SELECT green_target_minutes FROM businesses WHERE code = 'alpha'").fetchone()
        assert row[0] == 8  # tests/fixtures/tiny-hall: alpha promises green within 8 minutes
    finally:
        db.close()
