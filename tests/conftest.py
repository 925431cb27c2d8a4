"""Fixtures: a hall on a frozen virtual clock, its Flask app, real servers and real brokers.

* ``app`` / ``api``: the Flask app of the tiny test hall on a frozen clock
  (Monday 2026-11-23 09:30), no MQTT; ``api`` adds auth helpers.
* ``service`` + ``actors``: the domain without HTTP.
* ``mosquitto``: a real Mosquitto on a free port (stoppable, restartable).
* ``server_proc``: a real ``hallq serve`` subprocess (Granian) on a free port.
* ``pulse``: a real PulseAudio server with a null sink, for the real sound players.
* ``MqttCollector``: subscribes and lets a test wait for a message by
  condition; no test sleeps for a message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from hallq.clock import CHINA, VirtualClock
from hallq.demo import DEMO_PASSWORD
from hallq.testing import (ROOT, TINY, Mosquitto, MqttCollector, mosquitto_binary,  # noqa: F401 (re-exported)
                           wait_port, wait_until)
from launcher.processes import ServerProcess

# A message missing from a catalogue fails the test that shows it, instead of falling back
# to Simplified Chinese (hallq/i18n); inherited by the servers and devices tests start.
os.environ["HALLQ_I18N_STRICT"] = "1"

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

    application = create_app(TINY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
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


@pytest.fixture
def mosquitto(tmp_path):
    if not mosquitto_binary():
        pytest.fail("mosquitto is not installed: run ./run.sh setup (it installs it)")
    m = Mosquitto(tmp_path)
    m.start()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A real PulseAudio daemon with a null sink (a loudspeaker nobody hears), on a socket of its own: the
    environment a player needs to reach it (the kiosk's read-aloud, the board's sound device driver)."""
    if not shutil.which("pulseaudio") or not shutil.which("paplay"):
        pytest.fail("pulseaudio and paplay are needed: apt-get install pulseaudio pulseaudio-utils (./run.sh setup)")
    home = tmp_path_factory.mktemp("pulse")
    socket = home / "native"
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    proc = subprocess.Popen(["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disable-shm=yes",
                             "--use-pid-file=no", "--log-target=stderr", "-L", "module-null-sink sink_name=hall",
                             "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: socket.exists() or proc.poll() is not None, 10, "pulseaudio's socket")
    assert proc.poll() is None, "pulseaudio did not start"
    yield {"PULSE_SERVER": f"unix:{socket}", "PATH": os.environ["PATH"], "HOME": str(home)}
    proc.terminate()
    proc.wait(10)


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


def own_broker_hall(tmp_path, mqtt: str = "") -> tuple[Path, int]:
    """A copy of the tiny hall whose ``[mqtt]`` runs the hall's own broker on a free port (plus ``mqtt`` lines).

    Start it with ``server_proc(config=..., mqtt_url="")``; returns the hall.toml and the broker's port.
    """
    import shutil

    from hallq.client import free_port

    port = free_port()
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copy(TINY.parent / "services.toml", conf / "services.toml")
    (conf / "hall.toml").write_text(TINY.read_text().replace(
        "[hours]", f'[mqtt]\nurl = ""\n{mqtt}embedded_listen = "127.0.0.1:{port}"\n\n[hours]', 1))
    return conf / "hall.toml", port
