"""bench/bench_floor.py: Granian alone and the hall's GET /api/v1/health, paced, each measured on its own processes
and stopped afterwards (the figures themselves move with the host: bench/, not here)."""

from __future__ import annotations

import json
import subprocess
import sys

from hallq.testing import ROOT


def _granians() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "floor_app:app"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_one_short_run_measures_both_at_the_pace_asked_and_leaves_nothing_running():
    before = _granians()
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_floor.py"), "--runs", "1", "--seconds", "1",
                           "--rate", "40"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    run = result["runs"][0]
    for what in ("granian", "health"):
        assert 39 <= run[what]["requests"] <= 41  # 40 a second for a second, paced
        assert run[what]["server_cpu_ms_per_request"] > 0
        assert result[f"{what}_server_cpu_ms_per_request"]["median"] == run[what]["server_cpu_ms_per_request"]
    # read from the hall's server, not written by the script
    assert result["system"]["sqlite"] == {"journal_mode": "WAL", "synchronous": "FULL"}
    assert result["system"]["mqtt_link"] == "connected"
    assert _granians() == before


def test_a_pace_it_cannot_keep_is_refused_with_the_reason():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_floor.py"), "--rate", "5000"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--rate" in done.stderr
