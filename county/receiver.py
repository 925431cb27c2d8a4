"""The ingester's subscriber: MQTT 3.1.1 at QoS 1 on one socket, read in large chunks, acknowledged in bulk.

Why not paho-mqtt here, as everywhere else in hallq (hallq/mqtt.py): paho reads a message with four
``recv`` calls (the type byte, each byte of the length, the rest), wakes its loop through a socket pair
to send each PUBACK and writes each PUBACK with its own ``send``: eight system calls and ~40 µs of Python
per message. In the platform's process the writer thread holds the GIL while it builds a batch, and each
of those calls gives the GIL up and waits to get it back: measured with the county bench, paho's thread
received 2,500–3,500 messages/s while the writer's queue stayed nearly empty and the process used a third
of a core. This subscriber reads whatever the socket holds (up to 256 KB: hundreds of messages), hands
all of them to the handler in one call, then writes all their PUBACKs in one ``send``.

It does what the ingester needs and nothing more: one connection with a fixed client id and a persistent
session (``clean_session`` 0: NATS keeps the QoS 1 messages of the session while the platform is away),
username and password, TLS with an optional CA file, the platform's availability as a retained message
(``online`` on every connect, a last will ``offline``, ``stopped`` on a clean stop), keep-alive pings,
and reconnection forever with a short back-off (1 to 5 s). Messages are acknowledged after the handler
returns, as paho did: the ingester's handler only queues them (county/ingest.py says why that is safe).
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

from hallq import __version__
from hallq.clock import iso, utc_now
from hallq.contract import STATUS, encode
from hallq.mqtt import BrokerAddress

log = logging.getLogger("hallq.county.ingest")

READ = 256 * 1024
CONNACK_CODES = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
                 4: "bad username or password", 5: "not authorised"}

Message = tuple[str, bytes, bool]  # topic, payload, retained


class ProtocolError(Exception):
    pass


def _str(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def packet(kind: int, body: bytes) -> bytes:
    """An MQTT packet: its first byte (type and flags), the remaining length (a varint), the body."""
    n, length = len(body), bytearray()
    while True:
        n, digit = divmod(n, 128)
        length.append(digit | (128 if n else 0))
        if not n:
            return bytes([kind]) + bytes(length) + body


def parse(buf: bytearray) -> tuple[list[tuple[int, int, int]], int]:
    """The complete packets at the start of ``buf`` as (first byte, where its body starts, where it ends), and
    how many bytes they take."""
    out: list[tuple[int, int, int]] = []
    i, n = 0, len(buf)
    while n - i >= 2:
        length, mult, j = 0, 1, i + 1
        while True:
            if j >= n:
                return out, i
            digit = buf[j]
            length += (digit & 0x7F) * mult
            j += 1
            if digit < 0x80:
                break
            mult *= 128
            if mult > 128 ** 3:
                raise ProtocolError("a packet length of more than four bytes")
        if j + length > n:
            break
        out.append((buf[i], j, j + length))
        i = j + length
    return out, i


class Receiver:
    """Subscribe to ``filters`` at QoS 1 and call ``handler(messages)`` with each chunk of messages read."""

    def __init__(self, address: BrokerAddress, client_id: str, status_topic: str, filters: list[str],
                 handler: Callable[[list[Message]], None], tls_ca: str = "", keepalive: int = 30) -> None:
        self.address = address
        self.client_id = client_id[:64]
        self.status_topic = status_topic
        self.filters = list(filters)
        self.handler = handler
        self.tls_ca = tls_ca
        self.keepalive = keepalive
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._next_id = 0
        self._pending = bytearray()
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and receive in the background; returns at once, even if the broker is down."""
        self._thread = threading.Thread(target=self._run, name="county-ingest-mqtt", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Publish "stopped", then disconnect cleanly (no last will), and wait for the broker to close the
        connection: what it delivers meanwhile is not acknowledged, so the session keeps it for the next start."""
        sock = self._sock
        if sock is not None and self.connected.is_set():
            try:
                self._closing = True
                self._send(self._publish(self.status_topic, encode(STATUS, {"state": "stopped", "at": iso(utc_now())}))
                           + b"\xe0\x00")  # DISCONNECT
            except OSError:
                pass
            if self._thread is not None:
                self._thread.join(3)  # until the broker closes the connection
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # -- the connection ----------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                self._connect()
                delay = 1.0
                self._receive()
                if self._closing:
                    break
            except (OSError, ProtocolError, ssl.SSLError) as e:
                if self._closing:
                    break
                if self.connected.is_set() and not self._stop.is_set():
                    log.warning("lost the broker %s (%s); reconnecting in the background", self.address,
                                f"{e.__class__.__name__}: {e}"[:200])
                elif not self._stop.is_set():
                    log.warning("cannot connect to the broker %s (%s); retrying in %.0f s", self.address,
                                f"{e.__class__.__name__}: {e}"[:200], delay)
            finally:
                self.connected.clear()
                self._close()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, 5.0)

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _connect(self) -> None:
        a = self.address
        sock = socket.create_connection((a.host, a.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if a.tls:
            ctx = ssl.create_default_context(cafile=self.tls_ca or None)
            sock = ctx.wrap_socket(sock, server_hostname=a.host)
        self._sock = sock
        flags = 0x04 | 0x08 | 0x20  # a last will, QoS 1, retained; clean session 0: the broker keeps our session
        payload = _str(self.client_id.encode()) + _str(self.status_topic.encode()) \
            + _str(encode(STATUS, {"state": "offline"}))
        if a.username:
            flags |= 0x80
            payload += _str(a.username.encode())
            if a.password:
                flags |= 0x40
                payload += _str(a.password.encode())
        self._send(packet(0x10, _str(b"MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive) + payload))
        buf = bytearray()
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                raise ProtocolError("the broker closed the connection before its CONNACK")
            buf += chunk
            packets, _ = parse(buf)
            if packets:
                break
        first, start, end = packets[0]
        body = bytes(buf[start:end])
        if first >> 4 != 2 or len(body) != 2:
            raise ProtocolError(f"expected a CONNACK, got packet type {first >> 4}")
        if body[1] != 0:
            log.error("broker %s refused the connection: %s (check [broker] username/password and the ACL)",
                      self.address, CONNACK_CODES.get(body[1], f"code {body[1]}"))
            raise ProtocolError(f"connection refused ({CONNACK_CODES.get(body[1], body[1])})")
        subscribe = b"".join(_str(f.encode()) + b"\x01" for f in self.filters)
        self._send(packet(0x82, struct.pack("!H", self._mid()) + subscribe)
                   + self._publish(self.status_topic, encode(STATUS, {"state": "online", "at": iso(utc_now()),
                                                                      "software": f"hallq {__version__}"})))
        self._pending = bytearray(buf[end:])  # anything after the CONNACK: read before the socket again
        log.info("connected to broker %s as %s", self.address, self.client_id)
        self.connected.set()

    def _mid(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    def _publish(self, topic: str, body: bytes) -> bytes:
        """A retained QoS 1 PUBLISH (the broker's PUBACK is read and ignored)."""
        return packet(0x33, _str(topic.encode()) + struct.pack("!H", self._mid()) + body)

    def _send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionError("not connected")
        with self._send_lock:
            sock.sendall(data)

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        sock.settimeout(1.0)
        buf = self._pending  # what came with the CONNACK (a session's stored messages may follow it at once)
        chunk: bytes | None = bytes(buf)
        buf.clear()
        last_sent = last_heard = time.monotonic()
        while not self._stop.is_set():
            if chunk is None:
                try:
                    chunk = sock.recv(READ)
                except (socket.timeout, ssl.SSLWantReadError):
                    chunk = None
                if chunk == b"":
                    if self._closing:
                        return  # our DISCONNECT done
                    raise ConnectionError("the broker closed the connection")
            if chunk:
                last_heard = time.monotonic()
            elif time.monotonic() - last_heard > self.keepalive * 1.5:
                # pinged every keepalive/2 and nothing came back, not even a PINGRESP: the link is gone silently
                raise ConnectionError(f"no word from the broker in {self.keepalive * 1.5:.0f} s")
            if chunk and self._closing:
                chunk = None  # after our DISCONNECT: neither handled nor acknowledged (the session keeps it)
            if chunk:
                buf += chunk
                packets, used = parse(buf)
                messages: list[Message] = []
                acks = []
                for first, start, end in packets:
                    kind = first >> 4
                    if kind == 3:  # PUBLISH
                        qos = (first >> 1) & 3
                        at = start + 2 + ((buf[start] << 8) | buf[start + 1])
                        topic = buf[start + 2:at].decode("utf-8", "replace")
                        if qos:
                            if qos == 2:
                                raise ProtocolError("a QoS 2 message on a QoS 1 subscription")
                            acks.append(b"\x40\x02" + buf[at:at + 2])
                            at += 2
                        messages.append((topic, bytes(buf[at:end]), bool(first & 1)))
                    elif kind == 9:  # SUBACK: one code per filter, 0x80 a refusal
                        codes = bytes(buf[start + 2:end])
                        if 0x80 in codes:
                            log.error("broker %s refused a subscription of the ingester (%s): check the platform "
                                      "account's subscribe permissions", self.address,
                                      ", ".join(f for f, c in zip(self.filters, codes) if c == 0x80))
                    # PUBACK of our availability, PINGRESP: nothing to do
                del buf[:used]
                if messages:
                    self.handler(messages)  # acknowledged once it returns: the handler only queues them
                if acks:
                    self._send(b"".join(acks))
                    last_sent = time.monotonic()
            chunk = None
            if time.monotonic() - last_sent >= self.keepalive / 2:
                self._send(b"\xc0\x00")  # PINGREQ
                last_sent = time.monotonic()
