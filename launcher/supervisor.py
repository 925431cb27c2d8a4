"""``hallq start``: the whole hall on one machine, for a demo or a small station.

Starts each part as its own process (as they run in a real hall, where the
board and the kiosk are separate machines), waits until the server answers,
restarts a part that dies (with a growing pause), and stops everything on
Ctrl-C. The parts are listed in :data:`PARTS`; each is just a ``hallq``
subcommand, so anything started here can be started alone too.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field

log = logging.getLogger("hallq.start")


@dataclass
class Part:
    name: str
    argv: list[str]
    needs_server: bool = True
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    env: dict[str, str] = field(default_factory=dict)


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


def _wait_healthy(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if json.load(r).get("database") == "ok":
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def start_hall(args) -> int:
    parts = _parts(args)
    if args.only:
        wanted = {p.strip() for p in args.only.split(",")}
        unknown = wanted - {p.name for p in parts}
        if unknown:
            print(f"hallq: unknown parts {sorted(unknown)}; known: {[p.name for p in parts]}", file=sys.stderr)
            return 2
        parts = [p for p in parts if p.name in wanted]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    health = f"http://{args.host}:{args.port}/api/v1/health"

    def launch(p: Part) -> None:
        env = {**os.environ, **p.env}
        p.proc = subprocess.Popen([sys.executable, "-m", "launcher", *p.argv], env=env)  # `hallq`
        p.started_at = time.monotonic()
        log.info("started %s (pid %d)", p.name, p.proc.pid)

    try:
        for p in parts:
            if p.needs_server and not _wait_healthy(health, 15):
                log.error("the server did not become healthy at %s; see its log above", health)
                return 1
            launch(p)
            if p.name == "server" and not _wait_healthy(health, 15):
                log.error("the server did not become healthy at %s; see its log above", health)
                return 1
        base = f"http://{args.host}:{args.port}"
        from hallq.demo import demo_mode

        demo = "Demo accounts: staff 1001-1020, manager 2001, password hallq-demo. " if demo_mode() else ""
        print(f"\nhallq is running. API: {base}/api/v1/hall  ·  OpenAPI: {base}/api/v1/openapi.json\n"
              f"{demo}Ctrl-C stops everything.\n", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            for p in parts:
                if p.proc is not None and p.proc.poll() is not None:
                    pause = min(2 ** p.restarts, 30)
                    log.warning("%s exited with %s; restarting in %d s", p.name, p.proc.returncode, pause)
                    if stop.wait(pause):
                        break
                    p.restarts += 1
                    launch(p)
    finally:
        for p in reversed(parts):
            if p.proc is not None and p.proc.poll() is None:
                p.proc.terminate()
        for p in parts:
            if p.proc is not None:
                try:
                    p.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.proc.kill()
    return 0
