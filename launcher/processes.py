"""A real ``hallq serve`` started from Python: the simulator's scenario servers, the tests' and benchmarks'.

:class:`ServerProcess` runs the command in its own process group on a free port, on a
virtual clock, and waits until it answers; :meth:`ServerProcess.kill9` is a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hallq.client import HallClient, free_port
from hallq.testing import TINY
from queue_server import SERVE_THREADS


class ServerProcess:
    """``hallq serve`` (Granian; ``python -m launcher serve``) in a subprocess, killable with SIGKILL."""

    def __init__(self, data_dir: Path, config: Path = TINY, mqtt_url: str | None = None,
                 clock: str = "2026-11-23T09:30:00+08:00", workers: int = 1, threads: int = SERVE_THREADS,
                 demo: bool = True, tls: bool = False, broker: str | None = None) -> None:
        """``mqtt_url``: the broker the server publishes to (``HALLQ_MQTT_URL``). Without one, ``broker="hall"``
        leaves the broker to the hall config, as a hall runs: an empty ``[mqtt] url`` makes ``hallq serve``
        start the hall's own Mosquitto on ``embedded_listen`` (which must be free: give each server its own
        port); by default (``broker=None``, what the tests rely on) MQTT points at a closed port, so
        nothing is published and no broker is started."""
        if broker not in (None, "hall"):
            raise ValueError(f"broker={broker!r}: None (a closed port) or 'hall' (the hall config's broker); "
                             "for another broker give its mqtt_url")
        if broker == "hall" and mqtt_url is not None:
            raise ValueError("give either mqtt_url or broker='hall', not both")
        self.data_dir = data_dir
        self.broker = broker
        self.demo = demo  # the sample and test halls use the demo credentials (hallq/demo.py)
        self.port = free_port()
        self.config = config
        self.mqtt_url = mqtt_url
        self.clock = clock
        self.workers = workers
        self.threads = threads
        self.tls = tls  # HTTPS with the hall's own certificate, which must be in data_dir/tls (hallq.tls.init)
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str | None:
        return str(self.data_dir / "tls" / "ca.crt") if self.tls else None

    def start(self, timeout: float = 20) -> None:
        env = {**os.environ, "HALLQ_DATA_DIR": str(self.data_dir)}
        if self.mqtt_url is not None:
            env["HALLQ_MQTT_URL"] = self.mqtt_url
        elif self.broker == "hall":
            env.pop("HALLQ_MQTT_URL", None)  # the hall config's [mqtt]: its own Mosquitto when url is empty
        else:
            env["HALLQ_MQTT_URL"] = "mqtt://127.0.0.1:1"  # nothing listens: the server must cope
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "serve", "--config", str(self.config), "--port", str(self.port),
             "--virtual-clock", self.clock, "--workers", str(self.workers), "--threads", str(self.threads),
             *(["--demo"] if self.demo else []), *(["--tls"] if self.tls else [])],
            env=env, stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True)
        client = HallClient(self.url, retries=0, timeout=1, ca_file=self.ca_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                client.health()
                return
            except Exception:
                time.sleep(0.05)
        raise TimeoutError(f"server not healthy in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        """SIGKILL the whole server (Granian master and workers): a crash, no cleanup."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def client(self, token: str | None = None, **kw) -> HallClient:
        return HallClient(self.url, token=token, **{"ca_file": self.ca_file, **kw})
