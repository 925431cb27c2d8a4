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

paho's network thread does the I/O. The server's publisher, which sends
several QoS 1 messages per call, has a connection of its own without paho,
with the same promises, served by its own thread: hallq/mqttlink.py. The
:class:`Waker`, :class:`BrokerAddress` and :func:`connect_from_settings` here
serve both.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

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

# the paho-free parts, here too for every caller that imports them from hallq.mqtt
from hallq.mqttbase import (  # noqa: E402
    CONNECT_TIMEOUT, OFFLINE, BrokerAddress, Waker, broker_from_settings, client_id, hall_ca, online_status,
    status_state,
)

if TYPE_CHECKING:
    from pathlib import Path

    from hallq.hallconfig import MqttSettings

log = logging.getLogger("hallq.mqtt")

__all__ = ["CONNECT_TIMEOUT", "OFFLINE", "BrokerAddress", "Connection", "Waker", "broker_from_settings",
           "connect_from_settings", "hall_ca", "online_status", "status_state"]

class Connection:
    """A self-healing MQTT client that marks its process online/offline."""

    def __init__(self, address: BrokerAddress, site: str, kind: str, ident: str,
                 tls_ca: str = "", keepalive: int = 30, clean_session: bool = True) -> None:
        self.address = address
        self.site = site
        self.kind, self.ident = kind, ident
        self.status_topic = STATUS.topic(site, kind=kind, id=ident)
        self.client_id = client_id(site, kind, ident, address)
        self.name = f"{kind}.{ident}"  # for the log: the client id's tag is not written down
        self.connected = threading.Event()
        self._hooks: list[Callable[[], None]] = []
        self._disconnect_hooks: list[Callable[[], None]] = []
        self._handlers: list[tuple[str, Callable[[str, bytes, bool], None]]] = []
        self._subscriptions: dict[str, int] = {}
        self._stopping = False

        c = _Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                    clean_session=clean_session, protocol=paho.MQTTv311)
        if address.username:
            c.username_pw_set(address.username, address.password or None)
        if address.tls:
            ctx = ssl.create_default_context(cafile=tls_ca or None)
            c.tls_set_context(ctx)
        c.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=5)
        c.max_queued_messages_set(10000)
        c.on_socket_open = _no_delay
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self.keepalive = keepalive

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (paho's network thread); returns at once, even if the broker is down."""
        self.client.connect_async(self.address.host, self.address.port, keepalive=self.keepalive)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self) -> None:
        """Publish "stopped", then disconnect cleanly (no last will)."""
        self._stopping = True
        if self.connected.is_set():
            info = self.client.publish(self.status_topic, encode(STATUS, {"state": "stopped", "at": iso(utc_now())}),
                                       qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
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
        return info.rc == paho.MQTT_ERR_SUCCESS

    # -- paho callbacks ---------------------------------------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: paho.ConnectFlags, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused the connection: %s (check mqtt username/password and the ACL)",
                      self.address, reason_code)
            return
        log.info("connected to broker %s as %s", self.address, self.name)
        for topic_filter, qos in self._subscriptions.items():
            client.subscribe(topic_filter, qos)
        client.subscribe(self.status_topic, 1)  # to restore it if anything else is ever written there
        self._announce(client)
        self.connected.set()
        for hook in self._hooks:
            try:
                hook()
            except Exception:  # a hook's bug must not stop reconnect handling
                log.exception("on_connect hook failed")

    def _announce(self, client: paho.Client) -> None:
        client.publish(self.status_topic, online_status(), qos=1, retain=True)

    def _guard_status(self, payload: bytes | bytearray) -> None:
        """Our own availability, as anyone reads it, must say online while we are: restore it when it does not.

        The ACL lets only this identity write it; this covers a broker without
        one (and an empty retained message, which clears the topic for every
        later subscriber)."""
        if self._stopping or not self.connected.is_set():
            return
        state = status_state(payload)
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
    objects whose constructors build lookup tables), about 40 % of what a QoS 1 message cost the
    server's publisher through paho (docs/performance.md, "Fourth pass"; the publisher has since left
    paho, the parts that publish QoS 1 keep this). A 3.1.1 PUBACK is two bytes, the
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
    address, tls_ca = broker_from_settings(mqtt_settings, kind, ident, data_dir, url)
    return Connection(address, site, kind, ident, tls_ca=tls_ca, keepalive=mqtt_settings.keepalive)
