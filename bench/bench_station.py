"""A whole village station on one box: ``hallq start`` of every part, idle, then a peak hour of calls.

    .venv/bin/python bench/bench_station.py [--idle 30] [--calls 120] [--interval 1.5] [--broker hall|mosquitto]

The village station (config/village-station), made a station of its own as an operator would
(``hallq init --sample village-station``: its own passwords and device keys, so not in demo mode, and
so the kiosk waits for residents rather than tapping itself as the demo's does), plus the window
devices of its two windows (an LED strip and a call keypad each, simulated on pseudo-terminals,
driven by ``hallq devices``: the sample has none). Then ``hallq start`` runs, on the hall's virtual
Monday morning: the server with its broker (the hall's own Mosquitto by default), the board (offscreen:
no display here, so Mesa's llvmpipe draws it in software), the voice announcer (to WAV files, no sound
device), the kiosk (offscreen, simulated printer and ID reader) and the gateway, every one a process
of its own on the same 2 cores, as on a station's one mini PC.

* up: until the server answers and every part says ``online`` on the broker (as ``hallq status`` reads
  it), and the board has drawn its first frame;
* idle: ``--idle`` seconds in which nobody does anything (the parts' own clocks and polls still run):
  each process's CPU time (``/proc/<pid>/stat``) and memory (``/proc/<pid>/smaps_rollup``: RSS, and
  PSS, which shares the pages two processes map, libLLVM's between board and kiosk for one), and
  their sums. Targets: ≤ 10 % of one core and ≤ 450 MB RSS summed; the board ≤ 150 MB;
* peak: a peak hour at an accelerated pace: ``--calls`` calls, one every ``--interval`` seconds
  from the two windows in turn (each window's clerk presses "next", completing the previous
  resident), while residents take numbers at the kiosk's API at the same pace, half-way between calls. Call → board drawn:
  from the clerk's request to the board's first finished frame showing that call (the board notes
  it in ``$HALLQ_BOARD_DRAWN_LOG``, on CLOCK_MONOTONIC like this script). Target: p99 ≤ 100 ms;
  and each process's CPU over the peak.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import BROKERS, add_broker_option, emit, labels, machine, percentiles, tempdir

from hallq.client import ApiError, HallClient, free_port
from hallq.testing import Mosquitto

CLOCK = "2026-11-23T09:00:00+08:00"  # a Monday, half an hour into the station's morning
WINDOWS = (1, 2)
BUSINESS = "general"
GATEWAY_KEY_ENV = "HALLQ_GATEWAY_KEY"
TICK = os.sysconf("SC_CLK_TCK")
PROBE_BOARD = "bench-probe"
DAILY_LIMIT = 9999

DEVICES = """# The station's window devices for the benchmark: a simulated LED strip and call keypad at each window.
[gateway]
id = "gateway-1"
hall = "hall.toml"
key_env = "{key_env}"

[[devices]]
kind = "led_strip"
driver = "simulator"
windows = [1, 2]

[[devices]]
kind = "keypad"
driver = "simulator"
windows = [1, 2]
"""

GATEWAY = """
[[devices]]
id = "gateway-1"
kind = "gateway"
key_sha256 = "{sha}"
windows = [1, 2]
"""


def make_station(work: Path) -> tuple[Path, dict[str, str], str, str]:
    """The station's config in ``work``: (hall.toml, {job_no: password}, the kiosk's key, the gateway's key)."""
    from launcher.init import init_hall

    hall = init_hall(work / "station", site="bench-village", name="周家村便民服务站（压测）", sample="village-station",
                     public_url=f"http://127.0.0.1:{free_port()}")
    path = hall.folder / "hall.toml"
    text = path.read_text(encoding="utf-8")
    # its own broker port: 11884 may be held by a village station running on this machine
    text = re.sub(r'embedded_listen = "[^"]*"', f'embedded_listen = "127.0.0.1:{free_port()}"', text)
    # the station's 100 numbers a day would end an accelerated peak early (the JSON's daily_limit says so)
    text = re.sub(r"daily_limit = \d+", f"daily_limit = {DAILY_LIMIT}", text)
    gateway_key = secrets.token_urlsafe(24)
    text += GATEWAY.format(sha=hashlib.sha256(gateway_key.encode()).hexdigest())
    path.write_text(text, encoding="utf-8")
    (hall.folder / "devices.toml").write_text(DEVICES.format(key_env=GATEWAY_KEY_ENV), encoding="utf-8")
    # a second board entry, never started: its broker identity lets this script hear the calls as a board does
    boards = hall.folder / "board.toml"
    boards.write_text(boards.read_text(encoding="utf-8") + f'\n[[boards]]\nid = "{PROBE_BOARD}"\n', encoding="utf-8")
    kiosk_key = hall.keys["kiosk-station"].read_text().strip()
    return path, {a.job_no: a.password for a in hall.accounts}, kiosk_key, gateway_key


# -- the processes -----------------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return found


def part_of(pid: int) -> str | None:
    """Which part of the station a process is, from its command line (None: it has gone)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in argv if a]
    if comm == "mosquitto":
        return "broker"
    if "launcher" in args:
        sub = args[args.index("launcher") + 1] if args.index("launcher") + 1 < len(args) else ""
        return {"start": "supervisor (hallq start)", "serve": "server", "board": "board", "announce": "announcer",
                "kiosk": "kiosk", "devices": "gateway"}.get(sub, sub)
    if "queue_server.wsgi" in args:  # hallq serve, once it has prepared the hall, runs Granian from a fresh Python
        return "server"
    if any("granian" in a for a in args) or comm.startswith("granian") or "multiprocessing" in " ".join(args):
        return "server"
    return f"other ({comm})"  # counted, never dropped: a part whose command line changed stays in the sum


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError):
        return 0


def memory_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def processes(roots: list[int]) -> dict[int, str]:
    """Every process of the station, by pid, with its part."""
    found = {}
    for root in roots:
        for p in descendants(root):
            part = part_of(p)
            if part is not None:
                found[p] = part
    return found


class Sampler:
    """CPU time of each process between :meth:`start` and :meth:`stop`; memory at the end and its peak."""

    def __init__(self, roots: list[int], every: float = 1.0) -> None:
        self.roots = roots
        self.every = every
        self.peak_rss: dict[int, int] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        self.procs = processes(self.roots)
        self.t0 = time.monotonic()
        self.c0 = {p: cpu_ticks(p) for p in self.procs}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for p in self.procs:
                self.peak_rss[p] = max(self.peak_rss.get(p, 0), memory_kb(p)[0])

    def stop(self) -> dict:
        seconds = time.monotonic() - self.t0
        self._stop.set()
        self.thread.join()
        rows = []
        for p, part in sorted(self.procs.items(), key=lambda kv: kv[0]):
            rss, pss = memory_kb(p)
            rows.append({"part": part, "pid": p,
                         "cpu_percent_of_one_core": round((cpu_ticks(p) - self.c0[p]) / TICK / seconds * 100, 2),
                         "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1),
                         "rss_peak_mb": round(max(rss, self.peak_rss.get(p, 0)) / 1024, 1)})
        by_part: dict[str, dict] = {}
        for r in rows:
            s = by_part.setdefault(r["part"], {"processes": 0, "cpu_percent_of_one_core": 0.0, "rss_mb": 0.0,
                                               "pss_mb": 0.0})
            s["processes"] += 1
            for k in ("cpu_percent_of_one_core", "rss_mb", "pss_mb"):
                s[k] = round(s[k] + r[k], 2)
        new = set(processes(self.roots)) - set(self.procs)
        return {"seconds": round(seconds, 1), "processes": rows, "parts": by_part,
                "total": {"processes": len(rows),
                          "cpu_percent_of_one_core": round(sum(r["cpu_percent_of_one_core"] for r in rows), 2),
                          "rss_mb": round(sum(r["rss_mb"] for r in rows), 1),
                          "pss_mb": round(sum(r["pss_mb"] for r in rows), 1)},
                "processes_started_meanwhile": len(new)}


# -- the station --------------------------------------------------------------------------------------

class Station:
    """``hallq start`` of the station in its own process group; :meth:`client` for :func:`common.labels`."""

    def __init__(self, work: Path, hall: Path, env: dict[str, str]) -> None:
        from hallq.hallconfig import load_hall

        self.cfg = load_hall(hall)
        self.port = int(self.cfg.public_url.rsplit(":", 1)[1].split("/")[0])
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = work / "data"
        self.log = work / "station.log"
        self._logf = open(self.log, "wb")  # open while the station runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "start", "--config", str(hall), "--data-dir", str(self.data_dir),
             "--virtual-clock", CLOCK], env=env, stdin=subprocess.DEVNULL, stdout=self._logf,
            stderr=subprocess.STDOUT, start_new_session=True)

    def client(self, token: str | None = None) -> HallClient:
        return HallClient(self.url, token=token, retries=0)

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"hallq start exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")

    def online(self) -> set[str]:
        """The parts that say they are online on the broker (what ``hallq status`` reads)."""
        from launcher.status import read_retained

        retained, _ = read_retained(self.cfg, self.data_dir, 3)
        return {t.split("/status/", 1)[1].replace("/", ".") for t, p in retained.items()
                if "/status/" in t and p.get("state") == "online"}

    def stop(self) -> None:
        parts = {p: part_of(p) for p in descendants(self.proc.pid) if p != self.proc.pid}
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the supervisor stops the parts in reverse order
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for p, part in parts.items():  # each part has a process group of its own: none may outlive the run
            if part is not None and part_of(p) == part:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._logf.close()


def listen(station: Station, heard: dict[int, float]):
    """Hear the calls as a board does (the probe board's identity on the hall's broker): seq → when."""
    import json

    import paho.mqtt.client as paho

    from hallq.mqtt import BrokerAddress
    from hallq.mqtt_auth import client_credentials

    cfg = station.cfg
    user, password = client_credentials("board", PROBE_BOARD, station.data_dir, cfg.mqtt.username, cfg.mqtt.password,
                                        managed=cfg.mqtt.embedded)
    addr = BrokerAddress.parse(cfg.mqtt.effective_url, user, password)
    ready = threading.Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-station-{os.getpid()}")
    if addr.username:
        c.username_pw_set(addr.username, addr.password)
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(f"hallq/{cfg.site}/calls", 1)
    c.on_subscribe = lambda *a: ready.set()
    c.on_message = lambda cl, u, msg: heard.setdefault(json.loads(msg.payload)["seq"], time.monotonic())
    c.connect(addr.host, addr.port)
    c.loop_start()
    if not ready.wait(10):
        raise TimeoutError(f"could not subscribe to the calls on {addr}")
    return c


def wait_for(what: str, predicate, station: Station, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        station.alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s; see {station.log}")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle measurement")
    ap.add_argument("--settle", type=float, default=15.0,
                    help="seconds after every part is up before the idle measurement (start-up work done)")
    ap.add_argument("--calls", type=int, default=120, help="calls of the peak")
    ap.add_argument("--interval", type=float, default=1.5, help="seconds between calls (the windows in turn)")
    add_broker_option(ap)
    args = ap.parse_args()
    if args.broker == "none":
        raise SystemExit(f"bench_station: the board needs a broker; --broker one of "
                         f"{', '.join(b for b in BROKERS if b != 'none')}")
    work = tempdir()
    external = Mosquitto(work) if args.broker == "mosquitto" else None
    station = None
    try:
        hall, passwords, kiosk_key, gateway_key = make_station(work)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "HALLQ_DEMO")}
        env.pop("HALLQ_MQTT_URL", None)
        drawn_log = work / "drawn.log"
        env.update({"HALLQ_BOARD_DRAWN_LOG": str(drawn_log), GATEWAY_KEY_ENV: gateway_key})
        if external:
            external.start()
            env["HALLQ_MQTT_URL"] = os.environ["HALLQ_MQTT_URL"] = external.url  # the parts', and this script's
        started = time.monotonic()
        station = Station(work, hall, env)
        result = run(args, station, external, passwords, kiosk_key, drawn_log, started)
    finally:
        if station is not None:
            station.stop()
        if external:
            external.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit(result)


def run(args, station: Station, external, passwords, kiosk_key, drawn_log: Path, started: float) -> dict:
    from hallq.mqtt_auth import SERVER, STATUS_READER, hall_identities

    def healthy() -> bool:
        try:
            return station.client().health().get("database") == "ok"
        except Exception:
            return False

    wait_for("the server healthy", healthy, station, 60)
    expected = {i.username for i in hall_identities(station.cfg)} - {SERVER.username, STATUS_READER.username}
    expected -= {f"board.{PROBE_BOARD}"}  # this script's ear
    wait_for(f"every part online ({', '.join(sorted(expected))})",
             lambda: expected <= station.online(), station, 120)
    up_seconds = time.monotonic() - started
    shot = station.data_dir / "board-station.png"
    wait_for("the board's first frame", shot.exists, station, 60)
    system = labels(station, args.broker)
    roots = [station.proc.pid] + ([external.proc.pid] if external and external.proc else [])

    time.sleep(args.settle)
    idle = Sampler(roots)
    idle.start()
    time.sleep(args.idle)
    idle_result = idle.stop()

    # -- the peak -----------------------------------------------------------------------------------
    kiosk = station.client(kiosk_key)
    clerks = {}
    staff = {1: "3002", 2: "3001"}  # as the sample's simulation: the station head staffs window 2
    for n in WINDOWS:
        c = station.client()
        c.login(staff[n], passwords[staff[n]])
        c.window_action(n, "sign-in")
        clerks[n] = c
    for _ in range(4):  # a few residents already waiting when the peak starts
        kiosk.issue_ticket(BUSINESS)
    drawn_log.touch()
    heard: dict[int, float] = {}
    ear = listen(station, heard)
    answered: list[float] = []
    peak = Sampler(roots)
    peak.start()
    sent: dict[int, float] = {}
    errors: list[str] = []
    issued = 0
    nxt = time.monotonic()
    def until(at: float) -> None:
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    for i in range(args.calls):
        until(nxt)
        n = WINDOWS[i % len(WINDOWS)]
        t0 = time.monotonic()
        try:
            seq = clerks[n].call_next(n, complete_current=True)["seq"]
            answered.append((time.monotonic() - t0) * 1000)
            sent[seq] = t0
        except ApiError as e:
            errors.append(f"call-next: {e.code}")
        until(nxt + args.interval / 2)  # a resident takes a number between two calls
        try:
            kiosk.issue_ticket(BUSINESS)
            issued += 1
        except ApiError as e:
            errors.append(f"issue: {e.code}")
        nxt += args.interval
    time.sleep(2.0)  # the last frames
    peak_result = peak.stop()
    ear.loop_stop()
    ear.disconnect()
    drawn: dict[int, float] = {}
    for line in drawn_log.read_text().splitlines():
        seq, at = line.split()
        drawn.setdefault(int(seq), float(at))
    latencies = [(drawn[s] - t0) * 1000 for s, t0 in sent.items() if s in drawn]
    to_event = [(heard[s] - t0) * 1000 for s, t0 in sent.items() if s in heard]
    event_to_drawn = [(drawn[s] - heard[s]) * 1000 for s in sent if s in heard and s in drawn]
    board = idle_result["parts"].get("board", {})
    return {
        "benchmark": "a whole village station on one box: hallq start (server, broker, board, announcer, kiosk, "
                     "gateway), idle and a peak of calls",
        "system": system,
        "parts_online": sorted(station.online()),
        "start_to_all_online_s": round(up_seconds, 1),
        "idle": {**idle_result, "targets": {"cpu_percent_of_one_core": 10, "rss_mb_sum": 450, "board_rss_mb": 150,
                                            "server_rss_mb": 80}},
        "idle_summary": {"cpu_percent_of_one_core": idle_result["total"]["cpu_percent_of_one_core"],
                         "rss_mb_sum": idle_result["total"]["rss_mb"], "pss_mb_sum": idle_result["total"]["pss_mb"],
                         "board_rss_mb": board.get("rss_mb"),
                         "server_rss_mb": idle_result["parts"].get("server", {}).get("rss_mb"),
                         "broker_rss_mb": idle_result["parts"].get("broker", {}).get("rss_mb")},
        "peak": {"calls": len(sent), "tickets_issued": issued,
                 "daily_limit": station.cfg.businesses[BUSINESS].daily_limit, "interval_s": args.interval,
                 "calls_per_minute": round(60 / args.interval, 1), "errors": errors[:10], "errors_n": len(errors),
                 "call_to_board_drawn": {**percentiles(latencies), "missing": len(sent) - len(latencies),
                                         "target_p99_ms": 100},
                 "where_the_time_goes": {"call_next_answered": percentiles(answered),
                                         "call_to_mqtt_event_at_a_board": percentiles(to_event),
                                         "mqtt_event_to_board_drawn": percentiles(event_to_drawn)},
                 "cpu": {"total_percent_of_one_core": peak_result["total"]["cpu_percent_of_one_core"],
                         "parts": {k: v["cpu_percent_of_one_core"] for k, v in peak_result["parts"].items()}},
                 "rss_mb_sum_after": peak_result["total"]["rss_mb"],
                 "rss_peak_mb": {r["part"] + f" ({r['pid']})": r["rss_peak_mb"] for r in peak_result["processes"]}},
        "machine": machine(),
        "note": "every part of the station, its broker and this script's HTTP calls share the machine's cores; "
                "the board and the kiosk draw offscreen with llvmpipe (software GL), the announcer writes WAVs",
    }


if __name__ == "__main__":
    main()
