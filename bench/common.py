"""Shared set-up for the benchmarks: a bench hall, a real server with its broker, labels, timing helpers.

Every benchmark starts what it needs on free loopback ports, is bounded in
time, stops what it started and prints one JSON object. The load generator
and the server share this machine's cores: the figures say so.

The broker is chosen here, once, for every server benchmark (``--broker``):

* ``hall`` (the default): the hall's own Mosquitto, which ``hallq serve`` starts when ``[mqtt] url``
  is empty, with the server publishing to it: the server a hall runs;
* ``mosquitto``: a Mosquitto of the benchmark's own (anonymous, on a free port) set by ``HALLQ_MQTT_URL``;
* ``none``: for comparison only, MQTT pointed at a closed port: nothing is published.

What a benchmark's JSON says about the system it measured (:func:`labels`, :func:`machine`) is read
from the running server's ``GET /api/v1/health`` and from the machine, never written by the script.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hallq.client import free_port  # noqa: E402
from hallq.testing import Mosquitto  # noqa: E402
from launcher.processes import ServerProcess  # noqa: E402
from queue_server import SERVE_THREADS  # noqa: E402

CITY = ROOT / "config" / "city-hall"
BROKERS = {"hall": "the hall's own Mosquitto, started by hallq serve (the default, as a hall runs)",
           "mosquitto": "a Mosquitto of the benchmark's own, set by HALLQ_MQTT_URL",
           "none": "no broker, for comparison only: MQTT to a closed port, nothing published"}
BOARD = ("board", "lobby")  # the identity a benchmark's subscriber takes on the hall's own broker (board.toml)


def add_broker_option(ap) -> None:
    """``--broker hall|mosquitto|none`` on a benchmark's command line (default ``hall``)."""
    ap.add_argument("--broker", choices=list(BROKERS), default="hall",
                    help="; ".join(f"{k}: {v}" for k, v in BROKERS.items()))


def bench_hall(workdir: Path, extra_businesses: int = 0) -> Path:
    """The sample city hall with limits lifted so a benchmark is not stopped by 每日限号.

    ``extra_businesses`` adds queues (prefixes F, G, ...) that no window serves, to hold
    more waiting tickets than five businesses of 9,999 a day can. The hall's own broker
    listens on a free port (not 11883, which a hall on this machine may hold), and the
    boards' file is copied so that the broker knows a board's identity for a subscriber.
    """
    target = workdir / "hall"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(CITY / "services.toml", target / "services.toml")
    shutil.copy(CITY / "board.toml", target / "board.toml")
    text = (CITY / "hall.toml").read_text(encoding="utf-8")
    text = re.sub(r'embedded_listen = "[^"]*"', f'embedded_listen = "127.0.0.1:{free_port()}"', text)
    text = re.sub(r"daily_limit = \d+", "daily_limit = 9999", text)
    text = re.sub(r'ticket_requires = "[a-z_]+"', 'ticket_requires = "none"', text)
    extra = "".join(f'\n[[businesses]]\ncode = "bench{i}"\nprefix = "{chr(ord("F") + i)}"\n'
                    f'name = {{ zh-Hans = "压测{i}" }}\ndaily_limit = 9999\n' for i in range(extra_businesses))
    text = text.replace("# -- windows:", extra + "\n# -- windows:", 1)
    (target / "hall.toml").write_text(text, encoding="utf-8")
    return target / "hall.toml"


class BenchServer(ServerProcess):
    """``hallq serve`` with the broker a benchmark asked for (:data:`BROKERS`); :meth:`stop` stops both."""

    def __init__(self, workdir: Path, broker: str = "hall", config: Path | None = None, **kw) -> None:
        if broker not in BROKERS:
            raise ValueError(f"broker {broker!r}: one of {', '.join(BROKERS)}")
        self.broker_choice = broker
        self.external = Mosquitto(workdir) if broker == "mosquitto" else None
        mqtt_url = (self.external.url if self.external else "mqtt://127.0.0.1:1" if broker == "none" else None)
        super().__init__(workdir / "data", config=config or bench_hall(workdir), mqtt_url=mqtt_url,
                         broker="hall" if broker == "hall" else None, **kw)

    def start(self, timeout: float = 30) -> None:
        if self.external:
            self.external.start()
        super().start(timeout)
        if self.broker_choice != "none":  # measure a server that publishes: wait until its MQTT link is up
            deadline = time.monotonic() + timeout
            while (state := self.client().health()["mqtt"]) not in ("connected", "follower"):
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"the server's MQTT link is {state!r} after {timeout} s with --broker "
                                       f"{self.broker_choice}; see {self.log}")
                time.sleep(0.05)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.external:
                self.external.stop()

    def broker_pid(self) -> int | None:
        """The broker's process: the benchmark's own Mosquitto, or the one ``hallq serve`` started as its child."""
        if self.external and self.external.proc:
            return self.external.proc.pid
        if self.proc is None:
            return None
        return next((p for p in _children(self.proc.pid) if _comm(p) == "mosquitto"), None)

    def subscriber_login(self) -> tuple[str, int, str, str]:
        """Host, port, username and password for a subscriber: a board's identity on the hall's own broker
        (its secret, written by the broker in the data directory), anyone on the benchmark's own."""
        from hallq.mqtt import BrokerAddress
        from hallq.mqtt_auth import client_credentials

        health = self.client().health()
        b = health["broker"]
        if self.broker_choice == "none" or b is None:
            raise RuntimeError("--broker none: there is no broker to subscribe to")
        user, password = client_credentials(*BOARD, self.data_dir, managed=b["embedded"]) if b["embedded"] \
            else ("", "")
        a = BrokerAddress.parse(f"mqtt://{b['host']}:{b['port']}")
        return a.host, a.port, user, password


def start_server(workdir: Path, broker: str = "hall", workers: int = 1, threads: int = SERVE_THREADS,
                 config: Path | None = None, **kw) -> BenchServer:
    server = BenchServer(workdir, broker=broker, config=config, workers=workers, threads=threads, **kw)
    server.start(timeout=60)
    return server


def labels(server: ServerProcess, broker_choice: str | None = None) -> dict:
    """What the running server says it is (``GET /api/v1/health``): version, SQLite's settings, the broker it
    publishes to and whether the link is up, its workers and threads; never an account or a password."""
    h = server.client().health()
    b = h.get("broker")
    broker = "none" if b is None else (f"{'embedded' if b['embedded'] else 'url'} {b['host']}:{b['port']}"
                                       f"{' (TLS)' if b.get('tls') else ''}")
    choice = broker_choice or getattr(server, "broker_choice", None)
    return {"hallq_version": h["version"], "broker_choice": choice, "broker": broker,
            "mqtt_link": h["mqtt"], "sqlite": h.get("sqlite"), "server": h.get("server")}


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {}
    s = sorted(samples_ms)

    def pct(p: float) -> float:
        return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 3)

    return {"n": len(s), "p50_ms": pct(50), "p90_ms": pct(90), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": round(s[-1], 3), "mean_ms": round(statistics.fmean(s), 3)}


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (``/proc/cpuinfo``), or the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The machine as it is now: CPUs (model and count, and how many this process may use), the load average
    when the benchmark started (other work on shared cores shows there), Python, the kernel."""
    return {"date": date.today().isoformat(),  # noqa: DTZ011 (the day the benchmark ran, on this machine)
            "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu_model(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
            "platform": platform.platform(), "note": "server and load generator share these cores; loopback"}


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def memory_mb(pid: int, exclude: tuple[str, ...] = ("mosquitto",)) -> dict[str, float]:
    """Memory of a process and its children (Granian master + workers), in MB.

    ``rss`` counts pages shared between the master and its forked workers
    twice; ``pss`` shares them out, so it is what the processes really cost.
    Children named in ``exclude`` (the hall's own Mosquitto, a child of
    ``hallq serve``) are left out: :func:`memory_mb` of the broker's pid gives
    theirs.
    """
    rss = pss = 0
    pids = [pid] + [p for p in _children(pid) if _comm(p) not in exclude]
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


CLK_TCK = os.sysconf("SC_CLK_TCK")


WRK_MISSING = "wrk is not installed: apt-get install wrk (Debian's package)"


def run_wrk(url: str, script: Path, seconds: float, threads: int, connections: int, script_args: list[str]) -> dict:
    """``wrk`` with one of bench/wrk/'s scripts for ``seconds``; what its ``done()`` printed (the line
    ``WRK_JSON {...}``: requests, duration, errors by kind, latency percentiles in µs)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError(WRK_MISSING)
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(script), url, "--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {out.returncode}): {out.stderr[-1000:] or out.stdout[-1000:]}")
    return json.loads(line.removeprefix("WRK_JSON "))


def wrk_figures(r: dict, name: str) -> dict:
    """A ``run_wrk`` result as a benchmark reports it: ``<name>s_per_second`` (answers without an error
    status), the latency in ms, the errors that happened, and the seconds measured."""
    seconds = r["duration_us"] / 1e6
    ok = r["requests"] - r["errors"]["status"]
    lat = {k: round(v / 1000, 3) for k, v in r["latency_us"].items()}
    return {f"{name}s_per_second": round(ok / seconds, 1), "ok": ok,
            "latency": {"n": r["requests"], **{f"{k}_ms": v for k, v in lat.items()}},
            "errors": {k: v for k, v in r["errors"].items() if v}, "seconds_measured": round(seconds, 2)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, all its threads, in seconds (``/proc/<pid>/stat``); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of proc(5))


class ServerCpu:
    """CPU spent by the server's process tree over a window: ``hallq serve`` (Granian's master, in-process) and
    its workers, apart from the broker. The hall's own Mosquitto is a child process of ``hallq serve``, never
    in-process: its CPU is measured on its own and not counted in the server's. Granian's workers live as long
    as the server, so summing the live processes at both ends covers all of it.

    >>> cpu = ServerCpu(server); cpu.start(); ...; cpu.stop(); cpu.per_op(tickets)
    """

    def __init__(self, server: "BenchServer") -> None:
        assert server.proc is not None
        self.root = server.proc.pid
        self.broker = server.broker_pid()
        self.server_s = self.broker_s = 0.0
        self.wall_s = 0.0
        self._t0 = 0.0

    def _sample(self) -> tuple[float, float]:
        pids = [self.root] + [p for p in _descendants(self.root) if p != self.broker]
        return sum(cpu_seconds(p) for p in pids), cpu_seconds(self.broker) if self.broker else 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.server_s, self.broker_s = self._sample()

    def stop(self) -> None:
        s, b = self._sample()
        self.server_s, self.broker_s = s - self.server_s, b - self.broker_s
        self.wall_s = time.monotonic() - self._t0

    def per_op(self, ops: int, name: str) -> dict:
        """``server_cpu_ms_per_<name>`` (the server's processes, broker not counted) and the broker's apart."""
        return {f"server_cpu_ms_per_{name}": round(self.server_s * 1000 / ops, 3) if ops else None,
                f"broker_cpu_ms_per_{name}": round(self.broker_s * 1000 / ops, 3) if ops and self.broker else None,
                "cpu_window": {"seconds": round(self.wall_s, 2), f"{name}s": ops,
                               "server_cpu_s": round(self.server_s, 3), "broker_cpu_s": round(self.broker_s, 3),
                               "server_cpu_percent_of_one_core": round(100 * self.server_s / self.wall_s, 1)
                               if self.wall_s else None,
                               "counted": "hallq serve (Granian master) + its worker processes, all threads; "
                                          "the broker (a process of its own, never in-process) apart"}}


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (by parent pid, whichever of its threads started them)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def tempdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="hallq-bench-"))


def emit(result: dict) -> None:
    print(json.dumps(result, ensure_ascii=False, indent=2))


def server_memory(server: BenchServer) -> dict:
    """The server's memory (Granian's processes) and, apart, its broker's (None with ``--broker none``)."""
    assert server.proc is not None
    broker = server.broker_pid()
    return {"server": memory_mb(server.proc.pid), "broker": memory_mb(broker, exclude=()) if broker else None}
