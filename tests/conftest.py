"""Fixtures: a hall on a frozen virtual clock, its Flask app, real servers and real brokers.

* ``app`` / ``api``: the Flask app of the tiny test hall on a frozen clock
  (Monday 2026-11-23 09:30), no MQTT; ``api`` adds auth helpers.
* ``service`` + ``actors``: the domain without HTTP.
* ``mosquitto``: a real Mosquitto on a free port (stoppable, restartable).
* ``server_proc``: a real ``hallq serve`` subprocess (gunicorn) on a free port.
* ``MqttCollector``: subscribes and lets a test wait for a message by
  condition; no test sleeps for a message.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from hallq.clock import CHINA, VirtualClock
from hallq.client import HallClient, free_port
from hallq.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny-hall" / "hall.toml"
CITY = ROOT / "config" / "city-hall" / "hall.toml"
MONDAY_0930 = datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
KIOSK_KEY = "demo-kiosk-1"
GATEWAY_KEY = "demo-gateway-1"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(MONDAY_0930, rate=0)


@pytest.fixture
def app(tmp_path, clock):
    from queue_server.app import create_app

    application = create_app(TINY, data_dir=tmp_path / "data", clock=clock, mqtt=False)
    yield application
    application.extensions["hallq"].close()


@pytest.fixture
def state(app):
    return app.extensions["hallq"]


@pytest.fixture
def service(state):
    return state.service


class Api:
    """The Flask test client with tokens: ``api.post(path, body, as_="kiosk")``."""

    def __init__(self, client) -> None:
        self.client = client
        self.tokens: dict[str, str] = {"kiosk": KIOSK_KEY, "gateway": GATEWAY_KEY}

    def login(self, job_no: str, password: str = DEMO_PASSWORD) -> str:
        r = self.client.post("/api/v1/auth/login", json={"job_no": job_no, "password": password})
        assert r.status_code == 200, r.get_json()
        self.tokens[job_no] = r.get_json()["token"]
        return self.tokens[job_no]

    def _headers(self, as_: str | None, headers: dict | None) -> dict:
        h = dict(headers or {})
        if as_ is not None:
            if as_ not in self.tokens:
                self.login(as_)
            h["Authorization"] = f"Bearer {self.tokens[as_]}"
        return h

    def get(self, path: str, as_: str | None = None, **kw):
        return self.client.get(f"/api/v1{path}", headers=self._headers(as_, kw.pop("headers", None)), **kw)

    def post(self, path: str, body=None, as_: str | None = None, **kw):
        return self.client.post(f"/api/v1{path}", json=body if body is not None else {},
                                headers=self._headers(as_, kw.pop("headers", None)), **kw)

    def put(self, path: str, body=None, as_: str | None = None, **kw):
        return self.client.put(f"/api/v1{path}", json=body, headers=self._headers(as_, kw.pop("headers", None)), **kw)

    def ok(self, method: str, path: str, body=None, as_: str | None = None, status: int = 200) -> dict:
        r = getattr(self, method)(path, body, as_=as_) if method != "get" else self.get(path, as_=as_)
        assert r.status_code == status, (r.status_code, r.get_json())
        return r.get_json()

    def issue(self, business: str = "alpha", **body) -> dict:
        return self.ok("post", "/tickets", {"business": business, **body}, as_="kiosk", status=201)

    def open_window(self, number: int, job_no: str) -> dict:
        return self.ok("post", f"/windows/{number}/sign-in", as_=job_no)

    def act(self, number: int, action: str, job_no: str, body=None) -> dict:
        return self.ok("post", f"/windows/{number}/{action}", body, as_=job_no)


@pytest.fixture
def api(app) -> Api:
    return Api(app.test_client())


# -- ID numbers ----------------------------------------------------------------------

def make_id(birth: str = "19850615", area: str = "520201", seq: int = 123) -> str:
    """A valid GB 11643 ID number for tests (real check digit, fictitious person)."""
    from hallq.privacy import id_check_char

    first17 = f"{area}{birth}{seq:03d}"
    return first17 + id_check_char(first17)


# -- real Mosquitto ---------------------------------------------------------------------

class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "log_dest none\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
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


@pytest.fixture
def mosquitto(tmp_path):
    if not (shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto")):
        pytest.fail("mosquitto is not installed: run ./run.sh setup (it installs it)")
    m = Mosquitto(tmp_path)
    m.start()
    yield m
    m.stop()


class MqttCollector:
    """A real subscriber: records every message, lets a test wait for one by condition."""

    def __init__(self, url: str, topic_filter: str) -> None:
        from hallq.mqtt import BrokerAddress

        addr = BrokerAddress.parse(url)
        self.messages: list[tuple[str, dict, bool, float]] = []
        self._cond = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
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


# -- a real server process ----------------------------------------------------------------

class ServerProcess:
    """``python -m hallq serve`` (gunicorn) in a subprocess, killable with SIGKILL."""

    def __init__(self, data_dir: Path, config: Path = TINY, mqtt_url: str | None = None,
                 clock: str = "2026-11-23T09:30:00+08:00", workers: int = 1, threads: int = 8) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.config = config
        self.mqtt_url = mqtt_url
        self.clock = clock
        self.workers = workers
        self.threads = threads
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        env = {**os.environ, "HALLQ_DATA_DIR": str(self.data_dir)}
        if self.mqtt_url is not None:
            env["HALLQ_MQTT_URL"] = self.mqtt_url
        else:
            env["HALLQ_MQTT_URL"] = "mqtt://127.0.0.1:1"  # nothing listens: the server must cope
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hallq", "serve", "--config", str(self.config), "--port", str(self.port),
             "--virtual-clock", self.clock, "--workers", str(self.workers), "--threads", str(self.threads)],
            env=env, stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True)
        client = HallClient(self.url, retries=0, timeout=1)
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
        """SIGKILL the whole server (gunicorn master and workers): a crash, no cleanup."""
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
        return HallClient(self.url, token=token, **kw)


@pytest.fixture
def server_proc(tmp_path):
    servers: list[ServerProcess] = []

    def make(**kw) -> ServerProcess:
        s = ServerProcess(tmp_path / f"server{len(servers)}", **kw)
        servers.append(s)
        s.start()
        return s

    yield make
    for s in servers:
        s.stop()
