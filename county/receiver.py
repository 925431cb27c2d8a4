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
import threading
import time
from collections.abc import Callable

from hallq import __version__, mqttwire
from hallq.clock import iso, utc_now
from hallq.contract import STATUS, encode
from hallq.mqtt import BrokerAddress
from hallq.mqttwire import CONNACK_CODES, Message, ProtocolError, packet, parse

__all__ = ["CONNACK_CODES", "Message", "ProtocolError", "Receiver", "packet", "parse"]  # packet, parse: the tests'

log = logging.getLogger("hallq.county.ingest")

READ = 256 * 1024


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
                           + mqttwire.DISCONNECT)
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
        # clean session 0: the broker keeps our session; the last will: "offline", QoS 1, retained
        will = mqttwire.Will(self.status_topic, encode(STATUS, {"state": "offline"}), qos=1, retain=True)
        self._send(mqttwire.connect(self.client_id, self.keepalive, clean_session=False, will=will,
                                    username=a.username or "", password=a.password or ""))
        buf = bytearray()
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                raise ProtocolError("the broker closed the connection before its CONNACK")
            buf += chunk
            packets, _ = parse(buf)
            if packets:
                break
        code = mqttwire.connack(buf, packets[0])
        if code != 0:
            log.error("broker %s refused the connection: %s (check [broker] username/password and the ACL)",
                      self.address, CONNACK_CODES.get(code, f"code {code}"))
            raise ProtocolError(f"connection refused ({CONNACK_CODES.get(code, code)})")
        self._send(mqttwire.subscribe(self._mid(), self.filters, qos=1)
                   + self._publish(self.status_topic, encode(STATUS, {"state": "online", "at": iso(utc_now()),
                                                                      "software": f"hallq {__version__}"})))
        self._pending = bytearray(buf[packets[0][2]:])  # anything after the CONNACK: read before the socket again
        log.info("connected to broker %s as %s", self.address, self.client_id)
        self.connected.set()

    def _mid(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    def _publish(self, topic: str, body: bytes) -> bytes:
        """A retained QoS 1 PUBLISH (the broker's PUBACK is read and ignored)."""
        return mqttwire.publish(topic, body, qos=1, mid=self._mid(), retain=True)

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
                messages, acks, others = mqttwire.publishes(buf, packets)  # QoS 2: a ProtocolError
                for first, start, end in others:
                    if first >> 4 == 9:  # SUBACK: one code per filter, 0x80 a refusal
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
                self._send(mqttwire.PINGREQ)
                last_sent = time.monotonic()
