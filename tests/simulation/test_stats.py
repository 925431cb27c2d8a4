"""The report's figures from known records: waits, percentiles, utilisation, the comparison."""

from __future__ import annotations

import pytest

from hallq.testing import ROOT
from simulation.model import Resident
from simulation.percentiles import percentile
from simulation.records import DayResult, TicketRecord, WindowRecord
from simulation.scenario import Scenario, load_simulation
from simulation.stats import compare, peak_waiting, render, report, width

MIN = 60_000


@pytest.fixture(scope="module")
def hall():
    return load_simulation(ROOT / "config" / "city-hall" / "simulation.toml").hall


def test_percentile_is_nearest_rank():
    xs = list(range(1, 11))
    assert percentile(xs, 90) == 9 and percentile(xs, 50) == 5 and percentile(xs, 100) == 10
    assert percentile([7.5], 90) == 7.5
    assert percentile([], 90) is None


def test_peak_waiting_counts_overlapping_waits():
    assert peak_waiting([(0, 10), (5, 15), (6, 7), (20, 30)]) == (3, 6)
    assert peak_waiting([]) == (0, None)


def ticket(label, business, issued_min, called_min, outcome="done", klass="ordinary"):
    r = Resident(key=0, business=business, arrives_ms=issued_min * MIN, service_ms=MIN, walk_ms=0, id_number="",
                 phone="", name="")
    return TicketRecord(resident=r, public_id=label.lower(), label=label, business=business, klass=klass,
                        issued_ms=issued_min * MIN, business_now=business,
                        first_call_ms=None if called_min is None else called_min * MIN, outcome=outcome)


def day(tickets, windows=()):
    return DayResult(Scenario("s", "场景", (1,)), tickets, list(windows), [], 0, [], 540 * MIN, 1020 * MIN,
                     1030 * MIN, 1, 5, [])


def test_report_of_a_known_day(hall):
    tickets = [ticket("C001", "social", 540, 550), ticket("C002", "social", 541, 561, klass="green"),
               ticket("C003", "social", 542, 572), ticket("C004", "social", 600, None, outcome="unserved"),
               ticket("E001", "delivery", 560, 561, outcome="no_show")]
    w = WindowRecord(7, ["social"], time={"busy": 300 * MIN, "idle": 100 * MIN, "paused": 20 * MIN, "break": 60 * MIN},
                     served=3)
    rep = report(day(tickets, [w]), hall)
    social = rep["businesses"]["social"]
    assert social["issued"] == 4 and social["served"] == 3 and social["unserved"] == 1 and social["green"] == 1
    assert social["wait_minutes"] == {"n": 3, "avg": 20.0, "p50": 20.0, "p90": 30.0, "max": 30.0}
    assert rep["businesses"]["delivery"]["no_show"] == 1
    assert rep["classes"]["green"]["avg"] == 20.0
    assert rep["windows"][0]["utilisation"] == 0.75 and rep["windows"][0]["paused_minutes"] == 80
    assert rep["totals"]["utilisation"] == 0.75
    # C001-C003 and E001 overlap, C004 waits from 10:00 to the end: at most 3 at once
    assert rep["totals"]["peak_waiting"] == 3
    assert rep["period"] == {"from": "09:00", "until": "17:00", "closed_at": "17:10"}
    text = render(rep)
    assert "社会事务" in text and "20.0" in text and "75%" in text
    assert "Social affairs" in render(rep, "en")


def test_comparison_names_the_best_scenario(hall):
    slow = report(day([ticket("C001", "social", 540, 600), ticket("C002", "social", 540, None, "unserved")]), hall)
    fast = report(day([ticket("C001", "social", 540, 545), ticket("C002", "social", 540, 550)]), hall)
    fast["scenario"]["name"] = "tidal"
    text = compare([slow, fast])
    assert "90%等候最短: tidal; 闭厅未办最少: tidal" in text
    rows = {line.split()[0] + " " + line.split()[1]: line.split()[2:] for line in text.splitlines()
            if line.startswith("社会事务")}
    assert rows["社会事务 平均等候"] == ["60.0", "7.5"]


def test_table_width_counts_chinese_as_two_columns():
    assert width("社会事务") == 8 and width("A001") == 4


def test_a_tie_is_called_a_tie(hall):
    a = report(day([ticket("C001", "social", 540, 550)]), hall)
    b = report(day([ticket("C001", "social", 540, 545)]), hall)
    b["scenario"]["name"] = "b"
    assert compare([a, b]).endswith("90%等候最短: b; 闭厅未办最少: 各方案相同")
    assert compare([a, b], "en").endswith("fewest unserved: the same in every scenario")
