"""Every generated block of figures in the docs matches the committed JSON it was made from (bench/docs_figures.py).

And the helpers behind them, without running a benchmark: the median and spread of a figure over runs,
which committed run the docs show, how a run's labels (read from the server) are rendered, and that every
benchmark that starts a server takes ``--broker``.
"""

from __future__ import annotations

import json
import sys

import pytest

from hallq.testing import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import docs_figures
import run_all
from spread import fmt_spread, pick, spread


@pytest.mark.parametrize("name", list(docs_figures.BLOCKS))
def test_the_docs_show_the_committed_figures(name):
    assert docs_figures.block(name) == docs_figures.rendered(name).rstrip("\n"), (
        f"{name}: the doc and its JSON disagree; run .venv/bin/python bench/docs_figures.py")


def test_a_figure_is_the_median_of_its_runs_with_min_and_max():
    assert spread([900.0, 1032.5, 688.0]) == {"median": 900.0, "min": 688.0, "max": 1032.5,
                                              "runs": [900.0, 1032.5, 688.0]}
    assert spread([1.0, 2.0, 4.0, 10.0])["median"] == 3.0
    assert fmt_spread([900.0, 1032.5, 688.0], 0, "/s") == "900/s (688–1,032)"
    assert fmt_spread([12.25], 1, " ms") == "12.2 ms (1 run)"
    with pytest.raises(ValueError):
        spread([])
    assert pick({"latency": {"p99_ms": 21}}, ("latency", "p99_ms")) == 21.0
    assert pick({"rss": [{"mb": 1}, {"mb": 2}]}, ("rss", -1, "mb")) == 2.0
    assert pick({"latency": {}}, ("latency", "p99_ms")) is None
    assert pick({"ok": True}, ("ok",)) is None  # a flag is not a figure


SYSTEM = {"hallq_version": "0.1.0", "broker_choice": "hall", "broker": "embedded 127.0.0.1:40000",
          "mqtt_link": "connected", "sqlite": {"journal_mode": "WAL", "synchronous": "FULL"},
          "server": {"workers": 1, "threads": 8}}


def a_run(tickets_per_second: float, p99: float, ok: bool = True) -> dict:
    result = {"system": SYSTEM, "wrk": {"tickets_per_second": tickets_per_second, "latency": {"p99_ms": p99}},
              "python": {"tickets_per_second": tickets_per_second / 2, "latency": {"p99_ms": p99 * 2}}}
    return {"ok": ok, "seconds": 20.0, "exit_code": 0 if ok else 1, **({"result": result} if ok else {})}


def run_file(folder, name: str, generated: str, **extra) -> dict:
    data = {"format": 2, "generated": generated, "command": "bench/run_all.py --runs 3", "runs_per_benchmark": 3,
            "quick": False, "machine": {"cpus": 2, "cpu_model": "Test CPU", "load_average_1_5_15": [0.1, 0.2, 0.3]},
            "git": "abc1234", "uncommitted_changes": False,
            "benchmarks": {"issue": {"script": "bench_issue.py", "arguments": [], "ok": False,
                                     "runs": [a_run(1600, 25), a_run(1400, 35), a_run(0, 0, ok=False)]}},
            **extra}
    (folder / name).write_text(json.dumps(data), encoding="utf-8")
    return data


def test_each_figure_comes_from_the_newest_full_run_of_its_benchmark_never_a_quick_or_older_format(tmp_path):
    assert docs_figures.newest_runs(tmp_path) == []
    (tmp_path / "performance-2026-11-22.json").write_text(json.dumps({"benchmarks": {}}))  # before format 2
    assert docs_figures.newest_runs(tmp_path) == []
    run_file(tmp_path, "performance-2026-12-07.json", "2026-12-07T10:00:00+00:00")
    run_file(tmp_path, "performance-2026-12-08.json", "2026-12-08T10:00:00+00:00", quick=True)
    assert [p.name for p in docs_figures.newest_runs(tmp_path)] == ["performance-2026-12-07.json"]
    run_file(tmp_path, "performance-2026-12-09.json", "2026-12-09T10:00:00+00:00")
    assert [p.name for p in docs_figures.newest_runs(tmp_path)] == ["performance-2026-12-09.json"]
    # a later run of another benchmark only: its figures join, the issue figures stay those of 12-09
    later = run_file(tmp_path, "performance-2026-12-10.json", "2026-12-10T10:00:00+00:00", git="def5678")
    later["benchmarks"] = {"call": {"script": "bench_call.py", "arguments": [], "ok": True,
                                    "runs": [{"ok": True, "seconds": 9.0, "exit_code": 0,
                                              "result": {"system": SYSTEM, "latency": {"p99_ms": p}}}
                                             for p in (7.0, 9.0, 8.0)]}}
    (tmp_path / "performance-2026-12-10.json").write_text(json.dumps(later), encoding="utf-8")
    runs = docs_figures.newest_runs(tmp_path)
    assert [p.name for p in runs] == ["performance-2026-12-10.json", "performance-2026-12-09.json"]
    text = docs_figures._summary(runs)
    assert "1. Generated from [`performance-2026-12-10.json`]" in text and "def5678" in text
    assert "2. Generated from [`performance-2026-12-09.json`]" in text
    wrk = next(line for line in text.splitlines() if line.startswith("| tickets issued per second, `wrk`"))
    assert "1,500/s (1,400–1,600)" in wrk and wrk.endswith("| 2 | met |")
    p99 = next(line for line in text.splitlines() if line.startswith("| call next → call event"))
    assert "8.0 ms (7.0–9.0)" in p99 and p99.endswith("| 1 | met |")
    readme = docs_figures._readme(runs)
    assert "8.0 ms (7.0–9.0) (target ≤ 20 ms)" in readme and "1,500/s (1,400–1,600)" in readme
    assert "performance-2026-12-10.json" in readme and "performance-2026-12-09.json" in readme
    assert "board RSS after 100,000 events: not measured" in readme


def test_without_a_committed_run_the_blocks_say_so_instead_of_a_figure():
    assert "No committed run" in docs_figures._summary([])
    assert "No committed run" in docs_figures._readme([])


def test_the_summary_shows_median_spread_runs_and_the_labels_the_server_reported(tmp_path):
    run_file(tmp_path, "performance-2026-12-07.json", "2026-12-07T10:00:00+00:00")
    text = docs_figures._summary([tmp_path / "performance-2026-12-07.json"])
    row = next(line for line in text.splitlines() if line.startswith("| tickets issued per second, `wrk`"))
    assert "1,500/s (1,400–1,600)" in row and "| 2 of 3 |" in row and "| met |" in row
    assert "hall's own broker; `synchronous=FULL`, WAL; 1×8" in row
    p99 = next(line for line in text.splitlines() if line.startswith("| issue latency p99, `wrk`"))
    assert "30.0 ms (25.0–35.0)" in p99 and "**not met**" not in p99  # 30 ≤ 30
    python = next(line for line in text.splitlines() if line.startswith("| tickets issued per second, Python"))
    assert "750/s" in python and "**not met**" in python
    assert "abc1234" in text and "Test CPU" in text and "3 runs of each benchmark" in text
    readme = docs_figures._readme([tmp_path / "performance-2026-12-07.json"])
    assert "1,500/s (1,400–1,600) (target ≥ 1,500/s)" in readme


def test_a_server_that_did_not_publish_is_labelled_so():
    result = {"system": {**SYSTEM, "broker_choice": "none", "mqtt_link": "disconnected"}}
    assert docs_figures.as_run(result).startswith("no broker (disconnected);")
    assert docs_figures.as_run({}) == "no server"


def test_every_benchmark_that_starts_a_server_takes_the_broker_option():
    for script in run_all.scripts():
        text = script.read_text(encoding="utf-8")
        if any(call in text for call in ("start_server(", "BenchServer(", "own_server(")):
            assert run_all.takes_broker(script), f"{script.name} starts a server but takes no --broker"
    names = {p.stem.removeprefix("bench_") for p in run_all.scripts()}
    assert set(run_all.QUICK) <= names, f"run_all.QUICK names no benchmark: {set(run_all.QUICK) - names}"


def test_the_wrk_script_sends_a_new_idempotency_key_and_the_device_key_with_every_request():
    lua = (ROOT / "bench" / "wrk" / "issue.lua").read_text(encoding="utf-8")
    assert '["Idempotency-Key"] = prefix .. counter' in lua and "counter = counter + 1" in lua
    assert '["Authorization"] = "Bearer " .. device_key' in lua


def test_the_machine_speed_taken_before_each_run_is_shown_with_the_figures(tmp_path):
    data = run_file(tmp_path, "performance-2026-12-07.json", "2026-12-07T10:00:00+00:00")
    assert "reference work" not in docs_figures._summary([tmp_path / "performance-2026-12-07.json"])  # older files
    for run, ms in zip(data["benchmarks"]["issue"]["runs"], (120.0, 80.0, 95.0)):
        run["calibration_ms"] = ms
    (tmp_path / "performance-2026-12-07.json").write_text(json.dumps(data), encoding="utf-8")
    text = docs_figures._summary([tmp_path / "performance-2026-12-07.json"])
    assert "the reference work of `bench/calibrate.py` took 95 ms (80–120) of CPU" in text


def test_the_reference_work_is_timed_in_cpu_time_and_is_the_same_work_each_time():
    import calibrate

    assert calibrate._work() == calibrate._work()  # a fixed amount of work, not a fixed time
    assert calibrate.calibration_ms(rounds=1) > 0


def test_the_call_script_gives_each_window_its_own_token_and_every_request_a_new_key():
    lua = (ROOT / "bench" / "wrk" / "call.lua").read_text(encoding="utf-8")
    assert '["Idempotency-Key"] = prefix .. counter' in lua and "counter = counter + 1" in lua
    assert '["Authorization"] = "Bearer " .. w.token' in lua and "'{\"complete_current\":true}'" in lua
    assert '"/api/v1/windows/" .. number .. "/call-next"' in lua


def test_a_wrk_run_counts_only_the_answers_without_an_error_status():
    from common import wrk_figures

    r = {"requests": 1000, "duration_us": 2_000_000, "errors": {"connect": 0, "read": 0, "write": 0, "status": 100,
                                                                 "timeout": 0},
         "latency_us": {"p50": 1500, "p99": 12_345}}
    f = wrk_figures(r, "call")
    assert f["calls_per_second"] == 450.0 and f["ok"] == 900  # (1,000 - 100 refused) in 2 s
    assert f["latency"] == {"n": 1000, "p50_ms": 1.5, "p99_ms": 12.345} and f["errors"] == {"status": 100}
