"""The simulation's pure parts: distributions, the arrival profile, the day's plan, the file's checks."""

from __future__ import annotations

import dataclasses
import random
import statistics
from pathlib import Path

import pytest

from hallq.hallconfig import ConfigError
from hallq.privacy import IdNumber
from hallq.testing import ROOT
from simulation.model import ArrivalProfile, Lognormal, appointment_slots, plan_day
from simulation.scenario import hhmm_ms, load_simulation

CITY_SIM = ROOT / "config" / "city-hall" / "simulation.toml"
VILLAGE_SIM = ROOT / "config" / "village-station" / "simulation.toml"
TINY_SIM = Path(__file__).parent / "tiny-day.toml"


@pytest.fixture(scope="module")
def city():
    return load_simulation(CITY_SIM)


# -- distributions ---------------------------------------------------------------------

@pytest.mark.parametrize("mean,spread", [(8, 0.6), (3, 0.4), (20, 1.0), (5, 0)])
def test_lognormal_has_the_configured_mean_and_spread(mean, spread):
    d = Lognormal(mean, spread)
    rng = random.Random(1)
    xs = [d.sample(rng) for _ in range(40_000)]
    assert statistics.fmean(xs) == pytest.approx(mean, rel=0.03)
    assert statistics.pstdev(xs) / statistics.fmean(xs) == pytest.approx(spread, abs=0.05)
    assert min(xs) > 0


def test_service_times_are_at_least_a_second():
    d = Lognormal(0.01, 2.0)
    assert min(d.sample_ms(random.Random(2)) for _ in range(1000)) >= 1000


# -- the arrival profile -------------------------------------------------------------------

def test_profile_expectations_integrate_to_the_total(city):
    p = ArrivalProfile(city.profile)
    parts = p.expected(265)
    assert sum(n for _, _, n in parts) == pytest.approx(265, abs=1e-9)
    assert p.expected_between(265, p.start_ms, p.end_ms) == pytest.approx(265, abs=1e-9)
    # the shape of the day: the morning peak is busier than the lunch gap, per minute
    peak = p.expected_between(265, hhmm_ms("09:00"), hhmm_ms("10:30")) / 90
    lunch = p.expected_between(265, hhmm_ms("12:00"), hhmm_ms("13:00")) / 60
    assert peak > 4 * lunch


def test_sampled_arrivals_average_to_the_total_and_follow_the_profile(city):
    p = ArrivalProfile(city.profile)
    counts, in_peak = [], []
    for seed in range(300):
        times = p.sample(random.Random(seed), 100)
        assert times == sorted(times)
        assert all(p.start_ms <= t < p.end_ms for t in times)
        counts.append(len(times))
        in_peak.append(sum(hhmm_ms("09:00") <= t < hhmm_ms("10:30") for t in times))
    assert statistics.fmean(counts) == pytest.approx(100, rel=0.03)
    assert statistics.fmean(in_peak) == pytest.approx(
        p.expected_between(100, hhmm_ms("09:00"), hhmm_ms("10:30")), rel=0.06)


@pytest.mark.parametrize("points", [[("09:00", 1)], [("09:00", 1), ("10:00", 2)], [("09:00", 0), ("10:00", 0)]])
def test_a_profile_must_end_with_rate_zero_and_have_some_rate(points):
    with pytest.raises(ValueError):
        ArrivalProfile(points)


# -- the day's plan ----------------------------------------------------------------------------

def key(r):
    return (r.business, r.arrives_ms, r.service_ms, r.id_number, r.misses_call, r.transfer_to, r.appointment)


def test_the_plan_is_reproducible_for_a_seed_and_changes_with_it(city):
    a, b = plan_day(city), plan_day(city)
    assert [key(r) for r in a.residents] == [key(r) for r in b.residents]
    assert [(p.window, p.at_ms) for p in a.pauses] == [(p.window, p.at_ms) for p in b.pauses]
    other = plan_day(dataclasses.replace(city, seed=city.seed + 1))
    assert [key(r) for r in other.residents] != [key(r) for r in a.residents]


def test_one_business_changing_does_not_reshuffle_the_others(city):
    busier = dataclasses.replace(city, businesses={**city.businesses, "social": dataclasses.replace(
        city.businesses["social"], walk_ins=400)})
    a, b = plan_day(city), plan_day(busier)
    commerce = lambda plan: [(r.arrives_ms, r.service_ms) for r in plan.residents if r.business == "commerce"]  # noqa: E731
    assert commerce(a) == commerce(b)
    assert len([r for r in b.residents if r.business == "social"]) > len([r for r in a.residents if r.business == "social"])


def test_residents_have_valid_unique_ids_and_elderly_ones_are_old_enough(city):
    plan = plan_day(city)
    ids = [r.id_number for r in plan.residents]
    assert len(set(ids)) == len(ids)
    age = city.hall.queue.green_channel_age
    for r in plan.residents:
        years = IdNumber.parse(r.id_number, today=city.day).age_on(city.day)
        assert (years >= age) == r.elderly, (r.id_number[:6], years, r.elderly)
    elderly_social = [r.elderly for r in plan.residents if r.business == "social"]
    assert sum(elderly_social) / len(elderly_social) == pytest.approx(city.businesses["social"].green_share, abs=0.06)


def test_bookings_respect_the_slot_capacities(city):
    plan = plan_day(city)
    rules = city.hall.appointments
    per_business: dict[tuple, int] = {}
    per_item: dict[tuple, int] = {}
    slots = set(appointment_slots(city))
    booked = [r for r in plan.residents if r.appointment]
    assert len(booked) == sum(b.appointments for b in city.businesses.values())
    for r in booked:
        item, start = r.appointment
        assert start in slots and city.hall.items[item].business == r.business
        per_business[(r.business, start)] = per_business.get((r.business, start), 0) + 1
        per_item[(item, start)] = per_item.get((item, start), 0) + 1
        # they come from 20 minutes before their slot to 5 minutes late: inside the check-in window
        assert -5 * 60_000 <= hhmm_ms(start) - r.arrives_ms <= 20 * 60_000
    assert all(n <= rules.business_capacity[b] for (b, _), n in per_business.items())
    assert all(n <= rules.capacity for n in per_item.values())


def test_too_many_bookings_are_cut_to_the_capacity_with_a_note():
    sim = load_simulation(VILLAGE_SIM)
    greedy = dataclasses.replace(sim, businesses={"general": dataclasses.replace(
        sim.businesses["general"], appointments=500)})
    plan = plan_day(greedy)
    slots = len(appointment_slots(sim))
    assert len([r for r in plan.residents if r.appointment]) == slots  # business_capacity = 1 per slot
    assert any("bookings fit" in n for n in plan.notes)


def test_pauses_fall_in_opening_hours_only(city):
    plan = plan_day(city)
    assert plan.pauses
    for p in plan.pauses:
        assert hhmm_ms("09:00") <= p.at_ms < hhmm_ms("12:00") or hhmm_ms("13:00") <= p.at_ms < hhmm_ms("17:00")


def test_shares_of_behaviour_are_drawn_as_configured():
    sim = load_simulation(CITY_SIM)
    misses = transfers = n = 0
    for seed in range(8):
        plan = plan_day(dataclasses.replace(sim, seed=seed))
        social = [r for r in plan.residents if r.business == "social" and not r.appointment]
        n += len(social)
        misses += sum(r.misses_call for r in social)
        transfers += sum(r.transfer_to == "delivery" for r in social)
    assert misses / n == pytest.approx(sim.businesses["social"].no_show, abs=0.015)
    assert transfers / n == pytest.approx(sim.businesses["social"].transfer["delivery"], abs=0.01)


def test_arrival_scale_and_a_time_window_cut_the_day(city):
    full = plan_day(city)
    gentle = plan_day(city, arrival_scale=0.25)
    assert 0.15 * len(full.residents) < len(gentle.residents) < 0.35 * len(full.residents)
    morning = plan_day(city, window=(hhmm_ms("09:00"), hhmm_ms("10:00")))
    assert morning.residents and all(hhmm_ms("09:00") <= r.arrives_ms < hhmm_ms("10:00") for r in morning.residents)
    assert [r.key for r in morning.residents] == list(range(1, len(morning.residents) + 1))


# -- the file ------------------------------------------------------------------------------------

def test_the_sample_files_load(city):
    assert city.hall.site == "liupanshui" and city.manager == "2001"
    assert city.staff[7] == "1007" and city.staff[20] == "1020"
    assert [s.name for s in city.scenarios][:2] == ["baseline", "tidal-social-0930"]
    assert load_simulation(VILLAGE_SIM).staff == {1: "3002", 2: "3001"}
    assert load_simulation(TINY_SIM).hall.site == "tiny"


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "sim.toml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = f"""
[simulation]
hall = "{(ROOT / 'config' / 'city-hall' / 'hall.toml').as_posix()}"
date = "2026-11-23"
[arrivals.profile]
"09:00" = 1
"10:00" = 0
[businesses.social]
walk_ins = 10
service_minutes = {{ mean = 8 }}
"""


def test_every_mistake_is_reported_at_once_with_file_and_key(tmp_path):
    bad = BASE.replace('"10:00" = 0', '"10:00" = 2').replace("walk_ins = 10", "walk_ins = 10\ntransfer = { socail = 0.1 }")
    bad += """
[day]
open_windows = [1, 21]
recalls = 9
[[scenarios]]
name = "x"
changes = [{ at = "09:30", window = 30, serves = ["nope"] }, { at = "10:00", window = 1 }]
"""
    with pytest.raises(ConfigError) as e:
        load_simulation(write(tmp_path, bad))
    text = str(e.value)
    for expected in ('sim.toml: arrivals.profile.10:00: the last time ends the arrivals: its rate must be 0',
                     'businesses.social.transfer.socail: unknown business "socail"',
                     "day.open_windows[1]: no window 21 in the hall (windows 1-20)",
                     "day.recalls: the hall allows at most 3 recalls",
                     "scenarios[name=x].changes[0].window: no window 30",
                     'scenarios[name=x].changes[0].serves[0]: unknown business "nope"',
                     "scenarios[name=x].changes[1]: say what changes: serves, staffed or both"):
        assert expected in text, text


def test_a_day_the_hall_is_closed_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="simulation.date: the hall is closed on 2026-11-22"):  # a Sunday
        load_simulation(write(tmp_path, BASE.replace('date = "2026-11-23"', 'date = "2026-11-22"')))


def test_unknown_keys_and_wrong_types_are_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_simulation(write(tmp_path, BASE.replace("walk_ins = 10", 'walk_ins = "ten"\nwalkins = 3')))
    assert "businesses.social.walk_ins: must be an integer" in str(e.value)
    assert "businesses.social.walkins: is not a known field" in str(e.value)
