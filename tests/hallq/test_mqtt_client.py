"""The MQTT clients' own code against real and scripted brokers.

* hallq.mqtt's paho client: the short road for a 3.1.1 PUBACK, held to paho's behaviour (every QoS 1 message
  acknowledged and reported as paho reports it);
* hallq/mqttlink.py, the server publisher's connection without paho: what a real Mosquitto sends in one read
  is all handled at once; a QoS 1 message unacknowledged when the connection drops is sent again after the
  reconnect, in order and marked DUP; a broker silent for 1.5 keep-alives is dropped; a refusal is logged
  with its cause; our availability is put back when someone overwrites it; its topic filters match as
  MQTT's do (checked against paho's).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import paho.mqtt.client as paho

from hallq import mqtt, mqttwire
from hallq.mqtt import BrokerAddress, Connection, Waker
from hallq.mqttlink import WireConnection, topic_matches
from hallq.testing import MqttCollector, wait_until


def _served(conn: WireConnection, until, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out serving the connection"
        conn.serve(0.05)


def _wire(url: str, ident: str, subscribe: tuple | None = None) -> WireConnection:
    """Connected, its subscriptions in force: the broker handles a client's packets in order, so once our
    "online" (sent after the SUBSCRIBE) is acknowledged, the subscription is there."""
    conn = WireConnection(BrokerAddress.parse(url), "tiny", "server", ident)
    if subscribe:
        conn.subscribe(*subscribe)
    conn.start(Waker())
    _served(conn, lambda: conn.connected.is_set() and not conn._inflight)
    return conn


# -- hallq.mqtt (paho) ---------------------------------------------------------------------------------------

def test_every_qos1_message_is_acknowledged_the_short_way(mosquitto, monkeypatch):
    long_way = []
    original = paho.Client._handle_pubackcomp
    monkeypatch.setattr(paho.Client, "_handle_pubackcomp",
                        lambda self, cmd: long_way.append(cmd) or original(self, cmd))
    conn = Connection(BrokerAddress.parse(mosquitto.url), "tiny", "board", "acks")
    reported = []
    conn.client.on_publish = lambda c, u, mid, rc, props: reported.append((mid, rc.is_failure, rc.value))
    conn.start()
    try:
        assert conn.wait_connected(10)
        infos = [conn.client.publish("hallq/tiny/journal", b"x" * n, qos=1) for n in range(1, 61)]
        for info in infos:
            info.wait_for_publish(10)
        wait_until(lambda: not conn.client._out_messages, 10, "no message held for re-sending")
        assert conn.client._inflight_messages == 0
        assert {i.mid for i in infos} <= {m for m, _, _ in reported}  # (and its own "online", maybe)
        assert all(not failed and value == 0 for _, failed, value in reported), "a 3.1.1 PUBACK is success"
        assert long_way == [], "a 3.1.1 PUBACK went through paho's MQTT 5 decoding"
    finally:
        conn.stop()


def test_a_puback_for_an_unknown_packet_id_is_ignored():
    client = mqtt._Client(paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311)
    client._in_packet["packet"] = bytearray(b"\x7f\xfe")  # no such message outstanding
    assert client._handle_pubackcomp("PUBACK") == paho.MQTT_ERR_SUCCESS
    assert not client._out_messages


# -- hallq.mqttlink against a real Mosquitto ---------------------------------------------------------------------

def test_messages_that_come_in_one_read_are_all_delivered_at_once(mosquitto):
    got: list[bytes] = []
    conn = _wire(mosquitto.url, "reader", ("hallq/tiny/devices/#", lambda t, p, r: got.append(p), 0))
    sender = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="t-sender")
    sender.connect("127.0.0.1", mosquitto.port)
    sender.loop_start()
    try:
        infos = [sender.publish(f"hallq/tiny/devices/k{i}", f"m{i}".encode(), qos=1) for i in range(200)]
        for info in infos:
            info.wait_for_publish(5)
        deadline = time.monotonic() + 10
        while len(got) < 200 and time.monotonic() < deadline:
            conn.serve(1.0)
        assert got == [f"m{i}".encode() for i in range(200)]
    finally:
        sender.loop_stop()
        sender.disconnect()
        conn.stop()


def test_an_overwritten_availability_is_put_back(mosquitto):
    conn = _wire(mosquitto.url, "guard")
    watcher = MqttCollector(mosquitto.url, conn.status_topic)
    try:
        watcher.wait_for(lambda t, p: p.get("state") == "online")
        intruder = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="t-intruder")
        intruder.connect("127.0.0.1", mosquitto.port)
        intruder.loop_start()
        intruder.publish(conn.status_topic, json.dumps({"state": "gone"}), qos=1, retain=True).wait_for_publish(5)
        intruder.loop_stop()
        intruder.disconnect()
        watcher.wait_for(lambda t, p: p.get("state") == "gone")
        n = len(watcher.of(conn.status_topic))
        deadline = time.monotonic() + 10
        while len(watcher.of(conn.status_topic)) == n and time.monotonic() < deadline:
            conn.serve(0.1)
        assert watcher.of(conn.status_topic)[-1]["state"] == "online"
    finally:
        conn.stop()
        watcher.wait_for(lambda t, p: p.get("state") == "stopped")
        watcher.close()


def test_topic_filters_match_as_pahos_do():
    cases = [("a/#", "a"), ("a/#", "a/b/c"), ("a/+", "a/b"), ("a/+", "a/b/c"), ("+/+", "a/b"), ("#", "$SYS/x"),
             ("+/x", "$SYS/x"), ("a/b", "a/b"), ("a/+/c", "a/b/c"), ("a/+/c", "a/b/d"), ("a/#", "b"),
             ("hallq/s/status/#", "hallq/s/status/kiosk/k1"), ("a/+", "a/"), ("a/#", "a/")]
    for topic_filter, topic in cases:
        assert topic_matches(topic_filter, topic) == paho.topic_matches_sub(topic_filter, topic), (topic_filter, topic)


# -- hallq.mqttlink against a scripted broker --------------------------------------------------------------------

class ScriptedBroker:
    """A TCP listener the test plays the broker on, packet by packet."""

    def __init__(self) -> None:
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(10)
        self.url = f"mqtt://127.0.0.1:{self.srv.getsockname()[1]}"

    def accept(self, code: int = 0) -> tuple[socket.socket, bytearray]:
        """The next connection: its CONNECT read, a CONNACK with ``code`` sent; what came after the CONNECT."""
        sock, _ = self.srv.accept()
        sock.settimeout(10)
        buf = self.read(sock, lambda frames: frames)
        first, _, end = mqttwire.parse(buf)[0][0]
        assert first == mqttwire.CONNECT
        sock.sendall(bytes([mqttwire.CONNACK, 2, 0, code]))
        return sock, buf[end:]

    @staticmethod
    def read(sock: socket.socket, enough, buf: bytearray | None = None) -> bytearray:
        buf = buf if buf is not None else bytearray()
        while not enough(mqttwire.parse(buf)[0]):
            chunk = sock.recv(65536)
            assert chunk, "the client closed the connection"
            buf += chunk
        return buf

    def close(self) -> None:
        self.srv.close()


def _publishes(buf: bytearray) -> list[tuple[int, int, bytes]]:
    """The PUBLISH packets in ``buf``: (first byte, packet id, payload)."""
    out = []
    for first, start, end in mqttwire.parse(buf)[0]:
        if first >> 4 == 3:
            at = start + 2 + ((buf[start] << 8) | buf[start + 1])
            out.append((first, (buf[at] << 8) | buf[at + 1], bytes(buf[at + 2:end])))
    return out


class Served(threading.Thread):
    """The connection served by a thread of its own, as the publisher serves it (until stopped)."""

    def __init__(self, conn: WireConnection) -> None:
        super().__init__(daemon=True)
        self.conn, self.stopping = conn, threading.Event()
        self.waker = Waker()
        conn.start(self.waker)
        self.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.conn.serve(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def test_unacknowledged_messages_are_sent_again_after_a_reconnect_in_order_marked_dup():
    broker = ScriptedBroker()
    conn = WireConnection(BrokerAddress.parse(broker.url), "tiny", "server", "dup")
    conn.start(Waker())
    try:
        first_conn = {}
        t = threading.Thread(target=lambda: first_conn.update(zip(("sock", "buf"), broker.accept())))
        t.start()
        _served(conn, conn.connected.is_set)
        t.join(10)
        sock = first_conn["sock"]
        for i in range(3):
            assert conn.publish("hallq/tiny/journal", f"e{i}".encode(), qos=1)
        conn.serve(0)
        # the broker reads everything (the online announcement, e0..e2), acknowledges only e0, and goes away
        buf = broker.read(sock, lambda f: len([x for x in f if x[0] >> 4 == 3]) >= 4, first_conn["buf"])
        sent = [(mid, payload) for _, mid, payload in _publishes(buf) if payload.startswith(b"e")]
        assert [p for _, p in sent] == [b"e0", b"e1", b"e2"]
        sock.sendall(mqttwire.puback(sent[0][0]))
        _served(conn, lambda: sent[0][0] not in conn._inflight)
        dropped = threading.Event()
        conn.on_disconnect(dropped.set)
        sock.close()
        _served(conn, dropped.is_set)
        again = {}
        t = threading.Thread(target=lambda: again.update(zip(("sock", "buf"), broker.accept())))
        t.start()
        conn._retry_at = 0  # (no need to wait out the back-off here)
        _served(conn, conn.connected.is_set)
        t.join(10)
        conn.serve(0)
        buf = broker.read(again["sock"], lambda f: len([x for x in f if x[0] >> 4 == 3]) >= 3, again["buf"])
        resent = [(first, mid, p) for first, mid, p in _publishes(buf) if p.startswith(b"e")]
        assert [(mid, p) for _, mid, p in resent] == sent[1:], "not the unacknowledged ones, in order"
        assert all(first & 0x08 for first, _, _ in resent), "re-sent without the DUP flag"
        again["sock"].close()
    finally:
        conn.stop()
        broker.close()


def test_a_broker_silent_for_one_and_a_half_keepalives_is_dropped():
    broker = ScriptedBroker()
    conn = WireConnection(BrokerAddress.parse(broker.url), "tiny", "server", "silent", keepalive=1)
    accepted = {}
    t = threading.Thread(target=lambda: accepted.update(zip(("sock", "buf"), broker.accept())))
    t.start()
    served = Served(conn)
    try:
        wait_until(conn.connected.is_set, 10, "connected")
        t.join(10)
        pings = broker.read(accepted["sock"], lambda f: any(x[0] == 0xC0 for x in f), accepted["buf"])
        assert pings  # it pinged (and the broker, silent, answers nothing)
        wait_until(lambda: not conn.connected.is_set(), 5, "the silent connection dropped")
    finally:
        served.stop()
        conn.stop()
        accepted.get("sock") and accepted["sock"].close()
        broker.close()


def test_a_refused_connection_is_logged_with_its_cause_and_retried(caplog):
    broker = ScriptedBroker()
    conn = WireConnection(BrokerAddress.parse(broker.url), "tiny", "server", "refused")
    conn.start(Waker())
    try:
        t = threading.Thread(target=broker.accept, kwargs={"code": 5})
        t.start()
        with caplog.at_level(logging.ERROR, logger="hallq.mqtt"):
            conn.serve(0.1)
        t.join(10)
        assert not conn.connected.is_set()
        assert any("refused the connection: not authorised" in r.getMessage() and "username/password" in r.getMessage()
                   for r in caplog.records)
        assert conn._retry_at > time.monotonic(), "no back-off before the next attempt"
        assert not conn.publish("hallq/tiny/journal", b"x"), "publish() while not connected must say so"
    finally:
        conn.stop()
        broker.close()
