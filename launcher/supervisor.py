"""``hallq start``: the whole hall on one machine, for a demo or a small station.

Starts each part as its own process (as they run in a real hall, where the
board and the kiosk are separate machines), waits until the server answers,
restarts a part that dies (with a growing pause) and gives up on one that
crashes at start :data:`GIVE_UP_AFTER` times in a row, showing its last words.
Before anything starts, the ports the hall needs (the server's, its broker's)
are checked: one already in use stops the start with which port and which
setting to change. On Ctrl-C or SIGTERM the parts stop in reverse order, each
waited for (at most :data:`STOP_TIMEOUT` s, then killed) before the next, so
the server outlives whatever still talks to it. Each part is just a ``hallq``
subcommand (:func:`_parts`), so anything started here can be started alone too.

Two halves in one process. :func:`start_hall` checks (the hall config, the demo
credentials, the ports), and makes the plan: each part's command line, the
server's health URL, the banner. Then it replaces itself (``exec``, the same
pid, so systemd and the terminal's Ctrl-C still reach it) with a fresh Python
that runs only :func:`run_plan`, handed the plan in :data:`PLAN_ENV`: the
supervisor that stays up all day holds neither the config machinery (the
schema, TOML, the calendars, the parser of every subcommand) nor ``urllib``
and OpenSSL (its health check is a plain HTTP/1.0 GET on a socket): about
13 MB instead of 26 MB (docs/deployment.md, "The small processes' memory").
This module's top imports are that half's, and must stay light
(tests/launcher/test_small_processes.py).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger("hallq.start")

PLAN_ENV = "HALLQ_START_PLAN"  # the plan start_hall hands the process it becomes (popped: the parts never see it)

GIVE_UP_AFTER = 3  # crashes at start in a row before a part is given up
AT_START = 10.0  # seconds: a part that exits sooner than this after starting crashed at start
RESTART_PAUSE = 1.0  # seconds before a part that exited is restarted, doubled at each crash at start
STOP_TIMEOUT = 10.0  # seconds each part is given to stop after SIGTERM before it is killed


@dataclass
class Part:
    name: str
    argv: list[str]
    needs_server: bool = True
    proc: subprocess.Popen | None = None
    crashes: int = 0  # crashes at start in a row
    started_at: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=12))  # its last lines on stderr
    reader: threading.Thread | None = None

    def launch(self) -> None:
        """Start the part (``hallq <argv>``) in its own process group, its stderr passed through and remembered.

        Its own group: Ctrl-C in the terminal reaches only the supervisor, which stops the parts in order.
        """
        self.tail.clear()
        self.proc = subprocess.Popen([sys.executable, "-m", "launcher", *self.argv], env={**os.environ, **self.env},
                                     stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, process_group=0)
        self.started_at = time.monotonic()
        self.reader = threading.Thread(target=self._pass_on, args=(self.proc.stderr,), daemon=True)
        self.reader.start()
        log.info("started %s (pid %d)", self.name, self.proc.pid)

    def _pass_on(self, stream) -> None:
        out = getattr(sys.stderr, "buffer", None)
        for line in iter(stream.readline, b""):
            if out is not None:
                out.write(line)
                out.flush()
            else:
                sys.stderr.write(line.decode(errors="replace"))
            self.tail.append(line.decode(errors="replace").rstrip())
        stream.close()

    def last_words(self) -> str:
        if self.reader is not None:
            self.reader.join(2)  # what it wrote before exiting
        return "\n".join(f"    {line}" for line in self.tail) or "    (nothing on stderr)"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait at most ``timeout`` s, then SIGKILL the part's whole process group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s of SIGTERM; killing it", self.name, timeout)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.reader is not None:
            self.reader.join(2)
        log.info("stopped %s", self.name)


def stop_parts(parts: list[Part], timeout: float = STOP_TIMEOUT) -> None:
    """Stop the parts in reverse order of starting, each gone (or killed) before the next is asked."""
    for p in reversed(parts):
        p.stop(timeout)


def _parts(args) -> list[Part]:
    common = []
    if args.config:
        common += ["--config", args.config]
    server = ["serve", "--host", args.host, "--port", str(args.port), *common]
    if getattr(args, "demo", False):
        server.append("--demo")  # cmd_start let the demo credentials through; so does the server
    if args.data_dir:
        server += ["--data-dir", args.data_dir]
    if args.virtual_clock:
        server += ["--virtual-clock", args.virtual_clock]
    parts = [Part("server", server, needs_server=False)]
    from launcher.components import components

    for module in components():
        if hasattr(module, "hall_parts"):
            parts.extend(Part(name, argv, needs_server=needs) for name, argv, needs in module.hall_parts(args))
    return parts


def _cannot_listen(host: str, port: int) -> str | None:
    """Why nothing new could listen on host:port (already in use, or not this machine's address); None if it can."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no clash
        try:
            s.bind((host, port))
        except OSError as e:
            return e.strerror or str(e)
    return None


def port_clashes(cfg, args, names: list[str]) -> list[str]:
    """For each port the parts to start need and cannot have: which, why, and the setting that fixes it."""
    if "server" not in names:
        return []
    found = []
    why = _cannot_listen(args.host, args.port)
    if why:
        found.append(f"hallq start: the server cannot listen on {args.host}:{args.port} ({why}): another hall or "
                     f"another program has it. Give this hall a free port in [hall] public_url in {cfg.path} (e.g. "
                     f"\":{args.port + 1}\"; the server listens on that port, and the QR codes on its tickets lead "
                     f"to it), or start it with --port {args.port + 1} and set public_url to match.")
    if cfg.mqtt.embedded:
        from hallq.broker import _split_listen

        host, port = _split_listen(cfg.mqtt.embedded_listen)
        why = _cannot_listen(host, port)
        if why:
            found.append(f"hallq start: the hall's broker cannot listen on {host}:{port} ({why}): another hall's "
                         f"broker or a broker of your own has it. Give this hall another [mqtt] embedded_listen "
                         f"in {cfg.path} (e.g. \"{host}:{port + 1}\"), or set [mqtt] url to that broker with "
                         f"its accounts (docs/deployment.md).")
    return found


def _healthy(host: str, port: int, path: str, timeout: float = 1.0) -> bool:
    """Whether ``GET path`` on the server answers 200 with ``"database": "ok"`` in its JSON.

    HTTP/1.0 on a plain socket (the server is always plain HTTP to the supervisor, on this machine): the
    answer ends when the server closes the connection, so there is no chunked body or keep-alive to handle,
    and the supervisor need not import ``urllib`` (with ``http.client``, ``email`` and OpenSSL).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError:
        return False
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("database") == "ok"


def _wait_healthy(url: str, timeout: float, server: Part | None = None) -> bool:
    """Whether the server at ``url`` (``http://host:port/path``) answers healthy within ``timeout`` s (False at
    once if ``server`` exits)."""
    hostport, _, path = url.removeprefix("http://").partition("/")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")  # an IPv6 address
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.proc is not None and server.proc.poll() is not None:
            return False
        if _healthy(host, int(port), "/" + path):
            return True
        time.sleep(0.1)
    return False


def _watch(parts: list[Part], stop: threading.Event) -> int:
    """Restart the parts that exit until asked to stop; give up on one that keeps crashing at start.

    Returns 1 if the server was given up (the hall cannot run without it) or every part was, else 0.
    """
    while not stop.wait(0.5):
        for p in parts:
            if p.proc is None or p.proc.poll() is None:
                continue
            code = p.proc.returncode
            p.crashes = p.crashes + 1 if time.monotonic() - p.started_at < AT_START else 0
            if p.crashes >= GIVE_UP_AFTER:
                log.error("%s exited with %s within %.0f s of starting, %d times in a row: giving up on it. "
                          "Its last words:\n%s", p.name, code, AT_START, p.crashes, p.last_words())
                p.proc = None
                if p.name == "server" or all(q.proc is None for q in parts):
                    return 1
                continue
            pause = RESTART_PAUSE * 2 ** p.crashes
            log.warning("%s exited with %s; restarting in %.0f s", p.name, code, pause)
            if stop.wait(pause):
                return 0
            p.launch()
    return 0


def start_hall(args) -> int:
    """Check the hall and the ports, make the plan, and become the supervisor that runs it (:func:`run_plan`)."""
    from hallq.demo import demo_mode
    from hallq.hallconfig import load_hall
    from hallq.settings import config_path, data_dir
    from launcher.banner import banner

    cfg = load_hall(config_path(args.config))
    parts = _parts(args)
    if args.only:
        wanted = {p.strip() for p in args.only.split(",")}
        unknown = wanted - {p.name for p in parts}
        if unknown:
            print(f"hallq: unknown parts {sorted(unknown)}; known: {[p.name for p in parts]}", file=sys.stderr)
            return 2
        parts = [p for p in parts if p.name in wanted]
    clashes = port_clashes(cfg, args, [p.name for p in parts])
    if clashes:
        print("\n".join(clashes), file=sys.stderr)
        return 2
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base = f"http://{host}:{args.port}"
    plan = {"parts": [{"name": p.name, "argv": p.argv, "needs_server": p.needs_server} for p in parts],
            "health": f"{base}/api/v1/health",
            "banner": banner(cfg, [p.name for p in parts], base, data_dir(cfg.site, args.data_dir), demo_mode()),
            "verbose": bool(getattr(args, "verbose", False))}
    become_supervisor(plan)
    return 1  # not reached: exec does not return (it raises OSError if it fails)


def become_supervisor(plan: dict) -> None:
    """Replace this process (same pid) by ``python -m launcher start …`` running ``plan`` (:func:`run_plan`)."""
    env = {**os.environ, PLAN_ENV: json.dumps(plan)}
    argv = sys.argv[1:] if "start" in sys.argv[1:] else ["start"]  # what ps shows; the plan says what runs
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execve(sys.executable, [sys.executable, "-m", "launcher", *argv], env)


def resume_from_environment() -> int | None:
    """In ``python -m launcher``: run the plan :func:`become_supervisor` handed over, if there is one."""
    raw = os.environ.pop(PLAN_ENV, None)
    if raw is None:
        return None
    return run_plan(json.loads(raw))


def run_plan(plan: dict) -> int:
    """Start the parts of the plan in order, print the banner once all are up, and watch them until stopped."""
    from hallq import logs

    logs.setup(plan.get("verbose", False))
    parts = [Part(p["name"], list(p["argv"]), needs_server=p["needs_server"]) for p in plan["parts"]]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *a: stop.set())
    health = plan["health"]
    server = next((p for p in parts if p.name == "server"), None)
    try:
        for p in parts:
            if stop.is_set():
                return 0
            if p.needs_server and not _wait_healthy(health, 15, server):
                log.error("the server did not become healthy at %s; see its log above", health)
                return 1
            p.launch()
            if p is server and not _wait_healthy(health, 15, server):
                if p.proc is not None and p.proc.poll() is not None:
                    log.error("the server exited with %s at start. Its last words:\n%s", p.proc.returncode,
                              p.last_words())
                else:
                    log.error("the server did not become healthy at %s; see its log above", health)
                return 1
        print(plan["banner"], file=sys.stderr, flush=True)
        return _watch(parts, stop)
    finally:
        stop_parts(parts)
