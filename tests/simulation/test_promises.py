"""The simulation's verdict on the promises: targets kept, bounds replayed, estimates checked, policies compared."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hallq.testing import ROOT
from simulation import cli, promises
from simulation.engine import Engine
from simulation.memory import MemoryHall
from simulation.model import Resident, plan_day
from simulation.records import CallRecord, DayResult, TicketRecord
from simulation.scenario import Scenario, load_simulation, with_policy

MIN = 60_000
CITY_SIM = ROOT / "config" / "city-hall" / "simulation.toml"


@pytest.fixture(scope="module")
def city():
    return load_simulation(CITY_SIM)


def _start(sim):
    return datetime.combine(sim.day, time(0), tzinfo=ZoneInfo(sim.hall.timezone))


@pytest.fixture(scope="module")
def baseline_day(city):
    """The city hall's Monday under the promises, in the in-memory hall (the server's policy and estimates)."""
    start = _start(city)
    hall = MemoryHall(city.hall, start)
    plan = plan_day(city, 1.0, (-1, 24 * 3600_000))
    engine = Engine(city, plan, city.scenarios[0], hall,
                    lambda ms: hall.set_time(start + timedelta(milliseconds=ms)), start)
    return engine.run()


def test_every_call_is_recorded_with_the_ticket_s_promise(baseline_day):
    called = [t for t in baseline_day.tickets if t.first_call_ms is not None]
    assert len(baseline_day.calls) >= len(called)  # re-queued and transferred tickets are called again
    first = {c.ticket: c for c in reversed(baseline_day.calls)}
    for t in called:
        assert first[t.public_id].ms == t.first_call_ms and first[t.public_id].promise_ms == t.promise_ms


def test_the_promises_hold_on_the_busy_monday(city, baseline_day):
    figures = promises.by_class(baseline_day, city.hall, _start(city))["classes"]
    assert figures["green"]["p90"] <= 15 and figures["appointment"]["p90"] <= 10
    assert figures["green"]["kept"] >= 0.9


def test_the_bound_holds_for_every_replayed_ticket(city, baseline_day):
    check = promises.bound_check(baseline_day, city.hall, _start(city), city.hall.queue.max_promises_in_a_row)
    assert check["checked"] > 600 and check["beyond_bound"] == 0, check["problems"]
    assert check["past_urgent_minutes"]["ordinary"]["n"] > 100  # the Monday really is overloaded


def _rec(label, business, klass, promise_min, call_min):
    r = Resident(key=0, business=business, arrives_ms=promise_min * MIN, service_ms=MIN, walk_ms=0, id_number="",
                 phone="", name="")
    return TicketRecord(resident=r, public_id=label, label=label, business=business, klass=klass,
                        issued_ms=promise_min * MIN, promise_ms=promise_min * MIN, first_call_ms=call_min * MIN)


def _day(tickets, calls):
    return DayResult(Scenario("s", "场景", (1,)), tickets, [], [], 0, [], 540 * MIN, 1020 * MIN, 1020 * MIN, 0, 0, [],
                     calls=calls)


def _call(t: TicketRecord, window=7, serves=("social",)):
    return CallRecord(t.first_call_ms, window, serves, t.public_id, t.business, t.klass, t.promise_ms)


def test_the_replay_catches_a_hall_that_breaks_the_rule(city):
    """An overdue ordinary ticket (target 40) passed over for one that was not urgent, and for three promises."""
    start = _start(city)
    old = _rec("C001", "social", "ordinary", 540, 640)    # 09:00, overdue from 09:40, called 10:40
    fresh = _rec("C002", "social", "ordinary", 620, 630)  # not overdue when called at 10:30
    greens = [_rec(f"C00{3 + i}", "social", "green", 600 + i, 633 + i) for i in range(3)]  # urgent from 10:05
    day = _day([old, fresh, *greens], sorted([_call(t) for t in (old, fresh, *greens)], key=lambda c: c.ms))
    check = promises.bound_check(day, city.hall, start, 2)
    broken = {(p["ticket"], p["why"]) for p in check["problems"]}
    # every urgent ticket saw C002 jump it; the overdue one also saw three promises in a row
    assert {t for t, _ in broken} == {"C001", "C003", "C004", "C005"} and check["beyond_bound"] == 4
    assert ("C001", "called a ticket that was not urgent") in broken
    assert ("C001", "3 promises in a row while an overdue ticket waited (at most 2)") in broken
    # a hall that kept the rule: the old ticket first
    fair = _rec("C001", "social", "ordinary", 540, 600)
    ok = promises.bound_check(_day([fair, *greens], [_call(t) for t in (fair, *greens)]), city.hall, start, 2)
    assert ok["beyond_bound"] == 0


def test_estimate_errors_and_the_range_s_hits_are_counted():
    t1 = _rec("A001", "commerce", "ordinary", 540, 560)  # waited 20
    t1.estimate, t1.estimate_range = 15, (10, 25)
    t2 = _rec("A002", "commerce", "green", 541, 542)     # waited 1
    t2.estimate, t2.estimate_range = 5, (3, 8)
    figures = promises.estimate_errors(_day([t1, t2], []))
    assert figures["all"]["n"] == 2 and figures["all"]["range_holds"] == 0.5
    assert figures["classes"]["ordinary"]["median_abs_error"] == 5.0
    assert figures["business_classes"]["commerce"]["green"]["p90_abs_error"] == 4.0


def test_the_estimates_meet_their_targets_on_the_busy_monday(baseline_day):
    e = promises.estimate_errors(baseline_day)["all"]
    assert e["n"] > 600
    assert e["median_abs_error"] <= 5 and e["p90_abs_error"] <= 15 and e["range_holds"] >= 0.8


def test_with_policy_sets_the_rule_in_a_copy_of_the_hall(city, tmp_path):
    old = with_policy(city, "age_limit", tmp_path)
    assert old.hall.queue.dispatch == "age_limit" and city.hall.queue.dispatch == "promises"
    assert old.hall.path.parent == tmp_path / "hall-age_limit" and old.hall.businesses == city.hall.businesses
    assert with_policy(city, "promises", tmp_path) is city


def test_compare_policies_plays_each_scenario_under_both_rules(capsys, tmp_path):
    out = tmp_path / "both.json"
    assert cli.main(["--scenario", str(CITY_SIM), "--engine", "memory", "--only", "baseline", "--compare-policies",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "旧规则(超时按到达)" in text and "新规则(承诺)" in text and "绿色通道 达标" in text
    old, new = json.loads(out.read_text())
    assert (old["policy"], new["policy"]) == ("age_limit", "promises")
    assert old["totals"]["issued"] == new["totals"]["issued"]  # the very same residents
    assert new["promises"]["classes"]["green"]["p90"] < old["promises"]["classes"]["green"]["p90"] / 3
    assert "bound" in new and "bound" not in old
