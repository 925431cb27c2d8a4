"""How fast a simulated hall day runs: the accelerated simulator against a real server, events per second.

A whole Monday of the sample city hall (config/city-hall/simulation.toml, the
baseline scenario: ~700 residents, 17 windows) is played against a fresh
``hallq serve`` (as the simulator starts it: a throwaway database, so
``synchronous=NORMAL``; the JSON reads it from the server) with its broker
(``--broker``: by default the hall's own Mosquitto, on a free port) on a virtual clock that the simulator moves event by event;
the same day is also played on the in-memory hall, which is the engine's own
cost without HTTP or SQLite. The simulator and the server share this
machine's cores.

    .venv/bin/python bench/bench_simulation.py [--until 17:00] [--scenario baseline] [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from common import ROOT, add_broker_option, emit, labels, machine, tempdir
from hallq.client import free_port
from hallq.testing import Mosquitto

from simulation import stats
from simulation.driver import ServerHall, SteppedClock, own_server
from simulation.engine import Engine
from simulation.memory import MemoryHall
from simulation.model import plan_day
from simulation.scenario import hhmm_ms, load_simulation
from simulation.verify import verify


def own_broker_copy(simulation: Path, folder: Path) -> Path:
    """A copy of the simulation's hall folder whose own broker listens on a free port (a hall on this
    machine may hold the configured one); returns the copy's simulation file."""
    shutil.copytree(simulation.parent, folder)
    hall = folder / "hall.toml"
    if hall.exists():
        hall.write_text(re.sub(r'embedded_listen = "[^"]*"', f'embedded_listen = "127.0.0.1:{free_port()}"',
                               hall.read_text(encoding="utf-8")), encoding="utf-8")
    return folder / simulation.name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--simulation", default=str(ROOT / "config" / "city-hall" / "simulation.toml"))
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--until", default=None, help="stop calling at HH:MM (default: closing time)")
    add_broker_option(ap)
    args = ap.parse_args()
    work = tempdir()
    sim = load_simulation(own_broker_copy(Path(args.simulation), work / "config"))
    scenario = sim.scenario(args.scenario)
    until = hhmm_ms(args.until) if args.until else None
    plan = plan_day(sim, window=(-1, until or 24 * 3600_000))
    tz = ZoneInfo(sim.hall.timezone)
    day0 = datetime.combine(sim.day, dtime(0), tzinfo=tz)

    t0 = time.perf_counter()
    memory = MemoryHall(sim.hall, day0)
    mem_result = Engine(sim, plan, scenario, memory, lambda ms: memory.set_time(day0 + timedelta(milliseconds=ms)),
                        day0, end_ms=until).run()
    mem_wall = time.perf_counter() - t0

    broker = Mosquitto(work) if args.broker == "mosquitto" else None
    # "": the hall config's [mqtt], whose url is empty: hallq serve starts the hall's own Mosquitto
    mqtt_url = broker.url if broker else {"hall": "", "none": "mqtt://127.0.0.1:1"}[args.broker]
    try:
        if broker:
            broker.start()
        t_start = time.perf_counter()
        with own_server(sim, work / "server", day0 - timedelta(hours=4), mqtt_url=mqtt_url) as server:
            started = time.perf_counter() - t_start
            system = labels(server, args.broker)
            hall = ServerHall(server.url, sim)
            t0 = time.perf_counter()
            result = Engine(sim, plan, scenario, hall, SteppedClock(hall, day0), day0, end_ms=until).run()
            wall = time.perf_counter() - t0
            requests = hall.requests  # before the journal is read for the check
            rep = stats.report(result, sim.hall)
            checked = verify(result, rep, hall.journal(), sim.day.isoformat())
    finally:
        if broker:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    simulated_minutes = (result.closed_ms - result.start_ms) / 60_000
    emit({
        "benchmark": f"accelerated hall day: {sim.hall.site} {sim.day} scenario {scenario.name}, "
                     f"{rep['period']['from']}-{rep['period']['until']}",
        "system": system, "residents": len(plan.residents), "tickets": rep["totals"]["issued"],
        "server": {"wall_seconds": round(wall, 2), "events": result.events, "requests": requests,
                   "events_per_second": round(result.events / wall, 1),
                   "requests_per_second": round(requests / wall, 1),
                   "simulated_minutes_per_second": round(simulated_minutes / wall, 1),
                   "server_start_seconds": round(started, 2),
                   "journal_check": "ok" if checked["ok"] else checked["problems"][:3]},
        "memory_engine": {"wall_seconds": round(mem_wall, 3), "events": mem_result.events,
                          "events_per_second": round(mem_result.events / mem_wall, 1)},
        "figures_of_the_day": {"avg_wait_minutes": rep["totals"]["wait_minutes"]["avg"],
                               "p90_wait_minutes": rep["totals"]["wait_minutes"]["p90"],
                               "unserved": rep["totals"]["unserved"], "utilisation": rep["totals"]["utilisation"]},
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
