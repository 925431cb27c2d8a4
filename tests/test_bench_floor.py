"""bench/bench_floor.py: Granian alone and the hall's GET /api/v1/health, paced, each measured on its own processes
and stopped afterwards (the figures themselves move with the host: bench/, not here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from hallq.testing import ROOT


def _marked(mark: str) -> list[int]:
    """Processes whose environment carries ``mark``: what this test's benchmark started, wherever they went."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_one_short_run_measures_both_at_the_pace_asked_and_leaves_nothing_running():
    mark = f"HALLQ_TEST_MARK={uuid.uuid4().hex}"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_floor.py"), "--runs", "1", "--seconds", "1",
                           "--rate", "40"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, mark.split("=")[0]: mark.split("=")[1]})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    run = result["runs"][0]
    for what in ("granian", "health"):
        # 40 a second for a second: never more (a missed slot is skipped, not made up in a burst), and the second
        # measured is the second asked for
        assert 10 <= run[what]["requests"] <= 41 and 0.95 <= run[what]["seconds"] <= 3.0, run[what]
        # /proc counts CPU in ticks of 10 ms: forty light requests may fall within one (the figure reads 0)
        assert isinstance(run[what]["server_cpu_ms_per_request"], float) and run[what]["server_cpu_ms_per_request"] >= 0
        assert result[f"{what}_server_cpu_ms_per_request"]["median"] == run[what]["server_cpu_ms_per_request"]
    # read from the hall's server, not written by the script
    assert result["system"]["sqlite"] == {"journal_mode": "WAL", "synchronous": "FULL"}
    assert result["system"]["mqtt_link"] == "connected"
    assert _marked(mark) == []  # Granian, the hall's server and its broker all stopped


def test_a_pace_it_cannot_keep_is_refused_with_the_reason():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_floor.py"), "--rate", "5000"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--rate" in done.stderr
