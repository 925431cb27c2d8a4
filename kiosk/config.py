"""The kiosk's own configuration file (``kiosk.toml``): server, key, devices, screen, languages.

Loaded strictly, like the hall config: every mistake is reported as
``file: key: what is wrong`` (:class:`hallq.hallconfig.ConfigError`), all at
once, before the window opens. Each device section names its ``driver``
explicitly (``serial``, ``network``, ``simulator``, ``none``…); the other
keys of the section go to that driver. Nothing falls back to a simulator.
See docs/kiosk.md for every key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hallq.hallconfig import ConfigError, _label, read_toml
from hallq.i18n import LANGS
from hallq.kivymem import MULTISAMPLES
from hallq.schema import Arr, Bool, Int, Obj, Str, Texts
from hallq.settings import DEVICE_KEY_FILE_ENV, device_key_from_env_file

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "city-hall" / "kiosk.toml"

PRINTER_DRIVERS = ("serial", "network", "usb", "simulator", "none")
READER_DRIVERS = ("serial", "simulator", "none")
SCANNER_DRIVERS = ("serial", "keyboard", "simulator", "none")
VOICE_DRIVERS = ("espeak", "simulator", "none")
TEXT_INPUTS = ("onscreen", "system")
DEFAULT_MULTISAMPLES = 0  # no MSAA: the screens look the same without it, and it is 64 MB at 1080p on software GL


def _device(drivers: tuple[str, ...]) -> Obj:
    return Obj({"driver": Str(enum=list(drivers))}, required=["driver"], extra=True)


KIOSK_FILE = Obj({
    "kiosk": Obj({
        "id": Str(pattern=r"[a-z0-9][a-z0-9-]{0,39}", description="the device id in the hall config"),
        "server_url": Str(pattern=r"https?://\S+", max_len=300),
        "device_key": Str(min_len=8, max_len=200, description="DEMO keys only; use device_key_env in production"),
        "device_key_env": Str(pattern=r"[A-Z_][A-Z0-9_]*", max_len=64),
        "device_key_file": Str(max_len=300),
        "layout": Str(enum=["portrait", "landscape"]),
        "resolution": Str(enum=["1080p", "720p"], description="the screen: 1080×1920 / 1920×1080, or 720×1280 / "
                                                            "1280×720 (everything drawn at the same proportions)"),
        "fullscreen": Bool(),
        "languages": Arr(Str(enum=list(LANGS)), min_items=1, max_items=3),
        "elderly_mode": Bool(description="start every visit in elderly mode (长辈模式)"),
        "idle_timeout_seconds": Int(min=15, max=600),
        "idle_warning_seconds": Int(min=5, max=60),
        "result_timeout_seconds": Int(min=10, max=300),
        "retry_seconds": Int(min=1, max=60, description="automatic retry when the server is unreachable"),
        "speak": Bool(),
        "auto_read": Bool(description="elderly mode: each step is read aloud on entering it, as if 读给我听 was "
                                      "pressed (default off: the resident presses it)"),
        "help": Texts("where to find staff: shown on every screen's help page"),
        "missed_number_minutes": Int(min=0, max=480, description="shown when the server does not say"),
        "screenshot_dir": Str(max_len=300, description="with no display: where screenshots go"),
        "text_input": Str(enum=list(TEXT_INPUTS),
                          description="text fields: the on-screen pinyin keyboard (onscreen) or the system's IME"),
        "multisamples": MULTISAMPLES,
    }, required=["id", "server_url"]),
    "mqtt": Obj({
        "url": Str(max_len=300, pattern=r"(mqtts?://\S+)?", description="empty: the broker the server reports"),
        "site": Str(max_len=40, pattern=r"([a-z0-9][a-z0-9-]{0,39})?"),
        "health_interval_seconds": Int(min=5, max=3600),
    }),
    "printer": _device(PRINTER_DRIVERS),
    "id_reader": _device(READER_DRIVERS),
    "scanner": _device(SCANNER_DRIVERS),
    "voice": Obj({"driver": Str(enum=list(VOICE_DRIVERS)), "rate": Int(min=80, max=300),
                  "elderly_rate": Int(min=80, max=300), "save_dir": Str(max_len=300),
                  "player": Str(max_len=100)}, required=["driver"]),
}, required=["kiosk", "printer"])


@dataclass(frozen=True)
class DeviceChoice:
    driver: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KioskConfig:
    path: Path
    id: str
    server_url: str
    device_key: str
    layout: str = "portrait"
    resolution: str = "1080p"
    fullscreen: bool = True
    languages: tuple[str, ...] = LANGS
    elderly_mode: bool = False
    idle_timeout_seconds: int = 90
    idle_warning_seconds: int = 15
    result_timeout_seconds: int = 30
    retry_seconds: int = 3
    speak: bool = True
    auto_read: bool = False               # elderly mode: 读给我听 by itself on entering each step
    help: dict[str, str] = field(default_factory=dict)
    missed_number_minutes: int = 30
    screenshot_dir: str = ""
    text_input: str = "onscreen"          # onscreen: the pinyin keyboard; system: a real keyboard and IME
    multisamples: int = DEFAULT_MULTISAMPLES  # the window's MSAA samples (docs/kiosk.md, "The kiosk's memory")
    mqtt_url: str = ""
    mqtt_site: str = ""
    health_interval_seconds: int = 30
    printer: DeviceChoice = DeviceChoice("none")
    id_reader: DeviceChoice = DeviceChoice("none")
    scanner: DeviceChoice = DeviceChoice("none")
    voice: DeviceChoice = DeviceChoice("none")

    @property
    def size(self) -> tuple[int, int]:
        """The terminal's screen in pixels: 1080×1920 portrait, 1920×1080 landscape (720×1280, 1280×720 at 720p)."""
        short, long = (720, 1280) if self.resolution == "720p" else (1080, 1920)
        return (short, long) if self.layout == "portrait" else (long, short)


def load_kiosk(path: str | os.PathLike[str] | None = None, **overrides: Any) -> KioskConfig:
    """Read and check ``kiosk.toml``; raise ConfigError listing every problem.

    ``overrides`` replace top-level values after loading (the command line's
    ``--server``, ``--layout``…).
    """
    p = Path(path or os.environ.get("HALLQ_KIOSK_CONFIG") or DEFAULT_CONFIG)
    label = _label(p)
    raw = read_toml(p, label)
    problems = [(label, k, m) for k, m in KIOSK_FILE.validate(raw)]
    if problems:
        raise ConfigError(problems)
    k = raw["kiosk"]
    key = _device_key(k, p, label, problems)
    if k.get("idle_warning_seconds", 15) >= k.get("idle_timeout_seconds", 90):
        problems.append((label, "kiosk.idle_warning_seconds", "must be shorter than idle_timeout_seconds"))
    if problems:
        raise ConfigError(problems)
    m = raw.get("mqtt", {})

    def device(section: str) -> DeviceChoice:
        d = dict(raw.get(section, {"driver": "none"}))
        return DeviceChoice(d.pop("driver"), d)

    values: dict[str, Any] = dict(
        path=p, id=k["id"], server_url=k["server_url"].rstrip("/"), device_key=key,
        layout=k.get("layout", "portrait"), resolution=k.get("resolution", "1080p"),
        fullscreen=k.get("fullscreen", True),
        languages=tuple(k.get("languages", LANGS)), elderly_mode=k.get("elderly_mode", False),
        idle_timeout_seconds=k.get("idle_timeout_seconds", 90), idle_warning_seconds=k.get("idle_warning_seconds", 15),
        result_timeout_seconds=k.get("result_timeout_seconds", 30), retry_seconds=k.get("retry_seconds", 3),
        speak=k.get("speak", True), help=k.get("help", {}), missed_number_minutes=k.get("missed_number_minutes", 30),
        auto_read=k.get("auto_read", False),
        screenshot_dir=k.get("screenshot_dir", ""), text_input=k.get("text_input", "onscreen"),
        multisamples=k.get("multisamples", DEFAULT_MULTISAMPLES),
        mqtt_url=m.get("url", ""), mqtt_site=m.get("site", ""),
        health_interval_seconds=m.get("health_interval_seconds", 30),
        printer=device("printer"), id_reader=device("id_reader"), scanner=device("scanner"), voice=device("voice"),
    )
    values.update({k2: v for k2, v in overrides.items() if v is not None})
    return KioskConfig(**values)


def _device_key(k: dict[str, Any], path: Path, label: str, problems: list) -> str:
    try:
        handed = device_key_from_env_file()  # a service's credential (LoadCredential=) wins over the config
    except OSError as e:
        problems.append((label, DEVICE_KEY_FILE_ENV, f"cannot read {os.environ[DEVICE_KEY_FILE_ENV]}: {e.strerror}"))
        return ""
    if handed is not None:
        return handed
    given = [name for name in ("device_key", "device_key_env", "device_key_file") if name in k]
    if len(given) != 1:
        problems.append((label, "kiosk.device_key", "give exactly one of device_key, device_key_env, device_key_file"))
        return ""
    if "device_key" in k:
        return k["device_key"]
    if "device_key_env" in k:
        value = os.environ.get(k["device_key_env"], "")
        if not value:
            problems.append((label, "kiosk.device_key_env", f"environment variable {k['device_key_env']} is not set"))
        return value
    f = (path.parent / k["device_key_file"]).expanduser()
    try:
        return f.read_text(encoding="utf-8").strip()
    except OSError as e:
        problems.append((label, "kiosk.device_key_file", f"cannot read {f}: {e.strerror}"))
        return ""
