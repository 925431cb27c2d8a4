"""What the tests and benchmarks of every part share; it needs no application package.

* :class:`Mosquitto`: a real Mosquitto on a free port (stop, start again on the same port);
* :class:`MqttCollector`: a real subscriber that lets a caller wait for a message by
  condition instead of sleeping;
* :func:`wait_port`, :func:`wait_until`, and the paths :data:`ROOT` and :data:`TINY` (the tiny test hall).

A real ``hallq serve`` is :class:`launcher.processes.ServerProcess`: it starts the command.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho

from hallq.broker import mosquitto_binary  # also re-exported for the tests
from hallq.client import free_port

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny-hall" / "hall.toml"


class Mosquitto:
    """A test broker that takes anyone (the tests' own, never a hall's: see hallq/broker.py)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"
                             "log_dest none\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([mosquitto_binary() or "mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, 10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition"):
    """Poll ``predicate`` (cheap, local state or one request) until it returns something true, and return it.

    For what happens in other threads and processes and has no event to wait on.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"{what} not reached in {timeout} s")


class MqttCollector:
    """A real subscriber: records every message, lets a test wait for one by condition."""

    def __init__(self, url: str, topic_filter: str, username: str = "", password: str = "") -> None:
        from hallq.mqtt import BrokerAddress

        addr = BrokerAddress.parse(url, username, password)
        self.messages: list[tuple[str, dict, bool, float]] = []
        self._cond = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
        if addr.username:
            self.client.username_pw_set(addr.username, addr.password)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, 1)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = {"_raw": msg.payload}
        with self._cond:
            self.messages.append((msg.topic, payload, bool(msg.retain), time.perf_counter()))
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[str, dict], bool], timeout: float = 10.0) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for topic, payload, _, _ in self.messages:
                    if pred(topic, payload):
                        return topic, payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching message in {timeout} s; got topics "
                                       f"{sorted({t for t, *_ in self.messages})}")
                self._cond.wait(left)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    def of(self, topic: str) -> list[dict]:
        with self._cond:
            return [p for t, p, _, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
