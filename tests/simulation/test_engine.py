"""The engine's people and clerks, played against the in-memory hall (fast, no server).

The in-memory hall refuses what the server refuses (calling with a ticket
still open, pausing a paused window, signing out while busy...), and the
engine treats any refusal as losing the window: a run with no lost window
and no note is a run in which the engine never asked for anything wrong.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hallq.testing import ROOT
from simulation import stats
from simulation.engine import Engine
from simulation.memory import MemoryHall
from simulation.model import plan_day
from simulation.scenario import hhmm_ms, load_simulation

CITY_SIM = ROOT / "config" / "city-hall" / "simulation.toml"
TINY_SIM = Path(__file__).parent / "tiny-day.toml"


class LoggingHall(MemoryHall):
    """The in-memory hall, writing down every action with its time."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.log: list[tuple[int, str, int]] = []

    def _ms(self) -> int:
        return round((self.now - self.day0) / timedelta(milliseconds=1))

    def call_next(self, number, complete_current):
        r = super().call_next(number, complete_current)
        if r is not None:
            self.log.append((self._ms(), "call", number))
        return r

    def pause(self, number, reason):
        self.log.append((self._ms(), f"pause:{reason}", number))
        return super().pause(number, reason)

    def sign_out(self, number):
        self.log.append((self._ms(), "sign_out", number))
        return super().sign_out(number)


def play(sim, scenario_name: str, **kw):
    tz = ZoneInfo(sim.hall.timezone)
    day0 = datetime.combine(sim.day, datetime.min.time(), tzinfo=tz)
    hall = LoggingHall(sim.hall, day0)
    hall.day0 = day0
    engine = Engine(sim, plan_day(sim), sim.scenario(scenario_name), hall,
                    lambda ms: hall.set_time(day0 + timedelta(milliseconds=ms)), day0, **kw)
    result = engine.run()
    return result, stats.report(result, sim.hall), hall


@pytest.fixture(scope="module")
def city():
    return load_simulation(CITY_SIM)


@pytest.fixture(scope="module")
def city_day(city):
    return play(city, "tidal-morning-peak")


def test_a_whole_day_runs_without_a_refused_action(city_day):
    result, rep, _ = city_day
    assert not [w.number for w in result.windows if w.lost]
    assert result.notes == []
    assert {t.outcome for t in result.tickets} <= {"done", "no_show", "unserved"}
    assert rep["totals"]["issued"] == len(result.tickets) > 600
    assert rep["totals"]["served"] + rep["totals"]["no_show"] + rep["totals"]["unserved"] == rep["totals"]["issued"]
    assert rep["totals"]["unserved"] == result.expired_at_close


def test_nobody_is_called_over_lunch_or_after_closing(city_day):
    _, _, hall = city_day
    calls = [t for t, kind, _ in hall.log if kind == "call"]
    assert calls
    assert not [t for t in calls if hhmm_ms("12:00") <= t < hhmm_ms("13:00")]
    assert not [t for t in calls if t >= hhmm_ms("17:00")]
    lunch = {n for t, kind, n in hall.log if kind == "pause:午休"}
    assert lunch >= {1, 7, 13, 19}  # every staffed window breaks for lunch


def test_staff_pause_and_windows_sign_out_at_closing(city_day):
    result, rep, hall = city_day
    assert any(kind == "pause:休息" for _, kind, _ in hall.log)
    signed_out = {n for t, kind, n in hall.log if kind == "sign_out" and t >= hhmm_ms("17:00")}
    assert signed_out >= set(range(1, 16)) | {19, 20}
    assert all(w.mode == "off" for w in result.windows)


def test_a_tidal_change_moves_windows_and_they_serve(city_day):
    result, rep, hall = city_day
    tidal = {w["number"]: w for w in rep["windows"] if w["number"] in (16, 17, 18)}
    assert set(tidal) == {16, 17, 18} and all(w["served"] > 5 for w in tidal.values())
    # signed out at 11:30 (after the current resident), and never called again
    for n in (16, 17, 18):
        out = [t for t, kind, m in hall.log if kind == "sign_out" and m == n]
        assert out and hhmm_ms("11:30") <= out[0] < hhmm_ms("12:00")
        assert not [t for t, kind, m in hall.log if kind == "call" and m == n and t > out[0]]


def test_the_same_seed_gives_the_same_day_and_scenarios_share_residents(city):
    a = play(city, "baseline")[1]
    b = play(city, "baseline")[1]
    assert a == b
    tidal = play(city, "tidal-social-0930")[1]
    assert tidal["totals"]["issued"] == a["totals"]["issued"]
    # the tidal windows cut the social affairs wait a lot
    assert tidal["businesses"]["social"]["wait_minutes"]["avg"] < 0.6 * a["businesses"]["social"]["wait_minutes"]["avg"]


def test_no_shows_are_recalled_then_missed_and_some_come_back(city_day):
    result, rep, _ = city_day
    missed = [t for t in result.tickets if t.resident.misses_call and t.first_call_ms is not None]
    stayed_away = [t for t in missed if not t.requeues]
    assert stayed_away and all(t.recalls == 2 and t.outcome == "no_show" for t in stayed_away)
    assert rep["totals"]["requeued"] > 0
    back = [t for t in missed if t.requeues]
    assert back and all(t.outcome in ("done", "unserved") for t in back)
    refused = [t for t in missed if t.requeue_refused]
    assert all(t.resident.returns_after_ms > 30 * 60_000 for t in refused)  # beyond the grace period


def test_transfers_keep_the_ticket_and_serve_it_at_the_other_business(city_day):
    result, _, _ = city_day
    moved = [t for t in result.tickets if t.transferred and t.outcome == "done"]
    assert moved
    assert all(t.business_now == t.resident.transfer_to != t.business for t in moved)


def test_a_short_run_stops_calling_at_until_and_leaves_the_rest_unserved():
    sim = load_simulation(TINY_SIM)
    result, rep, hall = play(sim, "baseline", end_ms=hhmm_ms("09:30"))
    assert not [t for t, kind, _ in hall.log if kind == "call" and t >= hhmm_ms("09:30")]
    assert rep["totals"]["unserved"] > 0 and rep["totals"]["unserved"] == result.expired_at_close
    assert rep["period"]["until"] == "09:30"


def test_the_day_limit_turns_residents_away():
    sim = load_simulation(TINY_SIM)
    busy = dataclasses.replace(sim, businesses={**sim.businesses, "alpha": dataclasses.replace(
        sim.businesses["alpha"], walk_ins=30)})
    result, rep, _ = play(busy, "baseline")
    assert rep["businesses"]["alpha"]["issued"] == 5  # 每日限号 5 in the tiny hall
    assert rep["totals"]["turned_away"]["daily_limit_reached"] > 10


def test_a_change_timed_before_the_day_starts_is_in_force_from_the_start(city):
    result, rep, _ = play(city, "social-helps-delivery-off")
    twelve = next(w for w in result.windows if w.number == 12)
    assert twelve.serves == ["social"]
    assert not [t for t in result.tickets if t.first_window == 12 and t.business == "delivery"]
    baseline = play(city, "baseline")[0]
    assert [t for t in baseline.tickets if t.first_window == 12 and t.business == "delivery"]
