"""The publisher runs its MQTT I/O in its own thread (hallq/mqttlink.py, ``WireConnection.start(waker)``), against
a real Mosquitto.

No paho: the publisher's thread writes a step's messages, reads the acknowledgements,
pings the broker while idle and reconnects. Checked here: every call arrives once and in order across a
broker restart (the calls committed while it was away included), and an idle publisher keeps its
connection to a broker that drops a client silent for 1.5 keepalives; a broker host that never answers
holds the thread for the connect timeout only, and the publisher stops while it is connecting.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import time

import pytest

from hallq import contract, mqtt
from hallq.mqtt import BrokerAddress, Waker
from hallq.mqttlink import WireConnection
from hallq.testing import MqttCollector, wait_until
from queue_server.publisher import Publisher
from tests.conftest import make_id
from tests.faults.test_broker_restart import PersistentBroker, StaySubscribed

SITE = "tiny"


def test_every_call_in_order_across_a_broker_restart(api, publisher, tmp_path):
    broker = PersistentBroker(tmp_path)
    broker.start()
    board = StaySubscribed(broker.url)
    try:
        assert board.connected.wait(10)
        _, conn = publisher(broker.url)
        for i in range(12):
            api.issue("beta", id_number=make_id(seq=i))  # alpha's daily limit is 5
        api.open_window(2, "102")

        def calls(n: int) -> None:
            for _ in range(n):
                api.act(2, "call-next", "102", {"complete_current": True})

        calls(4)
        wait_until(lambda: len(board.seqs) == 4, 10, "the first four calls")
        broker.stop()
        wait_until(lambda: not conn.connected.is_set(), 10, "the publisher to see the broker gone")
        calls(4)  # committed while the broker is away: the outbox sends them on reconnect
        broker.start()
        wait_until(lambda: conn.connected.is_set(), 20, "the publisher to reconnect")
        calls(4)
        wait_until(lambda: len(board.seqs) >= 12, 20, "all twelve calls")
        assert board.seqs == list(range(1, 13))
    finally:
        board.close()
        broker.stop()


def test_an_idle_publisher_keeps_its_connection(api, publisher, mosquitto):
    status = contract.STATUS.topic(SITE, kind="server", id="queue")
    sub = MqttCollector(mosquitto.url, f"hallq/{SITE}/#")
    try:
        _, conn = publisher(mosquitto.url, keepalive=2)  # Mosquitto drops a client silent for 3 s
        sub.wait_for(lambda t, p: t == status and p.get("state") == "online")
        dropped = threading.Event()
        conn.on_disconnect(dropped.set)
        assert not dropped.wait(7.5), "the broker dropped the idle publisher: no keepalive"
        assert all(p.get("state") == "online" for p in sub.of(status)), "its last will was published"
        api.issue("alpha")
        api.open_window(1, "101")
        api.act(1, "call-next", "101")
        _, call = sub.wait_for(lambda t, p: t == contract.CALLS.topic(SITE))
        assert call["ticket"] == "A001"
    finally:
        sub.close()


def test_the_waker_wakes_a_select_and_clears():
    w = Waker()
    assert not w.wait(0.01)
    threading.Timer(0.05, w.set).start()
    assert w.wait(5) and w.is_set()
    w.set()  # again: nothing more to drain
    w.clear()
    assert not w.is_set() and not w.wait(0.01)
    os.eventfd_write(w.fileno(), 1)  # a set() that flagged before the last clear() and wrote after it
    assert not w.wait(5)  # a stray write: drained, the flag stays down
    assert not select.select([w], [], [], 0)[0], "still readable: every later wait would return at once"


@pytest.fixture
def silent_broker():
    """A port whose host never answers a new connection: a listening socket with a full backlog drops the
    SYN, as a host that is down or firewalled does (a refused port would fail at once)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    filler = socket.create_connection(srv.getsockname(), timeout=2)  # the one slot of the backlog
    yield f"mqtt://127.0.0.1:{srv.getsockname()[1]}"
    filler.close()
    srv.close()


def test_a_silent_broker_host_holds_the_io_thread_for_the_connect_timeout_only(silent_broker):
    conn = WireConnection(BrokerAddress.parse(silent_broker), SITE, "server", "queue")
    conn.start(Waker())
    t0 = time.monotonic()
    conn.serve(0.1)  # the first attempt to connect
    held = time.monotonic() - t0
    assert mqtt.CONNECT_TIMEOUT - 0.2 <= held <= mqtt.CONNECT_TIMEOUT + 1.0, f"held {held:.2f} s"
    assert not conn.connected.is_set()


def _connecting(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "create_connection":
            return True
        frame = frame.f_back
    return False


def test_the_publisher_stops_while_connecting_to_a_silent_broker_host(state, silent_broker):
    conn = WireConnection(BrokerAddress.parse(silent_broker), SITE, "server", "queue")
    p = Publisher(state.db, state.hall, lambda: conn, state.data_dir)
    p.start()
    wait_until(lambda: _connecting(p._thread), 10, "the publisher to try to connect")
    t0 = time.monotonic()
    p.stop(timeout=5.0)
    assert not p._thread.is_alive(), "the publisher's thread outlived stop()"
    assert time.monotonic() - t0 <= mqtt.CONNECT_TIMEOUT + 1.0
