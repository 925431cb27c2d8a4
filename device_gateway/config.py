"""Loading ``devices.toml``: the window devices one gateway drives (strict, every mistake at once).

Errors read ``<file>: <key>: <what is wrong>``, like the hall config's
(:class:`hallq.hallconfig.ConfigError`). Every key is described in
docs/devices.md, "Configuration".
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_drivers import frames as F
from device_drivers.base import device_text
from device_drivers.led_strip import COLOURS, StripTemplates
from hallq.hallconfig import ConfigError, HallConfig, load_hall, read_toml
from hallq.schema import Arr, Bool, Int, Map, Obj, Str
from hallq.settings import DEVICE_KEY_FILE_ENV, device_key_from_env_file

DEVICE_ID = r"[a-z0-9][a-z0-9-]{0,39}"
KINDS = ("led_strip", "keypad", "rating_pad")
DRIVERS = ("serial", "simulator")
ID_TEMPLATES = {"led_strip": "strip-{window}", "keypad": "keypad-{window}", "rating_pad": "pad-{window}"}

_TEXT = Str(min_len=1, max_len=60)
STRIP_OPTIONS = {
    "columns": Int(min=2, max=64, description="visible width in Chinese characters; longer texts scroll"),
    "brightness": Int(min=0, max=15),
    "closed_brightness": Int(min=0, max=15, description="brightness while the window is closed"),
    "encoding": Str(enum=list(F.ENCODINGS)),
    "flashes": Int(min=0, max=9, description="blinks when a call arrives"),
    "speed": Int(min=1, max=8, description="scroll speed"),
    **{name: _TEXT for name in StripTemplates.FIELDS},
    "colours": Map(Str(enum=list(COLOURS)), key_pattern="|".join(StripTemplates.FIELDS), max_keys=5),
}
KEYPAD_OPTIONS = {
    "encoding": Str(enum=list(F.ENCODINGS)),
    "call_completes_current": Bool(description="叫号 also finishes the ticket being served"),
    "pause_reasons": Arr(Str(min_len=1, max_len=40), min_items=1, max_items=9),
    "display": Bool(description="whether the keypad has an LCD"),
}
PAD_OPTIONS = {
    "encoding": Str(enum=list(F.ENCODINGS)),
    "prompt_seconds": Int(min=5, max=255),
    "prompt_after_complete": Bool(description="prompt the resident when a service is completed"),
    "prompt_text": _TEXT,
    "thanks_text": _TEXT,
}
OPTIONS = {"led_strip": STRIP_OPTIONS, "keypad": KEYPAD_OPTIONS, "rating_pad": PAD_OPTIONS}
DEFAULTS: dict[str, dict[str, Any]] = {
    "led_strip": {"columns": 8, "brightness": 10, "encoding": "gb18030", "flashes": 3, "speed": 4},
    "keypad": {"encoding": "gb18030", "call_completes_current": True, "display": True,
               "pause_reasons": ["临时离开", "午休", "系统故障", "业务培训"]},
    "rating_pad": {"encoding": "gb18030", "prompt_seconds": 30, "prompt_after_complete": True},
}
# the default texts of a device kind: devices.po's, as the devices show them (device_drivers.base.DEVICE_LANG)
DEFAULT_TEXTS = {"rating_pad": {"prompt_text": "devices.pad.prompt", "thanks_text": "devices.pad.thanks"}}


def defaults(kind: str) -> dict[str, Any]:
    """The options of a device kind that devices.toml does not set."""
    return {**DEFAULTS[kind], **{k: device_text(key) for k, key in DEFAULT_TEXTS.get(kind, {}).items()}}

DEVICES_FILE = Obj({
    "gateway": Obj({
        "id": Str(pattern=DEVICE_ID),
        "hall": Str(min_len=1, max_len=300, description="the hall config, relative to this file"),
        "server": Str(max_len=300, pattern=r"https?://\S+"),
        "key": Str(min_len=8, max_len=200, description="the device key (demo only; prefer key_env)"),
        "key_env": Str(pattern=r"[A-Z_][A-Z0-9_]*", max_len=100),
        "poll_interval_ms": Int(min=10, max=5000),
        "probe_interval_ms": Int(min=200, max=60000),
        "offline_after_ms": Int(min=200, max=600000),
        "reopen_interval_ms": Int(min=100, max=60000),
        "reply_timeout_ms": Int(min=10, max=5000),
        "retries": Int(min=0, max=5),
        "message_seconds": Int(min=1, max=60),
        "rating_poll_ms": Int(min=0, max=60000, description="how often a pad's window asks whether to prompt; 0: never"),
    }, required=["id", "hall"]),
    "led_strip": Obj(STRIP_OPTIONS),
    "keypad": Obj(KEYPAD_OPTIONS),
    "rating_pad": Obj(PAD_OPTIONS),
    "buses": Arr(Obj({
        "id": Str(pattern=DEVICE_ID),
        "port": Str(min_len=1, max_len=300, description="/dev/ttyUSB0, /dev/serial/by-id/..., rfc2217://host:port"),
        "baudrate": Int(min=1200, max=921600),
        "parity": Str(enum=["none", "even", "odd"]),
        "protocol": Str(enum=["hallq"]),
    }, required=["id", "port"]), max_items=64),
    "devices": Arr(Obj({
        "kind": Str(enum=list(KINDS)),
        "driver": Str(enum=list(DRIVERS)),
        "id": Str(pattern=DEVICE_ID, description="one window only; default strip-<n>, keypad-<n>, pad-<n>"),
        "window": Int(min=1, max=999),
        "windows": Arr(Int(min=1, max=999), min_items=1, max_items=300),
        "bus": Str(pattern=DEVICE_ID),
        "address": Int(min=1, max=F.MAX_ADDRESS, description="one window only; default: the window number"),
        **{k: v for opts in OPTIONS.values() for k, v in opts.items()},
    }, required=["kind", "driver"]), max_items=1000),
}, required=["gateway"])


@dataclass(frozen=True)
class BusConfig:
    id: str
    port: str
    baudrate: int = 9600
    parity: str = "none"
    protocol: str = "hallq"


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    kind: str
    driver: str
    window: int
    address: int
    bus: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GatewayConfig:
    path: Path
    id: str
    hall: HallConfig
    server: str
    key: str
    devices: list[DeviceConfig]
    buses: dict[str, BusConfig]
    poll_interval: float = 0.1
    probe_interval: float = 2.0
    offline_after: float = 3.0
    reopen_interval: float = 2.0
    reply_timeout: float = 0.15
    retries: int = 2
    message_seconds: int = 5
    rating_poll: float = 3.0

    def of_kind(self, kind: str) -> list[DeviceConfig]:
        return [d for d in self.devices if d.kind == kind]


def load_gateway(path: str | os.PathLike[str], hall_path: str | os.PathLike[str] | None = None,
                 server: str | None = None) -> GatewayConfig:
    """Load ``devices.toml`` (and the hall config it names); raise ConfigError listing every problem."""
    path = Path(path)
    label = str(path)
    raw = read_toml(path)
    problems = [(label, k, m) for k, m in DEVICES_FILE.validate(raw)]
    if problems:
        raise ConfigError(problems)
    g = raw["gateway"]
    hall = load_hall(Path(hall_path) if hall_path else (path.parent / g["hall"]))
    key = os.environ.get(g["key_env"], "") if g.get("key_env") else ""
    key = key or g.get("key", "")
    try:
        key = device_key_from_env_file() or key  # a service's credential (LoadCredential=) wins over the config
    except OSError as e:
        problems.append((label, DEVICE_KEY_FILE_ENV, f"cannot read {os.environ[DEVICE_KEY_FILE_ENV]}: {e.strerror}"))
    buses = {}
    for b in raw.get("buses", []):
        if b["id"] in buses:
            problems.append((label, f"buses[id={b['id']}]", "duplicate bus id"))
        buses[b["id"]] = BusConfig(**b)

    bound = _bound_windows(hall, key)
    devices: list[DeviceConfig] = []
    taken: dict[tuple[str, int], str] = {}
    for i, d in enumerate(raw.get("devices", [])):
        key_path = f"devices[{i}]"
        windows = d.get("windows") or ([d["window"]] if "window" in d else [])
        if ("window" in d) == ("windows" in d):
            problems.append((label, key_path, "give exactly one of window = <n> or windows = [<n>, ...]"))
            continue
        if len(windows) > 1 and ("id" in d or "address" in d):
            problems.append((label, key_path, "id and address are per window: use them with window = <n>"))
        unknown = set(d) - set(OPTIONS[d["kind"]]) - {"kind", "driver", "id", "window", "windows", "bus", "address"}
        if unknown:
            problems.append((label, key_path, f"{', '.join(sorted(unknown))}: not an option of a {d['kind']}"))
        if d["driver"] == "serial" and d.get("bus") not in buses:
            problems.append((label, f"{key_path}.bus",
                             f"a serial device needs bus = one of: {', '.join(buses) or '(no [[buses]] defined)'}"))
        if d["driver"] == "simulator" and "bus" in d:
            problems.append((label, f"{key_path}.bus", "a simulator has its own simulated bus: remove bus"))
        options = {**defaults(d["kind"]), **raw.get(d["kind"], {}),
                   **{k: v for k, v in d.items() if k in OPTIONS[d["kind"]]}}
        for n in windows:
            if n not in hall.windows:
                problems.append((label, f"{key_path}.windows", f"window {n} is not in {hall.path.name}"))
                continue
            if d["kind"] != "led_strip" and bound is not None and n not in bound:
                problems.append((label, f"{key_path}.windows", f"window {n} is not bound to this gateway's key in "
                                 f"{hall.path.name} ([[devices]] kind = \"gateway\", windows): the server would refuse its keys"))
            address = d.get("address", n)
            if address > F.MAX_ADDRESS:
                problems.append((label, key_path, f"window {n} needs an explicit address (1-{F.MAX_ADDRESS})"))
                continue
            dev_id = d.get("id") or ID_TEMPLATES[d["kind"]].format(window=n)
            bus = d.get("bus") if d["driver"] == "serial" else f"sim-{d['kind'].replace('_', '-')}"
            if (bus, address) in taken:
                problems.append((label, key_path, f"address {address} on bus {bus} is already used by {taken[bus, address]}"))
            taken[bus, address] = dev_id
            devices.append(DeviceConfig(dev_id, d["kind"], d["driver"], n, address, bus, options))

    seen: set[str] = set()
    for dev in devices:
        if dev.id in seen:
            problems.append((label, f"devices[id={dev.id}]", "duplicate device id"))
        seen.add(dev.id)
        if dev.kind == "led_strip":
            templates = strip_templates(dev.options)
            problems.extend((label, f"devices[id={dev.id}].{k}", m) for k, m in templates.problems())
    if any(d.kind != "led_strip" for d in devices):
        if not key:
            problems.append((label, "gateway.key_env", "keypads and rating pads need the gateway's device key: set "
                             f"{g.get('key_env') or 'key_env'} in the environment (or key, for a demo)"))
        elif bound is None:
            problems.append((label, "gateway.key", f"the key is not a device key of {hall.path.name} (no [[devices]] "
                             "key_sha256 matches it): make one with `hallq device-key`"))
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    ms = lambda name, default: g.get(name, default) / 1000  # noqa: E731
    return GatewayConfig(
        path=path, id=g["id"], hall=hall, server=(server or g.get("server") or "http://127.0.0.1:8080").rstrip("/"),
        key=key, devices=devices, buses=buses, poll_interval=ms("poll_interval_ms", 100),
        probe_interval=ms("probe_interval_ms", 2000), offline_after=ms("offline_after_ms", 3000),
        reopen_interval=ms("reopen_interval_ms", 2000), reply_timeout=ms("reply_timeout_ms", 150),
        retries=g.get("retries", 2), message_seconds=g.get("message_seconds", 5),
        rating_poll=ms("rating_poll_ms", 3000))


def _bound_windows(hall: HallConfig, key: str) -> set[int] | None:
    """The windows the hall binds to this key's gateway device; None when the key is not in the hall config."""
    if not key:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    for d in hall.devices:
        if d.key_sha256 == digest:
            return set(d.windows)
    return None


def strip_templates(options: dict[str, Any]) -> StripTemplates:
    base = StripTemplates()
    return StripTemplates(**{k: options.get(k, getattr(base, k)) for k in StripTemplates.FIELDS},
                          colours={**base.colours, **options.get("colours", {})})
