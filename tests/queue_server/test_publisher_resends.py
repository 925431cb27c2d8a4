"""What the publisher re-sends, and how it says so: a real Mosquitto, the publisher's own connection.

* A call committed while the broker was away goes out when it is back with ``"replayed": true``; a live call
  never has it (the announcer judges the age of re-sent calls only: a stepped clock silences no live call).
* A clean stop saves the cursor: a server restarted at once re-sends nothing (before, the cursor was saved at
  most once a second and not at stop, so the last second's calls were sent, and announced, twice).
"""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as paho
import pytest

from hallq import contract
from hallq.mqtt import BrokerAddress
from hallq.testing import wait_until
from tests.conftest import make_id
from tests.faults.test_broker_restart import PersistentBroker

SITE = "tiny"


class Calls:
    """A subscriber that stays subscribed (persistent session, QoS 1): every call payload, in arrival order."""

    def __init__(self, url: str, client_id: str) -> None:
        addr = BrokerAddress.parse(url)
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(contract.CALLS.topic(SITE), 1),
                                                         self.connected.set())
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.calls.append(contract.decode(contract.CALLS, msg.payload))

    def seqs(self) -> list[int]:
        with self.lock:
            return [c["seq"] for c in self.calls]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    b = PersistentBroker(tmp_path)
    b.start()
    yield b
    b.stop()


def calls(api, n: int) -> None:
    for _ in range(n):
        api.act(2, "call-next", "102", {"complete_current": True})


def test_a_call_held_while_the_broker_was_away_is_marked_replayed_and_a_live_one_is_not(api, broker, publisher):
    sub = Calls(broker.url, "resends-replayed")
    try:
        assert sub.connected.wait(10)
        _, conn = publisher(broker.url)
        for i in range(9):
            api.issue("beta", id_number=make_id(seq=i))
        api.open_window(2, "102")
        calls(api, 3)
        wait_until(lambda: sub.seqs() == [1, 2, 3], 10, "the live calls")
        broker.stop()
        wait_until(lambda: not conn.connected.is_set(), 10, "the publisher to see the broker gone")
        calls(api, 3)  # committed while the broker is away
        broker.start()
        wait_until(lambda: conn.connected.is_set(), 20, "the publisher to reconnect")
        wait_until(lambda: len(sub.seqs()) >= 6, 20, "the held calls")
        calls(api, 2)
        wait_until(lambda: len(sub.seqs()) >= 8, 20, "the calls after the restart")
        with sub.lock:
            got = {c["seq"]: c.get("replayed") for c in sub.calls}
        assert got == {1: None, 2: None, 3: None, 4: True, 5: True, 6: True, 7: None, 8: None}
        with sub.lock:
            raw = [c for c in sub.calls if c["seq"] == 4][0]
        assert contract.decode(contract.CALLS, json.dumps(raw))["replayed"] is True  # the contract documents it
    finally:
        sub.close()


def test_a_clean_stop_saves_the_cursor_and_a_restart_re_sends_nothing(api, state, broker, publisher):
    sub = Calls(broker.url, "resends-restart")
    try:
        assert sub.connected.wait(10)
        first, _ = publisher(broker.url)
        for i in range(6):
            api.issue("beta", id_number=make_id(seq=i))
        api.open_window(2, "102")
        calls(api, 3)  # within a second: the periodic save writes the cursor after the first only
        wait_until(lambda: sub.seqs() == [1, 2, 3], 10, "the three calls")
        first.stop()
        saved = state.db.connection().execute("SELECT value FROM meta WHERE key = 'published_seq'").fetchone()[0]
        assert int(saved) == first.cursor and first.cursor == state.db.connection().execute(
            "SELECT MAX(seq) FROM journal").fetchone()[0]

        publisher(broker.url)  # the server started again
        calls(api, 1)
        wait_until(lambda: 4 in sub.seqs(), 10, "the next call")
        assert sub.seqs() == [1, 2, 3, 4]  # nothing sent twice
    finally:
        sub.close()


class SilentLink:
    """A TCP proxy to the broker that can go silent: bytes in both directions are read and dropped, no reset (a
    cable pulled, a NAT that forgot the connection), and new connections are refused meanwhile."""

    def __init__(self, port: int) -> None:
        import socket

        self.target = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.silent = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            if self.silent.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst) -> None:
        try:
            while data := src.recv(65536):
                if not self.silent.is_set():
                    dst.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.closed.set()
        self.server.close()


def test_a_live_call_unacknowledged_when_the_link_went_quiet_is_sent_again_marked_replayed(api, broker, publisher):
    """The link keeps the calls the broker has not acknowledged and sends them again on the next connection: after
    a silent drop, up to 1.5 keepalives of calls. They were sent as live; sent again (perhaps minutes later) they
    say they are re-sent, so the announcer judges their age instead of reading them as live."""
    sub = Calls(broker.url, "resends-quiet-link")
    link = SilentLink(broker.port)
    try:
        assert sub.connected.wait(10)
        _, conn = publisher(f"mqtt://127.0.0.1:{link.port}", keepalive=2)
        for i in range(9):
            api.issue("beta", id_number=make_id(seq=i))
        api.open_window(2, "102")
        calls(api, 1)
        wait_until(lambda: sub.seqs() == [1], 10, "the live call")
        link.silent.set()
        calls(api, 1)  # written to the socket, never acknowledged
        wait_until(lambda: conn._inflight, 5, "the call in flight")
        wait_until(lambda: not conn.connected.is_set(), 20, "the publisher to give the quiet link up")
        calls(api, 1)  # committed while disconnected
        link.silent.clear()
        wait_until(lambda: {2, 3} <= set(sub.seqs()), 30, "the calls sent again")
        with sub.lock:
            marks = {c["seq"]: c.get("replayed") for c in sub.calls}
        assert marks[1] is None and marks[2] is True and marks[3] is True, marks
    finally:
        sub.close()
        link.close()
