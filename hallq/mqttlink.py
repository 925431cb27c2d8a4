"""The server publisher's MQTT connection, on a plain socket with hallq.mqttwire: no paho.

The publisher (queue_server/publisher.py) sends three or four QoS 1 messages per call-next, each read back as
a PUBACK. Through paho a message cost about 160,000 instructions (its publish, its write, its acknowledgement:
objects, locks, callbacks), on a plain socket about 27,000 (docs/performance.md, "Fourth pass"). This class
has the interface the publisher uses of :class:`hallq.mqtt.Connection` and keeps its promises:

* it announces itself on its availability topic: retained "online" at every connect, a last will "offline",
  "stopped" at a clean stop; and puts "online" back if anything else is written there;
* it reconnects by itself (1 s, doubling to 5 s), and calls every ``on_connect`` hook after each connect;
  a connection attempt holds the thread :data:`hallq.mqtt.CONNECT_TIMEOUT` at most;
* a QoS 1 message not acknowledged when the connection drops is sent again after the reconnect, in order,
  marked DUP (a subscriber may see it twice, never not at all, as with paho);
* it pings the broker when it has been silent for the keep-alive, and drops a connection on which the broker
  has said nothing for 1.5 keep-alives (a broker gone without a word);
* ``publish`` returns False when not connected; it never raises because the broker is away.

All of it runs in one thread, the publisher's: ``start(waker)``, then ``serve()`` in its loop; ``publish``
and the handlers of ``subscribe`` run there too. The other parts (board, announcer, kiosk, gateway) keep paho
and its network thread (hallq/mqtt.py): they publish little.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hallq import mqttwire
from hallq.clock import iso, utc_now
from hallq.contract import STATUS, encode
from hallq.lazyimports import tls_and_proxy
from hallq.mqttbase import (
    CONNECT_TIMEOUT, OFFLINE, BrokerAddress, Waker, broker_from_settings, client_id, online_status, status_state,
)

if TYPE_CHECKING:
    from pathlib import Path

    from hallq.hallconfig import MqttSettings

log = logging.getLogger("hallq.mqtt")

READ = 65536
_SSL_WANT = ("SSLWantReadError", "SSLWantWriteError")
Handler = Callable[[str, bytes, bool], None]


class WireConnection:
    """One MQTT 3.1.1 connection served by its owner's thread (see the module's docstring)."""

    def __init__(self, address: BrokerAddress, site: str, kind: str, ident: str, tls_ca: str = "",
                 keepalive: int = 30) -> None:
        self.address = address
        self.tls_ca = tls_ca
        self.keepalive = keepalive
        self.status_topic = STATUS.topic(site, kind=kind, id=ident)
        self.client_id = client_id(site, kind, ident, address)
        self.name = f"{kind}.{ident}"  # for the log: the client id's tag is not written down
        self.connected = threading.Event()
        self._hooks: list[Callable[[], None]] = []
        self._disconnect_hooks: list[Callable[[], None]] = []
        self._handlers: list[tuple[str, Handler]] = []
        self._subscriptions: dict[str, int] = {}
        self._waker: Waker | None = None
        self._sock: Any = None  # socket.socket, or ssl.SSLSocket for mqtts://
        self._out = bytearray()  # written at the next serve(), in one send
        self._in = bytearray()  # read and not yet a whole packet
        self._inflight: dict[int, bytes] = {}  # QoS 1 messages not acknowledged, by packet id, in sending order
        # what to send instead of an unacknowledged message on a new connection, where the sender said (publish's
        # ``again``): a call re-sent after an outage says it is re-sent (queue_server/publisher.py)
        self._again: dict[int, tuple[str, bytes, bool, Callable[[bytes], bytes]]] = {}
        self._next_id = 0
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self._last_out = self._last_in = 0.0
        self._restore_at = 0.0  # our availability to be put back to "online" then (0: no)
        self._stopping = False

    # -- what the publisher calls ----------------------------------------------------------

    def on_connect(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (in the serving thread) after every successful (re)connect."""
        self._hooks.append(hook)

    def on_disconnect(self, hook: Callable[[], None]) -> None:
        self._disconnect_hooks.append(hook)

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 0) -> None:
        """Subscribe at every connect; ``handler(topic, payload, retained)`` runs in the serving thread."""
        self._handlers.append((topic_filter, handler))
        self._subscriptions[topic_filter] = qos
        if self.connected.is_set():
            self._queue(mqttwire.subscribe(self._mid(), [topic_filter], qos=qos))

    def start(self, waker: Waker) -> None:
        """Connect at the first :meth:`serve`; ``waker`` ends a serve() early (the caller sets and clears it)."""
        self._waker = waker

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                again: Callable[[bytes], bytes] | None = None) -> bool:
        """Queue a message for the next write; False when not connected (nothing queued). ``again``: at QoS 1, what
        turns the payload into the one to send instead if the message must be sent again on a new connection (not
        acknowledged on this one: a link that went quiet holds up to 1.5 keepalives of them); applied only then."""
        if not self.connected.is_set():
            return False
        if qos:
            mid = self._mid()
            packet = mqttwire.publish(topic, payload, qos=1, mid=mid, retain=retain)
            self._inflight[mid] = packet
            if again is not None:
                self._again[mid] = (topic, payload, retain, again)
        else:
            packet = mqttwire.publish(topic, payload, retain=retain)
        self._out += packet
        return True

    def pending_write(self) -> bool:
        """Something queued that the socket has not taken yet."""
        return bool(self._out)

    def serve(self, timeout: float) -> None:
        """Write what is queued, wait up to ``timeout`` (at most 1 s) for the broker or the waker, read what came;
        connect when due, ping when due. Returns early when the waker is set."""
        self._io(min(timeout, 1.0), self._waker)

    def stop(self) -> None:
        """Publish "stopped" and wait up to 2 s for the broker to have it, then disconnect (no last will)."""
        self._stopping = True
        if self.connected.is_set():
            self.publish(self.status_topic, encode(STATUS, {"state": "stopped", "at": iso(utc_now())}), retain=True)
            mid = self._next_id
            deadline = time.monotonic() + 2
            while mid in self._inflight and self._sock is not None and time.monotonic() < deadline:
                self._io(0.1, None)
            if self._sock is not None:
                self._out += mqttwire.DISCONNECT
                self._flush()
        self._close()

    # -- the connection ------------------------------------------------------------------------

    def _io(self, timeout: float, waker: Waker | None) -> None:
        sock = self._sock
        if sock is None:
            if self._stopping or not self._connect_when_due():
                if waker is not None:
                    waker.wait(max(0.0, min(timeout, self._retry_at - time.monotonic())))
                return
            sock = self._sock
        if self._out and not self._flush():
            return
        now = time.monotonic()
        if now - self._last_in > 1.5 * self.keepalive:
            self._drop(f"no word from the broker in {1.5 * self.keepalive:.0f} s")
            return
        if now - self._last_out >= self.keepalive / 2:
            self._out += mqttwire.PINGREQ
            if not self._flush():
                return
        if self._restore_at and now >= self._restore_at:
            self._restore_at = 0.0
            self._announce()
        if (waker is not None and waker.is_set()) or (getattr(sock, "pending", None) and sock.pending()):
            timeout = 0.0
        waits: list[Any] = [sock] if waker is None else [sock, waker]
        try:
            readable, _, _ = select.select(waits, [sock] if self._out else [], [], timeout)
        except (OSError, ValueError):  # closed under us
            self._drop("the socket was closed")
            return
        if waker is not None and waker in readable and not waker.is_set():
            waker.drain()
        if sock in readable or (getattr(sock, "pending", None) and sock.pending()):
            self._read()
        if self._out and self._sock is not None:
            self._flush()

    def _connect_when_due(self) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            return False
        self._retry_delay = min(max(self._retry_delay * 2, 1.0), 5.0)
        self._retry_at = now + self._retry_delay
        a = self.address
        sock = None
        try:
            sock = socket.create_connection((a.host, a.port), timeout=CONNECT_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a call event must not wait for an ACK
            if a.tls:
                ssl = tls_and_proxy()
                sock = ssl.create_default_context(cafile=self.tls_ca or None).wrap_socket(sock, server_hostname=a.host)
            will = mqttwire.Will(self.status_topic, OFFLINE, qos=1, retain=True)
            sock.sendall(mqttwire.connect(self.client_id, self.keepalive, clean_session=True, will=will,
                                          username=a.username, password=a.password))
            code, rest = _connack(sock)
        except (OSError, mqttwire.ProtocolError) as e:
            log.debug("cannot reach the broker %s: %s", self.address, e)
            if sock is not None:
                sock.close()
            return False
        if code != 0:
            log.error("broker %s refused the connection: %s (check mqtt username/password and the ACL)",
                      self.address, mqttwire.CONNACK_CODES.get(code, f"code {code}"))
            sock.close()
            return False
        sock.setblocking(False)
        self._sock, self._in = sock, bytearray(rest)
        self._last_in = self._last_out = time.monotonic()
        self._retry_delay = 0.0
        log.info("connected to broker %s as %s", self.address, self.name)
        by_qos: dict[int, list[str]] = {}
        for topic_filter, qos in self._subscriptions.items():
            by_qos.setdefault(qos, []).append(topic_filter)
        by_qos.setdefault(1, []).append(self.status_topic)  # to restore it if anything else is ever written there
        out = bytearray()
        for qos, filters in by_qos.items():
            out += mqttwire.subscribe(self._mid(), filters, qos=qos)
        for mid, packet in self._inflight.items():  # not acknowledged on the last connection: again, in order, DUP
            if (changed := self._again.pop(mid, None)) is not None:
                topic, payload, retain, again = changed
                packet = self._inflight[mid] = mqttwire.publish(topic, again(payload), qos=1, mid=mid, retain=retain)
            out += bytes([packet[0] | 0x08]) + packet[1:]
        self._out = out + self._out
        self.connected.set()
        self._announce()
        for hook in self._hooks:
            try:
                hook()
            except Exception:  # a hook's bug must not stop the connection
                log.exception("on_connect hook failed")
        return True

    def _announce(self) -> None:
        self.publish(self.status_topic, online_status(), retain=True)

    def _mid(self) -> int:
        mid = self._next_id
        while True:
            mid = mid % 65535 + 1
            if mid not in self._inflight:
                self._next_id = mid
                return mid

    def _queue(self, packet: bytes) -> None:
        self._out += packet

    def _flush(self) -> bool:
        """Write as much of what is queued as the socket takes now; False when the connection was lost."""
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as e:
            if type(e).__name__ in _SSL_WANT:  # TLS: the record waits for the socket (ssl is loaded only for it)
                return True
            self._drop(f"write failed: {e}")
            return False
        del self._out[:sent]
        self._last_out = time.monotonic()
        return True

    def _read(self) -> None:
        try:
            chunk = self._sock.recv(READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if type(e).__name__ in _SSL_WANT:
                return
            self._drop(f"read failed: {e}")
            return
        if not chunk:
            self._drop("the broker closed the connection")
            return
        self._last_in = time.monotonic()
        buf = self._in
        buf += chunk
        try:
            frames, used = mqttwire.parse(buf)
            messages, acks, others = mqttwire.publishes(buf, frames)
        except mqttwire.ProtocolError as e:
            self._drop(f"the broker broke the protocol: {e}")
            return
        for first, start, end in others:
            kind = first >> 4
            if kind == 4 and end - start == 2:  # PUBACK
                acked = (buf[start] << 8) | buf[start + 1]
                self._inflight.pop(acked, None)
                self._again.pop(acked, None)
            elif kind == 9 and 0x80 in buf[start + 2:end]:  # SUBACK with a refusal
                log.error("broker %s refused a subscription of %s: check its subscribe permissions (the ACL)",
                          self.address, self.name)
            elif kind not in (9, 13):  # SUBACK, PINGRESP: nothing to do
                self._drop(f"the broker sent a packet of type {kind}")
                return
        del buf[:used]
        if acks:
            self._out += b"".join(acks)
        for topic, payload, retained in messages:
            self._deliver(topic, payload, retained)

    def _deliver(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == self.status_topic:
            self._guard_status(payload)
            return
        for topic_filter, handler in self._handlers:
            if topic_matches(topic_filter, topic):
                try:
                    handler(topic, payload, retained)
                except Exception:
                    log.exception("handler for %s failed on a message of %d bytes", topic, len(payload))

    def _guard_status(self, payload: bytes) -> None:
        """Our availability must say online while we are: put it back when anything else is written there. A
        broker shutting down sends our own last will to us as it closes: acted on a second later, if still here."""
        if self._stopping or not self.connected.is_set():
            return
        state = status_state(payload)
        if state == "online":
            return
        if state != "offline":
            log.warning("our availability on %s was overwritten (%s); publishing online again", self.status_topic,
                        "emptied" if not payload else repr(state))
        self._restore_at = time.monotonic() + (1.0 if state == "offline" else 0.0)

    def _drop(self, why: str) -> None:
        was = self.connected.is_set()
        self._close()
        if was and not self._stopping:
            log.warning("lost the broker %s (%s); reconnecting in the background", self.address, why)
        if was:
            for hook in self._disconnect_hooks:
                try:
                    hook()
                except Exception:
                    log.exception("on_disconnect hook failed")

    def _close(self) -> None:
        self.connected.clear()
        sock, self._sock = self._sock, None
        self._out.clear()  # what was queued: the unacknowledged QoS 1 messages are kept in _inflight
        self._in = bytearray()
        self._restore_at = 0.0
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def wire_from_settings(mqtt_settings: MqttSettings, site: str, kind: str, ident: str,
                       data_dir: Path | None = None) -> WireConnection:
    """A :class:`WireConnection` from a hall's ``[mqtt]`` settings, as :func:`hallq.mqtt.connect_from_settings`
    makes a paho one: the same broker, identity and credentials."""
    address, tls_ca = broker_from_settings(mqtt_settings, kind, ident, data_dir)
    return WireConnection(address, site, kind, ident, tls_ca=tls_ca, keepalive=mqtt_settings.keepalive)


def _connack(sock: Any) -> tuple[int, bytes]:
    """Read the CONNACK (within the socket's timeout): its return code, and what came after it."""
    buf = bytearray()
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise mqttwire.ProtocolError("the broker closed the connection before its CONNACK")
        buf += chunk
        frames, _ = mqttwire.parse(buf)
        if frames:
            return mqttwire.connack(buf, frames[0]), bytes(buf[frames[0][2]:])


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` (MQTT 3.1.1 §4.7: ``+`` one level, ``#`` the rest; a topic
    starting with ``$`` is matched by no wildcard at its first level)."""
    if topic_filter == topic:
        return True
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    want, have = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return i == len(want) - 1
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)
