"""The ingester's MQTT subscriber (county/receiver.py) against the county's real NATS: every message once and in
order however the socket cuts them, the persistent session across a restart, the platform's availability
(online, the last will, stopped) and reconnection."""

from __future__ import annotations

import json
import socket
import threading

import paho.mqtt.client as paho
import pytest

from county.receiver import Receiver, packet, parse
from hallq.mqtt import BrokerAddress
from tests.county.conftest import PLATFORM_PASSWORD, County, wait_for

pytestmark = pytest.mark.mosquitto

CLIENT_ID = "hallq-_county-platform-ingest"
STATUS = "hallq/_county/status/platform/ingest"
FILTERS = ["hallq/+/journal", "hallq/+/status/server/queue"]


@pytest.fixture
def county(tmp_path):
    c = County(tmp_path, "postgresql://hallq@127.0.0.1:1/unused", [], paper=["village-c", "village-d"])
    c.broker.start()
    yield c
    c.broker.stop()


class Got:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, messages) -> None:
        with self.lock:
            self.messages.extend(messages)
            self.calls += 1


def receiver(county: County, got: Got) -> Receiver:
    r = Receiver(BrokerAddress("127.0.0.1", county.mqtt_port, username="platform", password=PLATFORM_PASSWORD),
                 CLIENT_ID, STATUS, FILTERS, got, keepalive=4)
    r.start()
    assert r.wait_connected(10)
    return r


def rogue(county: County, on_message=None, subscribe: str | None = None) -> paho.Client:
    ready = threading.Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"rogue-{id(on_message)}", protocol=paho.MQTTv311)
    c.username_pw_set("rogue", county.rogue_password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)

    def connected(client, *a):
        if subscribe:
            client.subscribe(subscribe, 1)
        ready.set()

    c.on_connect = connected
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", county.mqtt_port)
    c.loop_start()
    assert ready.wait(10)
    return c


def publish(c: paho.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = [c.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(30)


def test_parse_takes_whole_packets_only_however_the_bytes_are_cut():
    big = packet(0x32, b"\x00\x03a/b\x00\x07" + b"x" * 20000)  # a three-byte length
    small = packet(0x30, b"\x00\x01c" + b"hello")
    data = big + small + b"\xd0\x00"  # and a PINGRESP
    for cut in (1, 2, 3, 4, 5, 100, len(big), len(big) + 1, len(data) - 1):
        buf = bytearray(data[:cut])
        packets, used = parse(buf)
        assert used == sum(len(p) for p in (big, small, b"\xd0\x00")[:len(packets)])
        buf = bytearray(data[used:])
        rest, used2 = parse(buf)
        assert [p[0] for p in packets + rest] == [0x32, 0x30, 0xD0] and used + used2 == len(data)
    packets, _ = parse(bytearray(data))
    first, start, end = packets[0]
    assert first == 0x32 and end - start == 2 + 3 + 2 + 20000


def test_every_message_once_in_order_with_large_ones_among_them(county):
    got = Got()
    r = receiver(county, got)
    try:
        pub = rogue(county)
        sent = []
        for i in range(1, 3001):
            site = "village-c" if i % 2 else "village-d"
            body = json.dumps({"seq": i, "pad": "y" * (70000 if i % 1000 == 0 else i % 50)}).encode()
            sent.append((f"hallq/{site}/journal", body))
        sent.append(("hallq/village-c/status/server/queue", b'{"state":"online"}'))
        publish(pub, sent)
        wait_for(lambda: len(got.messages) >= len(sent), 30, "every message received")
        assert sorted((t, p) for t, p, _ in got.messages) == sorted(sent)  # each once, intact
        for site in ("village-c", "village-d"):
            seqs = [json.loads(p)["seq"] for t, p, _ in got.messages if t == f"hallq/{site}/journal"]
            assert seqs == sorted(seqs)  # in each hall's order
        assert got.calls < len(sent) / 2, "messages are handed over in chunks, not one by one"
        pub.loop_stop()
        pub.disconnect()
    finally:
        r.stop()


def test_the_session_keeps_what_arrived_while_the_platform_was_away(county):
    got = Got()
    r = receiver(county, got)
    r.stop()
    pub = rogue(county)
    sent = [("hallq/village-c/journal", json.dumps({"seq": i}).encode()) for i in range(1, 201)]
    publish(pub, sent)
    pub.loop_stop()
    pub.disconnect()
    again = Got()
    r2 = receiver(county, again)
    try:
        wait_for(lambda: len(again.messages) >= len(sent), 30, "the session's messages delivered on reconnect")
        # each once; the order of a session's stored messages is NATS's (the store does not need it: gaps)
        assert sorted((t, p) for t, p, _ in again.messages) == sorted(sent)
        assert got.messages == []
    finally:
        r2.stop()


def test_availability_online_last_will_and_stopped_and_it_reconnects(county):
    states: list[str] = []
    watcher = rogue(county, on_message=lambda c, u, m: states.append(json.loads(m.payload)["state"]),
                    subscribe=STATUS)
    got = Got()
    r = receiver(county, got)
    try:
        wait_for(lambda: states[-1:] == ["online"], 10, "online on connect")
        sock = r._sock
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)  # the link drops without a DISCONNECT: the broker sends the last will
        wait_for(lambda: "offline" in states, 15, "the last will")
        wait_for(lambda: states[-1] == "online" and r.connected.is_set(), 15, "reconnected and online again")
        pub = rogue(county)
        publish(pub, [("hallq/village-d/journal", b'{"seq":1}')])
        wait_for(lambda: got.messages[-1:] == [("hallq/village-d/journal", b'{"seq":1}', False)], 10,
                 "messages flow after the reconnection")
        pub.loop_stop()
        pub.disconnect()
    finally:
        r.stop()
    wait_for(lambda: states[-1] == "stopped", 10, "stopped on a clean stop")
    watcher.loop_stop()
    watcher.disconnect()


def test_a_wrong_password_is_refused_and_retried_without_connecting(county, caplog):
    got = Got()
    r = Receiver(BrokerAddress("127.0.0.1", county.mqtt_port, username="platform", password="wrong"), CLIENT_ID,
                 STATUS, FILTERS, got)
    r.start()
    try:
        wait_for(lambda: "refused the connection" in caplog.text, 15, "the refusal logged")
        assert not r.connected.is_set()
    finally:
        r.stop()


class Blackhole:
    """A TCP hop to the broker that can go silent: bytes stop flowing both ways, no connection is closed (a link
    that drops everything, as a cable pulled somewhere between the two)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                self.flowing.wait()  # silent: held here, never delivered, nothing closed
                b.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.server.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


def test_a_link_gone_silent_is_noticed_by_its_keepalive_and_reconnected(county, caplog):
    hole = Blackhole(county.mqtt_port)
    got = Got()
    r = Receiver(BrokerAddress("127.0.0.1", hole.port, username="platform", password=PLATFORM_PASSWORD), CLIENT_ID,
                 STATUS, FILTERS, got, keepalive=2)
    r.start()
    try:
        assert r.wait_connected(10)
        hole.flowing.clear()
        wait_for(lambda: not r.connected.is_set(), 10, "the silent link noticed (no PINGRESP within 1.5 keepalives)")
        assert "no word from the broker" in caplog.text
        hole.flowing.set()
        wait_for(lambda: r.connected.is_set(), 15, "reconnected once the link carries bytes again")
    finally:
        r.stop()
        hole.close()
