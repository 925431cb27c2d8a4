"""The bridge from a hall's broker to its county's: the hall's journal events reach the county platform.

A hall that belongs to a county has a ``county-bridge.toml`` beside its hall.toml (``hallq platform
bridge-config`` writes one for each hall of the county)::

    [bridge]
    address = "county-mq.example.gov.cn:8883"   # the county's broker (NATS with its MQTT gateway), or a
                                               # list of its cluster's nodes: the bridge fails over in turn
    tls = true
    cafile = "/etc/hallq/county-ca.crt"        # the county broker's CA (empty: the system's)
    username = "hall-town-a"                   # this hall's account at the county broker
    password_file = "/etc/hallq/county-bridge.secret"

The hall's own Mosquitto (hallq/broker.py) then carries two of the hall's topics out, under the same
names, at QoS 1: ``hallq/<site>/journal`` (every journal entry, docs/mqtt.md) and the server's
availability ``hallq/<site>/status/server/queue``. Nothing flows back in: the county cannot write
to a hall. When the county is unreachable the hall works on as before; Mosquitto keeps what it could
not send (up to its queue limit) and the county fetches whatever is missing from the hall's journal
over HTTP (docs/county.md, "Catch-up").
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

FILE = "county-bridge.toml"
CONNECTION = "hallq-county"
TOPICS = ("journal", "status/server/queue")  # below hallq/<site>/


class BridgeConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Bridge:
    address: str  # host:port, or several separated by spaces (Mosquitto tries them in turn)
    username: str
    password: str
    tls: bool = False
    cafile: str = ""


def load(folder: Path) -> Bridge | None:
    """The bridge of the hall whose hall.toml is in ``folder``, or None when it has no ``county-bridge.toml``."""
    path = Path(folder) / FILE
    if not path.exists():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("bridge", {})
    except OSError as e:
        raise BridgeConfigError(f"{path}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError:
        raise BridgeConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise BridgeConfigError(f"{path}: not valid TOML ({e})") from None
    if not isinstance(raw, dict):
        raise BridgeConfigError(f"{path}: bridge must be a table ([bridge] with address, username, password_file), "
                                f"not {raw!r}")
    unknown = set(raw) - {"address", "username", "password_file", "tls", "cafile"}
    if unknown:
        raise BridgeConfigError(f"{path}: [bridge] has unknown keys {sorted(unknown)}")
    for key in ("username", "password_file", "cafile"):
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise BridgeConfigError(f'{path}: [bridge] {key} must be a string in quotes ({key} = "..."), not {value!r}')
        if _has_control(value):
            raise BridgeConfigError(f"{path}: [bridge] {key} must be one line without control characters "
                                    f"(newline, tab, ...), not {value!r}")
    if not isinstance(raw.get("tls", False), bool):
        raise BridgeConfigError(f"{path}: [bridge] tls must be true or false, not {raw['tls']!r}")
    address, username, secret = raw.get("address", ""), raw.get("username", ""), raw.get("password_file", "")
    addresses = address if isinstance(address, list) else [address]
    for one in addresses or [""]:
        host, _, port = str(one).rpartition(":")
        if not isinstance(one, str) or not host or not (port.isascii() and port.isdigit()) \
                or any(c in one for c in " #") or _has_control(one):
            raise BridgeConfigError(f"{path}: [bridge] address must be host:port (the county's broker), or a list "
                                    f"of them (the nodes of its cluster), not {one!r}")
    if not username or not secret:
        raise BridgeConfigError(f"{path}: [bridge] needs username and password_file (this hall's account at the "
                                "county's broker, from the county's operator)")
    secret_path = Path(secret) if Path(secret).is_absolute() else path.parent / secret
    try:
        password = secret_path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise BridgeConfigError(f"{path}: cannot read password_file {secret_path} ({e.strerror})") from None
    except UnicodeDecodeError:
        raise BridgeConfigError(f"{path}: password_file {secret_path} is not UTF-8 text; save it as UTF-8") from None
    if not password or _has_control(password):
        raise BridgeConfigError(f"{path}: password_file {secret_path} must hold one line, the password")
    return Bridge(address=" ".join(addresses), username=username, password=password,
                  tls=raw.get("tls", False), cafile=raw.get("cafile", ""))


def _has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (a newline would add a directive to Mosquitto's config)."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def block(site: str, bridge: Bridge) -> list[str]:
    """The Mosquitto ``connection`` block that bridges ``site``'s journal and availability to the county."""
    lines = [
        f"# the bridge to the county platform's broker ({FILE}, hallq/bridge.py)",
        f"connection {CONNECTION}",
        f"address {bridge.address}",
        f"remote_clientid hallq-bridge-{site}",
        f"remote_username {bridge.username}",
        f"remote_password {bridge.password}",
        "try_private false",               # the county's broker is not a Mosquitto: plain MQTT 3.1.1
        "bridge_protocol_version mqttv311",
        "notifications false",             # no $SYS state topic at the county (its ACL would refuse it)
        "cleansession false",
        "start_type automatic",
        "restart_timeout 1 10",            # back within seconds of a cut line's return
        "keepalive_interval 30",
    ]
    if bridge.tls:
        lines.append(f"bridge_cafile {bridge.cafile}" if bridge.cafile else "bridge_capath /etc/ssl/certs")
    lines += [f"topic {t} out 1 hallq/{site}/ hallq/{site}/" for t in TOPICS]
    return lines
