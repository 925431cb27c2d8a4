"""Shared set-up for the benchmarks: a bench hall, a real server, timing helpers.

Every benchmark starts what it needs on free loopback ports, is bounded in
time, stops what it started and prints one JSON object. The load generator
and the server share this machine's cores: the figures say so.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launcher.processes import ServerProcess  # noqa: E402

CITY = ROOT / "config" / "city-hall"


def bench_hall(workdir: Path, extra_businesses: int = 0) -> Path:
    """The sample city hall with limits lifted so a benchmark is not stopped by 每日限号.

    ``extra_businesses`` adds queues (prefixes F, G, ...) that no window serves, to hold
    more waiting tickets than five businesses of 9,999 a day can.
    """
    target = workdir / "hall"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(CITY / "services.toml", target / "services.toml")
    text = (CITY / "hall.toml").read_text(encoding="utf-8")
    text = re.sub(r"daily_limit = \d+", "daily_limit = 9999", text)
    text = re.sub(r'ticket_requires = "[a-z_]+"', 'ticket_requires = "none"', text)
    extra = "".join(f'\n[[businesses]]\ncode = "bench{i}"\nprefix = "{chr(ord("F") + i)}"\n'
                    f'name = {{ zh-Hans = "压测{i}" }}\ndaily_limit = 9999\n' for i in range(extra_businesses))
    text = text.replace("# -- windows:", extra + "\n# -- windows:", 1)
    (target / "hall.toml").write_text(text, encoding="utf-8")
    return target / "hall.toml"


def start_server(workdir: Path, mqtt_url: str | None = None, workers: int = 1, threads: int = 8) -> ServerProcess:
    server = ServerProcess(workdir / "data", config=bench_hall(workdir), mqtt_url=mqtt_url, workers=workers,
                           threads=threads)
    server.start(timeout=30)
    return server


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {}
    s = sorted(samples_ms)

    def pct(p: float) -> float:
        return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 3)

    return {"n": len(s), "p50_ms": pct(50), "p90_ms": pct(90), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": round(s[-1], 3), "mean_ms": round(statistics.fmean(s), 3)}


def machine() -> dict:
    return {"date": date.today().isoformat(),  # noqa: DTZ011 (the day the benchmark ran, on this machine)
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "note": "server and load generator share these cores; loopback"}


def memory_mb(pid: int) -> dict[str, float]:
    """Memory of a process and its children (Granian master + workers), in MB.

    ``rss`` counts pages shared between the master and its forked workers
    twice; ``pss`` shares them out, so it is what the processes really cost.
    """
    rss = pss = 0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return {"rss": round(rss / 1024, 1), "pss": round(pss / 1024, 1), "processes": len(pids)}


def tempdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="hallq-bench-"))


def emit(result: dict) -> None:
    print(json.dumps(result, ensure_ascii=False, indent=2))
