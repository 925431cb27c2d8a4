"""The parts of hallq's MQTT connections that need no paho: the broker's address, the availability messages,
the waker a serving thread waits on, and the broker of a hall's settings.

Shared by paho's :class:`hallq.mqtt.Connection` (every part but the server) and the server publisher's own
:class:`hallq.mqttlink.WireConnection`; the server's worker imports only this and mqttlink, not paho (which
costs a process a few MB: docs/performance.md, "Server idle memory").
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from hallq import __version__
from hallq.clock import iso, utc_now
from hallq.contract import STATUS, encode

if TYPE_CHECKING:
    from pathlib import Path

    from hallq.hallconfig import MqttSettings

# The server's publisher connects in its own thread (hallq/mqttlink.py): a broker's host that does not answer
# (down, or its packets dropped) holds it this long at most, not paho's 5 s (a LAN broker answers in milliseconds)
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
        shown = without_password(url)  # the error is logged and printed: never the password in it
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"broker URL {shown!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"broker URL {shown!r} has no host")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker URL {shown!r} has an invalid port") from None
        return cls(
            host=parts.hostname, port=port, tls=tls,
            username=unquote(parts.username or "") or username,
            password=unquote(parts.password or "") or password,
        )

    def __str__(self) -> str:  # never print the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.username + '@' if self.username else ''}{self.host}:{self.port}"

    def __repr__(self) -> str:  # nor in a repr (a dataclass's own would show it)
        return f"BrokerAddress({str(self)!r}, password={'***' if self.password else ''!r})"


def without_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` replaced by ``***``, for logs and messages.

    >>> without_password("mqtt://op:S3cret@10.0.0.5:1883"), without_password("mqtt://10.0.0.5")
    ('mqtt://op:***@10.0.0.5:1883', 'mqtt://10.0.0.5')
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    auth, at, host = rest.rpartition("@")
    if not at or ":" not in auth:
        return url
    return f"{scheme}://{auth.split(':', 1)[0]}:***@{host}"


OFFLINE = encode(STATUS, {"state": "offline"})  # every process's last will


def client_id(site: str, kind: str, ident: str, address: "BrokerAddress") -> str:
    """The MQTT client id of a hall process: ``hallq-<site>-<kind>-<id>``, and, with a password, a tag derived from it.

    A broker lets any account connect with any client id, and a second connection with a client id knocks the
    first one off (its will, "offline", is published): with ids anyone can work out, a board's or a kiosk's
    password was enough to keep the server, a board or the announcer off the broker. The tag (12 hex digits,
    PBKDF2 of the password with the username as salt) is stable across reconnects and restarts, so a process still
    takes over a stale session of its own at once, and unknown to every other account. Without a password (a test
    broker that takes anyone) the id is the plain one."""
    base = f"hallq-{site}-{kind}-{ident}"
    if not address.password:
        return base[:64]
    tag = hashlib.pbkdf2_hmac("sha256", address.password.encode(), f"hallq client id:{address.username}".encode(),
                              20_000, dklen=6).hex()
    return f"{base[:51]}-{tag}"


def online_status() -> bytes:
    """What a process announces at every connect (retained, QoS 1)."""
    return encode(STATUS, {"state": "online", "at": iso(utc_now()), "software": f"hallq {__version__}"})


def status_state(payload: bytes | bytearray) -> str | None:
    """The state an availability message says: "online", "offline", "stopped"…; None when empty or not one."""
    try:
        state = json.loads(payload).get("state") if payload else None
    except (ValueError, AttributeError):
        return None
    return state if isinstance(state, str) else None


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


def broker_from_settings(mqtt_settings: MqttSettings, kind: str, ident: str, data_dir: Path | None = None,
                         url: str | None = None) -> tuple[BrokerAddress, str]:
    """The broker of a hall's ``[mqtt]`` settings with identity ``kind.ident``'s credentials, and the CA file
    that verifies it ("" for the system's)."""
    from hallq.mqtt_auth import client_credentials

    user, password = client_credentials(kind, ident, data_dir, mqtt_settings.username, mqtt_settings.password,
                                        managed=mqtt_settings.embedded and not url)
    return (BrokerAddress.parse(url or mqtt_settings.effective_url, user, password),
            mqtt_settings.tls_ca or hall_ca(data_dir))


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
