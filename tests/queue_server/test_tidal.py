"""Tidal windows (潮汐窗口): alert on pressure, lend a tidal window, give it back when it eases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hallq.hallconfig import TidalRule, TidalSettings
from queue_server.watch import Watch


@pytest.fixture
def rules(state):
    def use(auto: bool = True, hold: int = 10, **rule) -> None:
        rule = {"business": "alpha", "waiting_above": 3, "release_waiting_below": 1,
                "release_wait_minutes_below": 600, **rule}
        state.hall.config.tidal = TidalSettings(auto_assign=auto, hold_minutes=hold, rules=(TidalRule(**rule),))
    return use


@pytest.fixture
def watch(state):
    return Watch(state)


def journal(state, *actions):
    marks = ",".join("?" * len(actions))
    return [(r["actor"], r["action"], r["window"]) for r in state.db.connection().execute(
        f"SELECT actor, action, window FROM journal WHERE action IN ({marks}) ORDER BY seq", actions)]


def serves(api, n):
    return api.ok("get", f"/windows/{n}")["serves"]


def test_pressure_lends_the_tidal_window_and_its_next_call_follows(api, state, rules, watch):
    rules()
    api.open_window(3, "103")  # the tidal window, serving beta
    for _ in range(4):
        api.issue("alpha")
    done = watch.run_once()
    assert [c[0] for c in done["tidal"]] == ["pressure", "assign"]
    assert serves(api, 3) == ["alpha", "beta"]
    assert api.act(3, "call-next", "103")["ticket"]["ticket"] == "A001"  # the very next call
    assert journal(state, "tidal_pressure", "allocate", "tidal_assign") == [
        ("system", "tidal_pressure", None), ("system", "allocate", 3), ("system", "tidal_assign", 3)]
    alerts = api.ok("get", "/tidal", as_="900")
    assert [a["kind"] for a in alerts["alerts"]] == ["assigned", "pressure"] and alerts["unseen"] == 2
    assert alerts["alerts"][0]["window_staffed"] == 1     # 103 is signed in at window 3: the loan helps


def test_a_window_lent_with_nobody_signed_in_says_so(app, api, rules, watch):
    """Auto-assignment may have to lend an unstaffed tidal window: the manager must send a clerk there."""
    from tests.web.test_roles import Browser

    rules()
    for _ in range(4):
        api.issue("alpha")
    assert [c[0] for c in watch.run_once()["tidal"]] == ["pressure", "assign"]
    assigned = api.ok("get", "/tidal", as_="900")["alerts"][0]
    assert (assigned["kind"], assigned["window"], assigned["window_staffed"]) == ("assigned", 3, 0)
    assert "无人签到：请安排工作人员到该窗口" in Browser(app, "900").client.get("/manager/tidal").text


def test_it_is_given_back_once_eased_and_held_long_enough(api, state, rules, watch, clock):
    rules(hold=10)
    api.open_window(3, "103")
    for _ in range(4):
        api.issue("alpha")
    watch.run_once()
    for _ in range(3):  # serve three: one waits, at most release_waiting_below
        api.act(3, "call-next", "103", {"complete_current": True})
    api.act(3, "complete", "103")
    done = watch.run_once()
    assert [c[0] for c in done["tidal"]] == ["eased"]  # eased, but lent only minutes ago
    assert serves(api, 3) == ["alpha", "beta"]
    clock.set(clock.now() + timedelta(minutes=10))
    done = watch.run_once()
    assert [c[0] for c in done["tidal"]] == ["release"]
    assert serves(api, 3) == ["beta"]
    assert journal(state, "tidal_eased", "tidal_release") == [("system", "tidal_eased", None),
                                                              ("system", "tidal_release", 3)]


def test_between_the_thresholds_nothing_moves(app, api, state, rules, watch):
    rules(waiting_above=3, release_waiting_below=1)
    api.open_window(3, "103")
    for _ in range(4):
        api.issue("alpha")
    watch.run_once()
    api.act(3, "call-next", "103")
    api.act(3, "complete", "103")  # 3 waiting: not above 3, not down to 1
    assert watch.run_once().get("tidal") is None
    (p,) = api.ok("get", "/tidal", as_="900")["pressure"]
    # the figures that began it (4 waiting) and the queue as it is now (3): the manager judges by the latter
    assert (p["business"], p["waiting"], p["now"]["waiting"]) == ("alpha", 4, 3)
    from tests.web.test_roles import Browser
    page = Browser(app, "900").client.get("/manager/tidal").text
    assert "现在等候 3" in page and "触发时 4" in page


def test_an_estimated_wait_rule_triggers_too(api, rules, watch):
    rules(waiting_above=None, wait_minutes_above=15, release_wait_minutes_below=5)
    api.open_window(1, "101")  # alpha's only window: 10 minutes per resident
    api.open_window(3, "103")
    for _ in range(3):
        api.issue("alpha")
    assert [c[0] for c in watch.run_once()["tidal"]] == ["pressure", "assign"]


def test_without_auto_assign_the_manager_is_only_alerted(api, rules, watch):
    rules(auto=False)
    api.open_window(3, "103")
    for _ in range(4):
        api.issue("alpha")
    assert [c[0] for c in watch.run_once()["tidal"]] == ["pressure"]
    assert serves(api, 3) == ["beta"]
    api.ok("put", "/tidal/auto", {"auto_assign": True}, as_="900")  # the run-time switch
    assert [c[0] for c in watch.run_once()["tidal"]] == ["assign"]
    assert serves(api, 3) == ["alpha", "beta"]


def test_no_free_tidal_window_alerts_once(api, state, rules, watch):
    rules()
    api.ok("post", "/tidal/windows/3/assign", {"business": "beta"}, as_="900")  # the only tidal window is taken
    for _ in range(4):
        api.issue("alpha")
    watch.run_once()
    watch.run_once()
    kinds = [a["kind"] for a in api.ok("get", "/tidal", as_="900")["alerts"]]
    assert kinds.count("no_window") == 1 and "pressure" in kinds


def test_manual_assignments_stay_until_a_manager_releases_them(api, state, rules, watch, clock):
    rules()
    api.ok("post", "/tidal/windows/3/assign", {"business": "alpha"}, as_="900")
    assert serves(api, 3) == ["alpha", "beta"]
    clock.set(clock.now() + timedelta(hours=1))
    assert watch.run_once().get("tidal") is None
    r = api.post("/tidal/windows/3/assign", {"business": "alpha"}, as_="900")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_assigned"
    api.ok("post", "/tidal/windows/3/release", {}, as_="900")
    assert serves(api, 3) == ["beta"]
    r = api.post("/tidal/windows/1/assign", {"business": "alpha"}, as_="900")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_tidal"


def test_alerts_can_be_marked_seen(api, rules, watch):
    rules(auto=False)
    for _ in range(4):
        api.issue("alpha")
    watch.run_once()
    assert api.ok("get", "/hall/live", as_="900")["attention"]["tidal_alerts"] == 1
    assert api.ok("post", "/tidal/alerts/seen", {}, as_="900")["seen"] == 1
    assert api.ok("get", "/hall/live", as_="900")["attention"]["tidal_alerts"] == 0


def test_a_calm_hall_takes_no_write_lock(api, state, rules, watch):
    rules()
    api.issue("alpha")
    seq = state.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0]
    assert watch.run_once() == {}
    assert state.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0] == seq


def test_a_queue_no_window_serves_yet_is_judged_by_its_count_alone(api, rules, watch):
    rules(waiting_above=None, wait_minutes_above=15, release_wait_minutes_below=5)
    for _ in range(3):
        api.issue("alpha")  # nobody signed in yet: no estimate
    assert watch.run_once().get("tidal") is None
