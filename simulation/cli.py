"""``hallq simulate``: a virtual hall day against the real server; scenarios compared side by side.

Two speeds:

* ``--speed max`` (default): each scenario gets a fresh server on a virtual
  clock that the simulator moves event by event; a whole day takes about a
  minute. The report is checked against the server's journal.
* ``--speed 1`` (or another rate): against a running server (``--server``),
  in its own time: the demo (``hallq start``) runs it so the boards and the
  voice come alive. ``--forever`` plays one day after another.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger("hallq.simulate")

EXAMPLE = "hallq simulate --scenario config/city-hall/simulation.toml --only baseline,tidal-social-0930"


def _windows(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.strip().partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--scenario", metavar="FILE", help="simulation file (default: simulation.toml beside the hall config)")
    s.add_argument("--config", help="hall config file (default: the simulation file's hall)")
    s.add_argument("--only", metavar="NAMES", help="comma-separated scenarios to run (default: all)")
    s.add_argument("--speed", default="max", help="'max' (virtual clock moved event by event; default) or a rate "
                   "of the server's clock: 1 = real time against a running server")
    s.add_argument("--server", metavar="URL", help="drive this running server instead of starting one per scenario")
    s.add_argument("--engine", choices=["server", "memory"], default="server",
                   help="'memory': a quick in-memory preview without a server (not the server's full rules)")
    s.add_argument("--seed", type=int, help="override the file's seed")
    s.add_argument("--date", help="override the simulated day (YYYY-MM-DD, a working day)")
    s.add_argument("--from", dest="from_", metavar="HH:MM", help="start the day here (short runs)")
    s.add_argument("--until", metavar="HH:MM", help="windows stop calling here (default: closing time)")
    s.add_argument("--arrival-scale", type=float, default=1.0, help="multiply arrivals and bookings (demo: 0.25)")
    s.add_argument("--windows", metavar="LIST", help="only these windows are staffed, e.g. 7-15,19,20; "
                   "only their primary businesses get residents")
    s.add_argument("--forever", action="store_true", help="with --speed 1: play one day after another")
    s.add_argument("--json", metavar="FILE", help="write the reports as JSON ('-' for standard output)")
    s.add_argument("--lang", choices=["zh-Hans", "zh-Hant", "en"], default="zh-Hans", help="language of the tables")
    s.add_argument("--data-dir", metavar="DIR", help="keep the scenario servers' databases here (default: removed)")
    s.add_argument("--mqtt-url", metavar="URL", help="a broker for the scenario servers (to watch a board)")
    s.add_argument("--no-verify", action="store_true", help="skip the check against the server's journal")
    s.add_argument("--compare-policies", action="store_true",
                   help="play every scenario under the previous dispatch rule (age_limit) and the promises, "
                        "and compare them side by side")


def register(add) -> None:
    s = add("simulate", cmd_simulate, "a virtual hall day against the real server; compare window allocations",
            EXAMPLE)
    add_arguments(s)


def hall_parts(args) -> list[tuple[str, list[str], bool]]:
    """For ``hallq start``: a gentle simulated day against the demo hall, so the board and voice come alive."""
    from hallq.hallconfig import ConfigError
    from hallq.settings import config_path
    from simulation.scenario import load_simulation

    hall = Path(config_path(getattr(args, "config", None)))
    path = hall.parent / "simulation.toml"
    if not path.exists():
        return []
    try:
        first = load_simulation(path, hall).scenarios[0].name
    except ConfigError as e:
        log.warning("not simulating residents in the demo: %s", e)
        return []
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    argv = ["simulate", "--scenario", str(path), "--config", str(hall), "--server", f"http://{host}:{args.port}",
            "--speed", "1", "--arrival-scale", "0.25", "--forever", "--only", first]
    # the residents go to social affairs, online and delivery (windows 7-14, 19, 20); windows 1-6 and
    # 15-18 stay free for people trying the staff console (accounts 1001-1006, 1015-1018)
    if hall.parent.name == "city-hall":
        argv += ["--windows", "7-14,19,20"]
    return [("simulation", argv, True)]


# -- the command --------------------------------------------------------------------------------

def cmd_simulate(args: argparse.Namespace) -> int:
    """Play a hall day: residents arrive by the hour, clerks call, serve, pause; report waits and utilisation.

    Scenarios in the simulation file change window allocations at given
    times ("two tidal windows on social affairs from 09:30"); each runs with
    the very same residents, and the reports are compared side by side.
    """
    from hallq.hallconfig import ConfigError
    from hallq.settings import config_path
    from simulation.driver import SimulationError
    from simulation.scenario import load_simulation

    path = Path(args.scenario) if args.scenario else Path(config_path(args.config)).parent / "simulation.toml"
    try:
        sim = load_simulation(path, args.config if args.scenario else None)
    except ConfigError as e:
        print(f"hallq simulate: the simulation file has problems:\n{e}", file=sys.stderr)
        return 2
    try:
        sim, scenarios = _adjust(sim, args)
    except ValueError as e:
        print(f"hallq simulate: {e}", file=sys.stderr)
        return 2
    try:
        if args.speed != "max":
            return _paced(sim, scenarios[0], args)
        if args.compare_policies:
            reports = _both_policies(sim, scenarios, args)
        else:
            reports = [_accelerated(sim, sc, args) for sc in scenarios]
    except SimulationError as e:
        print(f"hallq simulate: {e}", file=sys.stderr)
        return 1
    _output(reports, args)
    failed = [r["scenario"]["name"] for r in reports if not r.get("verified", {"ok": True})["ok"]]
    if failed:
        print(f"hallq simulate: the journal disagrees with the run of {', '.join(failed)} (see 'verified' in "
              "the JSON): please report this", file=sys.stderr)
        return 1
    return 0


def _adjust(sim, args):
    """Apply the command line to the loaded file: seed, date, windows, scenarios."""
    from simulation.scenario import hhmm_ms

    if args.seed is not None:
        sim = dataclasses.replace(sim, seed=args.seed)
    if args.date:
        day = datetime.strptime(args.date, "%Y-%m-%d").date()  # noqa: DTZ007 (only the date is kept)
        if not sim.hall.hours.periods_on(day):
            raise ValueError(f"--date {args.date}: the hall is closed that day")
        sim = dataclasses.replace(sim, day=day)
    scenarios = sim.scenarios
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in {s.name for s in scenarios}]
        if unknown:
            raise ValueError(f"--only: unknown scenarios {unknown} (known: {', '.join(s.name for s in scenarios)})")
        scenarios = [s for s in scenarios if s.name in wanted]
    if args.windows:
        keep = _windows(args.windows)
        missing = [n for n in keep if n not in sim.staff]
        if missing:
            raise ValueError(f"--windows: no window or no account for {missing}")
        scenarios = [dataclasses.replace(s, open_windows=tuple(n for n in s.open_windows if n in keep)) for s in scenarios]
        primary = {sim.hall.windows[n].serves[0] for n in keep if sim.hall.windows[n].serves}
        sim = dataclasses.replace(sim, businesses={k: v for k, v in sim.businesses.items() if k in primary})
    if args.speed != "max":
        if len(scenarios) > 1:
            scenarios = scenarios[:1]
            log.info("real-time mode plays one scenario: %s", scenarios[0].name)
        try:
            if float(args.speed) <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"--speed {args.speed!r}: use 'max' or a positive rate such as 1") from None
    elif args.server and len(scenarios) > 1:
        raise ValueError("--server runs one scenario (each needs a fresh day); choose it with --only, "
                         "or leave --server out to start a server per scenario")
    for opt in ("from_", "until"):
        if getattr(args, opt):
            hhmm_ms(getattr(args, opt))
    return sim, scenarios


def _both_policies(sim, scenarios, args) -> list[dict]:
    """Each scenario under the previous rule, then under the promises: the same residents, two rules."""
    from simulation.scenario import with_policy

    root = Path(tempfile.mkdtemp(prefix="hallq-policies-"))
    try:
        sims = {p: with_policy(sim, p, root) for p in ("age_limit", "promises")}
        return [_accelerated(sims[p], sc, args) for sc in scenarios for p in ("age_limit", "promises")]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _span(sim, args) -> tuple[int | None, int | None]:
    from simulation.scenario import hhmm_ms

    return (hhmm_ms(args.from_) if args.from_ else None, hhmm_ms(args.until) if args.until else None)


def _accelerated(sim, scenario, args) -> dict:
    from simulation import stats
    from simulation.driver import ServerHall, SimulationError, SteppedClock, own_server
    from simulation.engine import Engine
    from simulation.memory import MemoryHall
    from simulation.model import plan_day
    from simulation.verify import verify

    start, until = _span(sim, args)
    plan = plan_day(sim, args.arrival_scale, (start if start is not None else -1, until or 24 * 3600_000))
    tz = ZoneInfo(sim.hall.timezone)
    day_start = datetime.combine(sim.day, dtime(0), tzinfo=tz)
    poll = 120_000 if scenario.tidal_auto else None
    t0 = time.perf_counter()
    if args.engine == "memory":
        hall = MemoryHall(sim.hall, day_start)
        engine = Engine(sim, plan, scenario, hall, lambda ms: hall.set_time(day_start + timedelta(milliseconds=ms)),
                        day_start, start, until, poll_idle_ms=poll)
        result = engine.run()
        return stats.report(result, sim.hall, {"engine": "memory", "wall_seconds": round(time.perf_counter() - t0, 2)})

    def play(url: str) -> dict:
        t0 = time.perf_counter()
        hall = ServerHall(url, sim)
        engine = Engine(sim, plan, scenario, hall, SteppedClock(hall, day_start), day_start, start, until,
                        poll_idle_ms=poll)
        result = engine.run()
        wall = time.perf_counter() - t0
        rep = stats.report(result, sim.hall, {"engine": "server", "wall_seconds": round(wall, 2),
                                              "requests": hall.requests,
                                              "events_per_second": round(result.events / wall, 1)})
        if not args.no_verify:
            rep["verified"] = verify(result, rep, hall.journal(), sim.day.isoformat())
        return rep

    if args.server:
        from hallq.client import HallClient

        if not HallClient(args.server).get("/clock").get("virtual"):
            raise SimulationError(f"{args.server} runs on the real clock: start it with --virtual-clock, or use "
                                  "--speed 1, or leave --server out (a fresh server per scenario)")
        return play(args.server)
    root = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="hallq-sim-"))
    log.info("scenario %s: starting a server on %s", scenario.name, root / scenario.name)
    try:
        with own_server(sim, root / scenario.name, day_start - timedelta(hours=4), args.mqtt_url) as server:
            return play(server.url)
    finally:
        if not args.data_dir:
            shutil.rmtree(root, ignore_errors=True)


def _paced(sim, scenario, args) -> int:
    """The server's own time: plan today, play it as the clock runs; with --forever, day after day."""
    from hallq.client import HallClient
    from simulation import stats
    from simulation.driver import PacedClock, ServerHall, SimulationError
    from simulation.engine import Engine
    from simulation.model import plan_day

    url = args.server or "http://127.0.0.1:8080"
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
    client = HallClient(url, retries=5)
    tz = ZoneInfo(sim.hall.timezone)
    clock = client.get("/clock")
    if not clock.get("virtual") and float(args.speed) != 1:
        raise SimulationError(f"{url} runs on the real clock: --speed {args.speed} needs a server started with "
                              "--virtual-clock")
    if clock.get("virtual") and float(args.speed) != float(clock.get("rate", 1)):
        ServerHall(url, sim).set_time_rate(datetime.fromisoformat(clock["now"]), int(float(args.speed)))
    hall_site = client.hall().get("site")
    if hall_site and hall_site != sim.hall.site:
        raise SimulationError(f"{url} serves the hall {hall_site!r}, the simulation is for {sim.hall.site!r}")
    while not stop.is_set():
        now = datetime.fromisoformat(client.get("/clock")["now"]).astimezone(tz)
        opening = _next_day_to_play(sim, now)
        day_start = datetime.combine(opening.date(), dtime(0), tzinfo=tz)
        pacer = PacedClock(client, day_start, stop)
        if opening > now:
            log.info("the hall opens %s; waiting", opening.isoformat(timespec="minutes"))
            try:
                pacer(round((opening - day_start) / timedelta(milliseconds=1)))
            except KeyboardInterrupt:
                break
        day_sim = dataclasses.replace(sim, day=opening.date(), seed=sim.seed + opening.date().toordinal())
        plan = plan_day(day_sim, args.arrival_scale)
        start = max(pacer.now_ms(), 0)
        _, until = _span(sim, args)
        hall = ServerHall(url, day_sim)
        engine = Engine(day_sim, plan, scenario, hall, pacer, day_start, start, until, owns_hall=False,
                        poll_idle_ms=60_000, appointments=False)
        log.info("playing %s from %02d:%02d: %d residents", opening.date(), start // 3600_000,
                 start // 60_000 % 60, sum(1 for r in plan.residents if r.arrives_ms >= start))
        result = engine.run()
        engine.leave_all()
        rep = stats.report(result, sim.hall, {"engine": "server", "speed": args.speed, "requests": hall.requests})
        _output([rep], args)
        if not args.forever or engine.stopped:
            break
    return 0


def _next_day_to_play(sim, now: datetime) -> datetime:
    """When the next day to play starts: today if it is still open, else the next opening."""
    hours = sim.hall.hours
    periods = hours.periods_on(now.date())
    if periods and now.time() < periods[-1].end:
        first = datetime.combine(now.date(), periods[0].start, tzinfo=now.tzinfo)
        return min(now, first - timedelta(minutes=hours.issue_before_open_minutes)) if now < first else now
    nxt = hours.next_opening(now + timedelta(minutes=1))
    if nxt is None:
        raise RuntimeError("the hall has no opening in the next 40 days")
    return nxt - timedelta(minutes=hours.issue_before_open_minutes)


def _output(reports: list[dict], args) -> None:
    from simulation import stats

    if args.json == "-":
        print(json.dumps(reports if len(reports) > 1 else reports[0], ensure_ascii=False, indent=2))
        return
    if args.compare_policies:  # one comparison per scenario: the previous rule against the promises
        for i in range(0, len(reports), 2):
            print(stats.compare(reports[i:i + 2], args.lang), end="\n\n")
    else:
        for rep in reports:
            print(stats.render(rep, args.lang), end="\n\n")
        if len(reports) > 1:
            print(stats.compare(reports, args.lang))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m simulation.cli``: ``hallq simulate`` alone, without the rest of the command."""
    p = argparse.ArgumentParser(prog="hallq simulate", description=cmd_simulate.__doc__,
                                epilog=f"example:\n  {EXAMPLE}", formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    from hallq import logs

    logs.setup(args.verbose)
    return cmd_simulate(args)


if __name__ == "__main__":
    sys.exit(main())
