"""One MQTT connection per process, with availability and automatic reconnects.

Every hallq process (server, board, announcer, gateway, kiosk) connects
through :class:`Connection`:

* the broker is given by URL: ``mqtt://user:pass@host:1883``,
  ``mqtts://host:8883`` (TLS, optional CA file);
* it announces itself on ``hallq/<site>/status/<kind>/<id>``: retained
  "online" on every connect, a last will "offline", and "stopped" when it
  shuts down cleanly (the Frigate / zigbee2mqtt convention);
* it reconnects by itself forever, with a short back-off, and calls every
  ``on_connect`` hook again after each reconnect so subscriptions and retained
  state are restored;
* it never raises into the caller because the broker is away: ``publish``
  returns False and the caller decides what to keep for later.

By default paho's network thread does the I/O (``start()``). A process that
publishes from one thread of its own (the server's publisher) can run the I/O
in that thread instead (``start(waker)``, then ``serve()`` in its loop): no
hand-off to paho's thread per message and per acknowledgement, and a step's
messages go out in one write.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import unquote, urlsplit

from hallq import __version__
from hallq.clock import iso, utc_now
from hallq.contract import STATUS, encode
from hallq.lazyimports import tls_and_proxy

# before paho imports them: ssl for an mqtts:// broker only, urllib.request (http.client, email) for paho's
# proxy lookup only (with PySocks installed); about 3 MB in each part otherwise (hallq.lazyimports)
ssl = tls_and_proxy()
import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.reasoncodes import ReasonCode  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from paho.mqtt.client import SocketLike  # paho declares it for type checkers only

    from hallq.hallconfig import MqttSettings

log = logging.getLogger("hallq.mqtt")

# With start(waker): up to ACK_BATCH acknowledgements wait up to ACK_WAIT to be read when the thread wakes
# anyway (at 100 calls/s, the next commit), instead of waking it once more each; more are read at once
ACK_WAIT = 0.05
ACK_BATCH = 10
# With start(waker), a connection attempt blocks the caller's thread: a broker's host that does not answer (down,
# or its packets dropped) holds it this long at most, not paho's 5 s (a LAN broker answers within milliseconds)
CONNECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str = ""
    password: str = ""

    @classmethod
    def parse(cls, url: str, username: str = "", password: str = "") -> "BrokerAddress":
        """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://``; raise ValueError saying what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker URL {url!r} has an invalid port") from None
        return cls(
            host=parts.hostname, port=port, tls=tls,
            username=unquote(parts.username or "") or username,
            password=unquote(parts.password or "") or password,
        )

    def __str__(self) -> str:  # never print the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.username + '@' if self.username else ''}{self.host}:{self.port}"


class Connection:
    """A self-healing MQTT client that marks its process online/offline."""

    def __init__(self, address: BrokerAddress, site: str, kind: str, ident: str,
                 tls_ca: str = "", keepalive: int = 30, clean_session: bool = True) -> None:
        self.address = address
        self.site = site
        self.kind, self.ident = kind, ident
        self.status_topic = STATUS.topic(site, kind=kind, id=ident)
        self.client_id = f"hallq-{site}-{kind}-{ident}"[:64]
        self.connected = threading.Event()
        self._hooks: list[Callable[[], None]] = []
        self._disconnect_hooks: list[Callable[[], None]] = []
        self._handlers: list[tuple[str, Callable[[str, bytes, bool], None]]] = []
        self._subscriptions: dict[str, int] = {}
        self._stopping = False
        self._waker: Waker | None = None  # set when the caller's thread runs the I/O (start(waker))
        self._io_thread = 0
        self._retry_at = 0.0  # with start(waker): when to try to connect again
        self._retry_delay = 0.0
        self._unread = 0  # with start(waker): messages published since the last read (their PUBACKs to come)
        self._sent_at = 0.0

        c = _Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                    clean_session=clean_session, protocol=paho.MQTTv311)
        if address.username:
            c.username_pw_set(address.username, address.password or None)
        if address.tls:
            ctx = ssl.create_default_context(cafile=tls_ca or None)
            c.tls_set_context(ctx)
        c.will_set(self.status_topic, encode(STATUS, {"state": "offline"}), qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=5)
        c.max_queued_messages_set(10000)
        c.on_socket_open = _no_delay
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self.keepalive = keepalive

    # -- lifecycle -------------------------------------------------------------

    def start(self, waker: Waker | None = None) -> None:
        """Connect in the background; returns at once, even if the broker is down.

        With a ``waker``, no network thread: the calling thread must then call :meth:`serve` in its
        loop (it connects, reconnects, writes, reads and pings there), and ``waker`` is set when
        another thread publishes."""
        if waker is None:
            self.client.connect_async(self.address.host, self.address.port, keepalive=self.keepalive)
            self.client.loop_start()
            return
        self._waker = waker
        self._io_thread = threading.get_ident()
        self.client._buffered = True
        self.client.connect_timeout = CONNECT_TIMEOUT  # (paho takes it only before connect_async)
        self.client.connect_async(self.address.host, self.address.port, keepalive=self.keepalive)
        # publish() only queues; serve() writes what a step queued in one go
        self.client.on_socket_register_write = self._queued_elsewhere

    def serve(self, timeout: float) -> None:
        """With ``start(waker)``: write what is queued, then wait up to ``timeout`` (at most 1 s) for
        the broker or the waker, and do what came (reads, acknowledgements, keepalive, reconnects).
        Returns early when the waker is set; the caller clears it."""
        assert self._waker is not None, "serve() is for a connection started with a waker"
        self._io(min(timeout, 1.0), self._waker)

    def _io(self, timeout: float, waker: Waker | None) -> None:
        c = self.client
        sock = c.socket()
        if sock is None:
            sock = self._reconnect()
            if sock is None:
                if waker is not None:
                    waker.wait(max(0.0, min(timeout, self._retry_at - time.monotonic())))
                return
        if c.want_write():
            self._write(sock)
        if waker is not None and waker.is_set():
            timeout = 0.0
        pending = c.unread() or bool((held := getattr(sock, "pending", None)) and held())  # TLS: decrypted already
        if pending:
            timeout = 0.0
        waits: list[Any] = [sock] if waker is None else [sock, waker]
        lazy = waker is not None and 0 < self._unread < ACK_BATCH and time.monotonic() < self._sent_at + ACK_WAIT
        if lazy:  # only acknowledgements to come: read them when woken anyway, or in ACK_WAIT
            waits.remove(sock)
            timeout = max(0.0, min(timeout, self._sent_at + ACK_WAIT - time.monotonic()))
        try:
            readable, writable, _ = select.select(waits, [sock] if c.want_write() else [], [], timeout)
        except (OSError, ValueError):  # the socket was closed under us
            return
        if waker is not None and waker in readable and not waker.is_set():
            waker.drain()
        if lazy or sock in readable or pending:
            self._unread = 0
            c.loop_read()
        if c.socket() is not None:
            c.loop_misc()  # keepalive: a PINGREQ when due, the connection dropped when the broker is silent
        sock = c.socket()
        if sock is not None and c.want_write():
            self._write(sock)

    def _write(self, sock: Any) -> None:
        """All queued packets, corked: one TCP segment for a step's messages, not one each.

        ``sock`` is any of paho's sockets (``SocketLike``, which promises no ``setsockopt``): set where it has one."""
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            corked = True
        except (OSError, AttributeError):  # not a TCP socket
            corked = False
        self.client.loop_write()
        if corked:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            except OSError:  # closed by the write's failure
                pass

    def _reconnect(self) -> SocketLike | None:
        """With ``start(waker)``: try to connect when due (1 s, doubling to 5 s after each failure)."""
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self._retry_delay = min(max(self._retry_delay * 2, 1.0), 5.0)
        self._retry_at = now + self._retry_delay
        try:
            self.client.reconnect()
        except OSError as e:
            log.debug("cannot reach the broker %s: %s", self.address, e)
            return None
        return self.client.socket()

    def _queued_elsewhere(self, client: paho.Client, userdata: Any, sock: SocketLike) -> None:
        """paho has something to write: wake the I/O thread when another thread queued it."""
        if threading.get_ident() != self._io_thread and self._waker is not None:
            self._waker.set()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self) -> None:
        """Publish "stopped", then disconnect cleanly (no last will)."""
        self._stopping = True
        if self.connected.is_set():
            info = self.client.publish(self.status_topic, encode(STATUS, {"state": "stopped", "at": iso(utc_now())}),
                                       qos=1, retain=True)
            if self._waker is not None:  # no network thread: drive the I/O here until it is acknowledged
                deadline = time.monotonic() + 2
                while not info.is_published() and self.client.socket() is not None and time.monotonic() < deadline:
                    self._io(0.1, None)
            else:
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError):
                    pass
        self.client.disconnect()
        if self._waker is not None:
            sock = self.client.socket()
            if sock is not None:
                self._write(sock)  # the DISCONNECT: the broker drops our last will
            return
        self.client.loop_stop()

    # -- hooks ----------------------------------------------------------------

    def on_connect(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (in the network thread) after every successful (re)connect."""
        self._hooks.append(hook)
        if self.connected.is_set():
            hook()

    def on_disconnect(self, hook: Callable[[], None]) -> None:
        self._disconnect_hooks.append(hook)

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes, bool], None], qos: int = 1) -> None:
        """Subscribe now and after every reconnect; ``handler(topic, payload, retained)``.

        A handler that raises is logged, never kills the connection.
        """
        self._handlers.append((topic_filter, handler))
        self._subscriptions[topic_filter] = qos
        if self.connected.is_set():
            self.client.subscribe(topic_filter, qos)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Hand a message to the client; False when not connected (nothing queued)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if not self._unread:
            self._sent_at = time.monotonic()
        self._unread += 1
        return info.rc == paho.MQTT_ERR_SUCCESS

    # -- paho callbacks ---------------------------------------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: paho.ConnectFlags, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused the connection: %s (check mqtt username/password and the ACL)",
                      self.address, reason_code)
            return
        log.info("connected to broker %s as %s", self.address, self.client_id)
        for topic_filter, qos in self._subscriptions.items():
            client.subscribe(topic_filter, qos)
        client.subscribe(self.status_topic, 1)  # to restore it if anything else is ever written there
        self._announce(client)
        self._retry_delay = 0.0
        self.connected.set()
        for hook in self._hooks:
            try:
                hook()
            except Exception:  # a hook's bug must not stop reconnect handling
                log.exception("on_connect hook failed")

    def _announce(self, client: paho.Client) -> None:
        client.publish(self.status_topic, encode(STATUS, {"state": "online", "at": iso(utc_now()),
                                                          "software": f"hallq {__version__}"}),
                       qos=1, retain=True)

    def _guard_status(self, payload: bytes | bytearray) -> None:
        """Our own availability, as anyone reads it, must say online while we are: restore it when it does not.

        The ACL lets only this identity write it; this covers a broker without
        one (and an empty retained message, which clears the topic for every
        later subscriber)."""
        if self._stopping or not self.connected.is_set():
            return
        try:
            state = json.loads(payload).get("state") if payload else None
        except (ValueError, AttributeError):
            state = None
        if state == "online":
            return
        if state == "offline":
            # a broker shutting down sends our own last will to us as it closes: act only if we are still there
            later = threading.Timer(1.0, self._restore, args=("offline",))
            later.daemon = True
            later.start()
            return
        self._restore("emptied" if not payload else repr(state))

    def _restore(self, what: str) -> None:
        if self._stopping or not self.connected.is_set():
            return
        log.warning("our availability on %s was overwritten (%s); publishing online again", self.status_topic, what)
        self._announce(self.client)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: paho.DisconnectFlags,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:
            log.warning("lost the broker %s (%s); reconnecting in the background", self.address, reason_code)
        for hook in self._disconnect_hooks:
            try:
                hook()
            except Exception:
                log.exception("on_disconnect hook failed")

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if msg.topic == self.status_topic:
            self._guard_status(msg.payload)
            return
        for topic_filter, handler in self._handlers:
            if paho.topic_matches_sub(topic_filter, msg.topic):
                try:
                    # (paho says bytes | bytearray; a received PUBLISH's payload is bytes, from struct.unpack)
                    handler(msg.topic, cast(bytes, msg.payload), bool(msg.retain))
                except Exception:
                    log.exception("handler for %s failed on a message of %d bytes", msg.topic, len(msg.payload))


# MQTT 3.1.1's PUBACK carries a packet id and nothing else: always this reason and these (no) properties
_PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK)
_PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)


class _Client(paho.Client):
    """paho's client with a short road for a 3.1.1 PUBACK, the one packet a publisher reads per message.

    paho 2 decodes every PUBACK as MQTT 5 would: a new ``ReasonCode`` and ``Properties`` each (two
    objects whose constructors build lookup tables), about half of what a QoS 1 message costs the
    server's publisher in paho (docs/performance.md, "MQTT's part"). A 3.1.1 PUBACK is two bytes, the
    packet id: this reads it and hands paho the same shared "success, no properties" pair. Every other
    packet, and MQTT 5, goes paho's own way. It relies on paho 2's packet state (``_in_packet``,
    ``_out_messages``, ``_do_on_publish``); tests/hallq/test_mqtt_client.py holds it to paho's behaviour."""

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> paho.MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or self._protocol == paho.MQTTv5 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        mid = (packet[0] << 8) | packet[1]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_SUCCESS, _PUBACK_PROPERTIES)
        return paho.MQTT_ERR_SUCCESS

    # With Connection.start(waker) only (paho's own loop waits on the socket alone): paho reads a packet
    # in at least three recv() calls (its type, its length, the rest), three system calls per PUBACK.
    # This takes what the socket holds in one and hands paho its bytes from there
    _buffered = False
    _rsock: Any = None
    _rbuf = b""
    _rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._buffered:
            return super()._sock_recv(bufsize)
        if self._rsock is not self._sock:  # a new connection: nothing of the old one's bytes is read on it
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(max(bufsize, 65536))  # BlockingIOError, EOF (b"") and errors as paho's
            if len(data) <= bufsize:
                return data
            self._rbuf, self._rpos = data, 0
        start, self._rpos = self._rpos, min(self._rpos + bufsize, len(self._rbuf))
        return self._rbuf[start:self._rpos]

    def unread(self) -> bool:
        """Bytes taken from the socket that paho has not read yet (a select() on the socket would not say)."""
        return self._rsock is self._sock and self._rpos < len(self._rbuf)


class Waker:
    """A ``threading.Event`` that ``select()`` can wait on with sockets (an eventfd).

    Setting it again while it is set costs nothing; ``clear()`` drains it. Its descriptor is closed
    with the object, when no thread can set it any more."""

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._set = False
        weakref.finalize(self, os.close, self._fd)

    def fileno(self) -> int:
        return self._fd

    def set(self) -> None:
        if not self._set:
            self._set = True
            os.eventfd_write(self._fd, 1)

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        self._set = False  # before draining: a set() from now on writes again
        self.drain()

    def drain(self) -> None:
        """Empty the descriptor, leaving the flag: a set() that flagged before a clear() but wrote after it
        leaves it readable with the flag down, which would wake every select() until drained."""
        try:
            os.eventfd_read(self._fd)
        except (BlockingIOError, OSError):
            pass

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set:
            select.select([self._fd], [], [], timeout)
            if not self._set:
                self.drain()
        return self._set


def _no_delay(client: paho.Client, userdata: Any, sock: Any) -> None:
    """Turn Nagle's algorithm off: paho leaves it on, and a small call event held back until
    the broker's delayed ACK costs ~40 ms (measured: p90 38 ms → see docs/performance.md).

    ``sock`` is any of paho's sockets (``SocketLike``, which promises no ``setsockopt``): set where it has one."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (unix socket, websocket wrapper)
        pass


def connect_from_settings(mqtt_settings: MqttSettings, site: str, kind: str, ident: str, data_dir: Path | None = None,
                          url: str | None = None) -> Connection:
    """A :class:`Connection` from a hall's ``[mqtt]`` settings (see hallq.hallconfig), as identity ``kind.ident``.

    The credentials come from :func:`hallq.mqtt_auth.client_credentials`
    (for the hall's own broker: this identity's secret in ``data_dir``).
    ``url`` overrides the settings' broker (a kiosk told by the server).
    """
    from hallq.mqtt_auth import client_credentials

    user, password = client_credentials(kind, ident, data_dir, mqtt_settings.username, mqtt_settings.password,
                                        managed=mqtt_settings.embedded and not url)
    address = BrokerAddress.parse(url or mqtt_settings.effective_url, user, password)
    return Connection(address, site, kind, ident, tls_ca=mqtt_settings.tls_ca or hall_ca(data_dir),
                      keepalive=mqtt_settings.keepalive)


def hall_ca(data_dir: Path | None) -> str:
    """The hall's own CA certificate (hallq tls) when this machine has it, to verify its broker and server."""
    from hallq import tls

    env = os.environ.get("HALLQ_CA_FILE", "")
    if env:
        return env
    if data_dir is None:
        return ""
    ca = tls.files(data_dir).ca
    return str(ca) if ca.exists() else ""
