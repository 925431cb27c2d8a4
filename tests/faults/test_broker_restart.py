"""The broker restarted while two windows call every few hundred milliseconds.

Everything that listens recovers by itself, with no restart of its own:

* a display board (the board's real model and feed, on a real connection)
  shows the newest call and the right recent calls again, and its
  "connection lost" banner goes away;
* the device gateway (in-process, simulated LED strips) shows each window's
  current call on its strip again;
* the voice announcer (the real ``hallq announce`` process, WAV output)
  comes back online and announces the calls made after the restart;
* a board that stays subscribed (a persistent MQTT session, which a
  persistent Mosquitto keeps over its restart) loses no call: it receives
  every call sequence number, the ones committed while the broker was away
  included (the server's outbox republishes them when it reconnects).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import functools
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from display_board.board_main import BOARD_TOPICS
from display_board.model import BoardModel
from display_board.settings import load_boards
from hallq import contract
from hallq.client import ApiError
from hallq.feed import HallFeed
from hallq.mqtt import BrokerAddress, Connection
from hallq.testing import Mosquitto, mosquitto_binary, wait_until as _wait_until
from tests.conftest import KIOSK_KEY, TINY, make_id

wait_until = functools.partial(_wait_until, timeout=20.0)  # a broker restart takes a few seconds

pytestmark = pytest.mark.slow

BOARD_FIXTURES = Path(__file__).resolve().parents[1] / "display_board" / "fixtures"
SITE = "tiny"




class PersistentBroker(Mosquitto):
    """Mosquitto that keeps sessions and queued QoS 1 messages over a restart (saved when it stops)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        # run as root (CI containers), Mosquitto would drop to its own user, which cannot write in a
        # private test directory: "user root" keeps it as it was started
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {workdir}/\nuser root\nset_tcp_nodelay true\nlog_dest none\n")


class StaySubscribed:
    """A board that stays subscribed: persistent session (clean_session=False), QoS 1 on the calls."""

    def __init__(self, url: str) -> None:
        addr = BrokerAddress.parse(url)
        self.seqs: list[int] = []
        self.sessions: list[bool] = []  # session_present of each connection
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="faults-stay-subscribed",
                                  clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        self.sessions.append(bool(flags.session_present))
        client.subscribe(contract.CALLS.topic(SITE), 1)
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.seqs.append(json.loads(msg.payload)["seq"])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class LiveBoard:
    """The board's Kivy-free model on its real feed, updated under a lock as the Kivy main thread would."""

    def __init__(self, url: str) -> None:
        self.model = BoardModel(load_boards(BOARD_FIXTURES / "board.toml")["test"])
        self.lock = threading.Lock()
        self.conn = Connection(BrokerAddress.parse(url), SITE, "board", "faults")
        self.feed = HallFeed(self.conn, SITE, BOARD_TOPICS, deliver=self._deliver, on_link=self._link)
        self.feed.start()
        self.conn.start()

    def _deliver(self, topic, params, payload) -> None:
        with self.lock:
            self.model.apply(topic, params, payload)

    def _link(self, up: bool) -> None:
        with self.lock:
            self.model.set_link(up)

    def state(self) -> tuple[bool, int | None, list[str]]:
        with self.lock:
            newest = self.model.newest
            return self.model.link_ok, newest.seq if newest else None, [c.ticket for c in self.model.recent]


@pytest.fixture
def broker(tmp_path):
    if not mosquitto_binary():
        pytest.fail("mosquitto is not installed: run ./run.sh setup")
    m = PersistentBroker(tmp_path)
    m.start()
    yield m
    m.stop()


def gateway_config(tmp_path: Path) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(f'[gateway]\nid = "gateway-1"\nhall = "{TINY}"\nkey = "demo-gateway-1"\n'
                    'poll_interval_ms = 20\nprobe_interval_ms = 300\noffline_after_ms = 600\n'
                    'reopen_interval_ms = 200\nreply_timeout_ms = 40\nretries = 1\nrating_poll_ms = 300\n'
                    '[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = 2\n'
                    '[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = 3\n', encoding="utf-8")
    return path


def test_broker_restart_under_load(tmp_path, broker, server_proc, monkeypatch):
    from device_gateway.config import load_gateway
    from device_gateway.gateway import Gateway

    server = server_proc(mqtt_url=broker.url)
    kiosk = server.client(KIOSK_KEY)
    for i in range(150):
        kiosk.issue_ticket("beta", id_number=make_id(seq=i + 1))

    stay = StaySubscribed(broker.url)
    board = LiveBoard(broker.url)
    monkeypatch.setenv("HALLQ_MQTT_URL", broker.url)
    gateway = Gateway(load_gateway(gateway_config(tmp_path), server=server.url))
    gateway.start()
    data = tmp_path / "announcer"
    env = {**os.environ, "HALLQ_MQTT_URL": broker.url, "HALLQ_DATA_DIR": str(data)}
    ann_log = open(tmp_path / "announce.log", "w+")
    announcer = subprocess.Popen([sys.executable, "-m", "launcher", "announce", "--config", str(TINY), "--data-dir",
                                  str(data), "--announcer", str(BOARD_FIXTURES / "announcer.toml")],
                                 env=env, stdout=ann_log, stderr=subprocess.STDOUT)
    status = StatusWatch(broker.url)
    calls: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    try:
        assert stay.connected.wait(10)
        wait_until(lambda: board.state()[0], what="the board online")
        wait_until(lambda: status.online("announcer", "test"), what="the announcer online")
        clerks = {}
        for n, job in ((2, "102"), (3, "103")):
            c = server.client()
            c.login(job, "hallq-demo")
            c.window_action(n, "sign-in")
            clerks[n] = c

        def window(n: int) -> None:
            try:
                while not stop.is_set():
                    r = clerks[n].call_next(n, complete_current=True)
                    with lock:
                        calls.append(r)
                    stop.wait(0.25)
            except ApiError as e:
                if e.code != "nobody_waiting":
                    errors.append(e)

        threads = [threading.Thread(target=window, args=(n,)) for n in (2, 3)]
        for t in threads:
            t.start()
        wait_until(lambda: len(calls) >= 6, what="calls before the restart")
        broker.stop()  # Mosquitto goes away mid-load; the windows keep calling
        made_while_away = len(calls)
        wait_until(lambda: len(calls) >= made_while_away + 6, what="calls while the broker is away")
        status.reset()
        broker.start()
        wait_until(lambda: status.online("server", "queue"), what="the server back on the broker")
        wait_until(lambda: len(calls) >= made_while_away + 14, what="calls after the restart")
        stop.set()
        for t in threads:
            t.join(10)
        assert not errors, errors
        last = max(c["seq"] for c in calls)

        # a board that stayed subscribed lost nothing, the calls made while the broker was away included
        wait_until(lambda: max(stay.seqs, default=0) >= last, what="the last call at the persistent subscriber")
        assert len(stay.sessions) >= 2 and stay.sessions[-1], "the broker did not keep the subscriber's session over its restart"
        assert set(range(1, last + 1)) <= set(stay.seqs), sorted(set(range(1, last + 1)) - set(stay.seqs))

        # the display board: back online, newest call and recent calls as the server has them
        recent = [c["ticket"] for c in server.client().get("/calls")][:6]
        _, newest, shown = wait_until(lambda: (s := board.state())[0] and s[1] == last and s,
                                      what="the board's newest call")
        assert shown == recent[:len(shown)] and len(shown) == 6

        # the gateway's strips: each shows its window's current call
        current = {w["number"]: w["current"]["ticket"] for w in server.client().get("/windows") if w["current"]}
        for n in (2, 3):
            strip = gateway.simulators[f"strip-{n}"]
            assert strip.wait_for(lambda s, n=n: s.text == f"请{current[n]}到{n}号窗口", 15), list(strip.history)[-5:]

        # the announcer came back online by itself and announces calls made after the restart
        wait_until(lambda: status.online("announcer", "test"), what="the announcer online again")
        final = next(c for c in calls if c["seq"] == last)["ticket"]["ticket"]
        wait_until(lambda: final in _read(ann_log), timeout=30, what=f"{final} announced")
        assert announcer.poll() is None
    finally:
        stop.set()
        status.close()
        announcer.terminate()
        announcer.wait(15)
        gateway.stop()
        board.conn.stop()
        stay.close()


def _read(f) -> str:
    f.seek(0)
    return f.read()


class StatusWatch:
    """When each process last said "online" (the time in its status message, UTC)."""

    def __init__(self, url: str) -> None:
        addr = BrokerAddress.parse(url)
        self.online_at: dict[tuple[str, str], datetime] = {}
        self.since = datetime.min.replace(tzinfo=timezone.utc)
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"faults-status-{time.monotonic_ns()}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"hallq/{SITE}/status/#", 1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        kind, ident = msg.topic.split("/")[-2:]
        try:
            body = json.loads(msg.payload)
            at = datetime.fromisoformat(body["at"])
        except (ValueError, KeyError, TypeError):
            return
        if body.get("state") == "online":
            with self.lock:
                self.online_at[(kind, ident)] = max(at, self.online_at.get((kind, ident), at))

    def online(self, kind: str, ident: str) -> bool:
        """Online, said after the last :meth:`reset` (a retained "online" from before does not count)."""
        with self.lock:
            at = self.online_at.get((kind, ident))
            return at is not None and at >= self.since

    def reset(self) -> None:
        with self.lock:
            self.since = datetime.now(timezone.utc)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
