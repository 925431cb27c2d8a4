"""hallq.mqtt's paho client: the short road for a 3.1.1 PUBACK and the buffered reads of ``start(waker)``.

Both replace a piece of paho 2's packet handling for speed (docs/performance.md, "MQTT's part"); these
tests hold them to paho's own behaviour: every QoS 1 message acknowledged and reported as paho reports
it, bytes read ahead never lost, never read twice and never waiting for a select() that cannot see them.
"""

from __future__ import annotations

import socket
import time

import paho.mqtt.client as paho
import pytest

from hallq import mqtt
from hallq.mqtt import BrokerAddress, Connection, Waker


def _served(conn: Connection, until, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out serving the connection"
        conn.serve(0.05)


def _started(url: str, ident: str) -> tuple[Connection, Waker]:
    conn = Connection(BrokerAddress.parse(url), "tiny", "server", ident)
    waker = Waker()
    conn.start(waker)
    _served(conn, conn.connected.is_set)
    return conn, waker


def test_every_qos1_message_is_acknowledged_the_short_way(mosquitto, monkeypatch):
    long_way = []
    original = paho.Client._handle_pubackcomp
    monkeypatch.setattr(paho.Client, "_handle_pubackcomp",
                        lambda self, cmd: long_way.append(cmd) or original(self, cmd))
    conn, _ = _started(mosquitto.url, "acks")
    reported = []
    conn.client.on_publish = lambda c, u, mid, rc, props: reported.append((mid, rc.is_failure, rc.value))
    try:
        infos = [conn.client.publish("hallq/tiny/journal", b"x" * n, qos=1) for n in range(1, 61)]
        _served(conn, lambda: all(i.is_published() for i in infos))
        assert not conn.client._out_messages, "an acknowledged message is still held for re-sending"
        assert conn.client._inflight_messages == 0
        assert {i.mid for i in infos} <= {m for m, _, _ in reported}  # (and its own "online", maybe)
        assert all(not failed and value == 0 for _, failed, value in reported), "a 3.1.1 PUBACK is success"
        assert long_way == [], "a 3.1.1 PUBACK went through paho's MQTT 5 decoding"
    finally:
        conn.stop()


def test_a_puback_for_an_unknown_packet_id_is_ignored(mosquitto):
    conn, _ = _started(mosquitto.url, "unknown")
    try:
        client = conn.client
        client._in_packet["packet"] = bytearray(b"\x7f\xfe")  # no such message outstanding
        assert client._handle_pubackcomp("PUBACK") == paho.MQTT_ERR_SUCCESS
        assert conn.publish("hallq/tiny/journal", b"after", qos=1)  # and the connection carries on
        _served(conn, lambda: not client._out_messages)
    finally:
        conn.stop()


@pytest.fixture
def pair():
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    yield ours, broker
    ours.close()
    broker.close()


def _buffered_client(sock) -> mqtt._Client:
    c = mqtt._Client(paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311)
    c._buffered = True
    c._sock = sock
    return c


def test_buffered_reads_hand_out_each_byte_once_in_order(pair):
    ours, broker = pair
    c = _buffered_client(ours)
    broker.sendall(b"abcdefgh")
    assert c._sock_recv(1) == b"a"  # one recv took all eight
    assert c.unread()
    assert c._sock_recv(3) == b"bcd"
    assert c._sock_recv(10) == b"efgh"  # no more than what is left: the next read goes to the socket
    assert not c.unread()
    with pytest.raises(BlockingIOError):
        c._sock_recv(1)
    broker.sendall(b"ij")
    assert c._sock_recv(5) == b"ij"  # fits the ask: handed over as it came
    broker.close()
    assert c._sock_recv(1) == b""  # the end of the stream, as paho expects it


def test_bytes_read_ahead_on_an_old_connection_are_dropped_with_it(pair):
    ours, broker = pair
    c = _buffered_client(ours)
    broker.sendall(b"old bytes")
    assert c._sock_recv(1) == b"o"
    fresh, fresh_broker = socket.socketpair()
    fresh.setblocking(False)
    try:
        c._sock = fresh  # paho reconnected: a new socket
        assert not c.unread()
        fresh_broker.sendall(b"N")
        assert c._sock_recv(4) == b"N"
    finally:
        fresh.close()
        fresh_broker.close()


def test_paho_thread_connections_read_as_paho_does(pair):
    ours, broker = pair
    c = mqtt._Client(paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311)
    c._sock = ours
    broker.sendall(b"abc")
    assert c._sock_recv(1) == b"a"
    assert not c.unread(), "read ahead without start(waker): paho's own loop would not see those bytes"
    assert c._sock_recv(5) == b"bc"


def test_messages_read_ahead_are_delivered_without_more_traffic(mosquitto):
    """Many messages land in one recv(); the ones paho has not parsed yet sit in our buffer, where select()
    cannot see them: serve() must hand them over at once, not at the next byte from the broker."""
    conn, _ = _started(mosquitto.url, "reader")
    got: list[bytes] = []
    subscribed = []
    conn.client.on_subscribe = lambda *a: subscribed.append(1)
    conn.subscribe("hallq/tiny/devices/#", lambda t, p, r: got.append(p), qos=0)
    _served(conn, lambda: subscribed)
    sender = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="t-sender")
    sender.connect("127.0.0.1", mosquitto.port)
    sender.loop_start()
    try:
        # one publish per message, one batch: the broker sends them back to back, in one segment or few
        infos = [sender.publish(f"hallq/tiny/devices/k{i}", f"m{i}".encode(), qos=1) for i in range(200)]
        for info in infos:
            info.wait_for_publish(5)
        deadline = time.monotonic() + 10
        while len(got) < 200 and time.monotonic() < deadline:
            conn.serve(1.0)  # a read that leaves parsed-but-unhandled bytes must not wait out this second
        assert got == [f"m{i}".encode() for i in range(200)]
    finally:
        sender.loop_stop()
        sender.disconnect()
        conn.stop()
