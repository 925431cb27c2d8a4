"""Settings of the display boards (``board.toml``) and voice announcers (``announcer.toml``).

Both files sit next to the hall's ``hall.toml`` and name it (``hall = "hall.toml"``):
the site, the broker and the hall's windows and businesses come from there,
so a board can never disagree with the server about what the hall is.

Loading is strict, like the hall config: every mistake is reported at once as
``<file>: <key>: <what is wrong>``. docs/display-board.md and docs/announcer.md
explain every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hallq import i18n
from hallq.hallconfig import CODE, ConfigError, HallConfig, load_hall, read_toml
from hallq.i18n import LANGS
from hallq.mqtt_auth import ID
from hallq.schema import Arr, Bool, Int, Num, Obj, Str

IDENT = ID.pattern  # a device id, as the hall's broker accounts and [[devices]] take it: '_' would get no account
COLOUR = r"#[0-9A-Fa-f]{6}"
LAYOUTS = {"1920x1080": (1920, 1080), "1280x720": (1280, 720)}

COLOURS = Obj({k: Str(pattern=COLOUR) for k in (
    "background", "panel", "text", "muted", "accent", "flash", "recall", "alert", "ok")})

BOARD = Obj({
    "id": Str(pattern=IDENT, description="names the board in logs, MQTT status and its screenshot"),
    "name": Str(max_len=80),
    "layout": Str(enum=list(LAYOUTS)),
    "fullscreen": Bool(),
    "windows": Arr(Int(min=1, max=999), max_items=300),
    "areas": Arr(Str(max_len=40), max_items=20),
    "businesses": Arr(Str(pattern=CODE), max_items=26),
    "recent_calls": Int(min=1, max=12),
    "panel": Str(enum=["recent", "windows"],
                 description="beside the newest call: the recent calls, or each window's current number "
                             "(a station with a few windows, at most 6)"),
    "flash_seconds": Num(min=0, max=60),
    "font_scale": Num(min=0.6, max=1.6),
    "languages": Arr(Str(enum=list(LANGS)), min_items=1, max_items=2),
    "notices": Obj({
        "mode": Str(enum=["auto", "scroll", "page"],
                    description="a notice that fits stands still; a longer one scrolls (scroll), is cut into "
                                "pages (page), or scrolls on a GPU and is paged on software GL (auto)"),
        "speed": Int(min=20, max=600, description="pixels per second when scrolling"),
        "fps": Int(min=5, max=60, description="frames per second of the scrolling"),
        "page_seconds": Num(min=2, max=120),
    }),
    "colours": COLOURS,
    "screenshot_interval": Num(min=0.2, max=600, description="offscreen: at most one screenshot per N seconds"),
    "multisamples": Int(min=0, max=8, description="the window's antialiasing (MSAA) samples: 0 (the default) "
                                                  "for the board's straight edges; each sample costs a "
                                                  "screen-sized colour and depth buffer, in RAM on software GL"),
}, required=["id"])

BOARD_FILE = Obj({
    "hall": Str(max_len=300),
    "boards": Arr(BOARD, min_items=1, max_items=50),
}, required=["hall", "boards"])

LANGUAGE = Obj({
    "lang": Str(pattern=r"[a-z]{2,3}(-[A-Za-z]{2,8})?", description="label, e.g. zh, yue, en"),
    "voice": Str(max_len=64, description="espeak-ng voice, e.g. cmn-latn-pinyin, yue, en"),
    "rate": Int(min=60, max=400, description="words per minute"),
    "volume": Num(min=0.1, max=1.0),
    "repeat": Int(min=1, max=5),
    "numbers": Str(enum=["zh", "en"], description="zh: A零零一 and 十二; en: A001 and 12"),
    "names": Str(enum=list(LANGS), description="language of business and window names"),
    "call": Str(max_len=200),
    "recall": Str(max_len=200),
    "call_back": Str(max_len=200),
    "merged_item": Str(max_len=200),
    "merged": Str(max_len=200),
    "separator": Str(max_len=8),
}, required=["lang", "voice"])

ANNOUNCER = Obj({
    "id": Str(pattern=IDENT),
    "output": Str(enum=["device", "wav-dir", "auto"]),
    "player": Str(enum=["auto", "paplay", "aplay", "play"]),
    "wav_dir": Str(max_len=300),
    "keep_wavs": Int(min=10, max=100000),
    "chime": Bool(),
    "pause_ms": Int(min=0, max=5000, description="silence between phrases"),
    "max_age_seconds": Num(min=1, max=3600),
    "stale": Str(enum=["merge", "skip"]),
    "merge_max": Int(min=1, max=10),
    "reorder_wait_ms": Int(min=0, max=5000),
    "windows": Arr(Int(min=1, max=999), max_items=300),
    "areas": Arr(Str(max_len=40), max_items=20),
    "cache_max_files": Int(min=10, max=100000),
    "languages": Arr(LANGUAGE, min_items=1, max_items=4),
}, required=["id", "languages"])

ANNOUNCER_FILE = Obj({"hall": Str(max_len=300), "announcer": ANNOUNCER}, required=["hall", "announcer"])

DEFAULT_COLOURS = {
    "background": "#0B1F3A", "panel": "#2A4F80", "text": "#FFFFFF", "muted": "#C8D6E8",
    "accent": "#FFD23F", "flash": "#9B1B1B", "recall": "#FFB74D", "alert": "#B71C1C", "ok": "#7CD992",
}

# The announcer's sentences, by the domain rules: 请 A零零一 号到 三 号窗口办理 (docs/announcer.md).
# The defaults are in the catalogue (hallq/locale/*/announcer.po, keys announcer.*): Mandarin
# from zh_Hans, English from en; each may be overridden per language in announcer.toml.
SENTENCES = ("call", "recall", "call_back", "merged_item", "merged", "separator")


def default_sentences(numbers: str) -> dict[str, str]:
    """The default sentences for a voice reading numbers in ``numbers`` ("zh" or "en")."""
    lang = "en" if numbers == "en" else "zh-Hans"
    return {k: i18n.text(f"announcer.{k}", lang) for k in SENTENCES}


@dataclass(frozen=True)
class NoticeSettings:
    mode: str = "auto"
    speed: int = 120
    fps: int = 30
    page_seconds: float = 8.0


@dataclass(frozen=True)
class BoardSettings:
    """One board: what it shows and how (docs/display-board.md)."""

    id: str
    hall: HallConfig
    name: str = ""
    layout: str = "1920x1080"
    fullscreen: bool = True
    windows: tuple[int, ...] = ()
    areas: tuple[str, ...] = ()
    businesses: tuple[str, ...] = ()
    recent_calls: int = 8
    panel: str = "recent"
    flash_seconds: float = 8.0
    font_scale: float = 1.0
    languages: tuple[str, ...] = ("zh-Hans", "en")
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    colours: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLOURS))
    screenshot_interval: float = 2.0
    multisamples: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return LAYOUTS[self.layout]

    def shows_window(self, number: int, area: str = "") -> bool:
        """Whether calls to window ``number`` (in ``area``) belong on this board."""
        if not self.windows and not self.areas:
            return True
        if number in self.windows:
            return True
        if self.areas:
            w = self.hall.windows.get(number)
            return (area or (w.area if w else "")) in self.areas
        return False

    def shown_businesses(self) -> tuple[str, ...] | None:
        """Business codes whose queues this board shows; None for all.

        An area board shows the businesses its windows serve, unless told otherwise.
        """
        if self.businesses:
            return self.businesses
        if not self.windows and not self.areas:
            return None
        codes: list[str] = []
        for w in self.hall.windows.values():
            if self.shows_window(w.number, w.area):
                codes.extend(c for c in w.serves if c not in codes)
        return tuple(c for c in self.hall.businesses if c in codes)


@dataclass(frozen=True)
class Language:
    lang: str
    voice: str
    rate: int = 150
    volume: float = 1.0
    repeat: int = 1
    numbers: str = "zh"
    names: str = "zh-Hans"
    templates: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AnnouncerSettings:
    """One announcer: voices, wording, pacing, output (docs/announcer.md)."""

    id: str
    hall: HallConfig
    languages: tuple[Language, ...]
    output: str = "device"
    player: str = "auto"
    wav_dir: str = "announcements"
    keep_wavs: int = 500
    chime: bool = True
    pause_ms: int = 500
    max_age_seconds: float = 45.0
    stale: str = "merge"
    merge_max: int = 4
    reorder_wait_ms: int = 300
    windows: tuple[int, ...] = ()
    areas: tuple[str, ...] = ()
    cache_max_files: int = 2000

    def hears_window(self, number: int, area: str = "") -> bool:
        if not self.windows and not self.areas:
            return True
        if number in self.windows:
            return True
        w = self.hall.windows.get(number)
        return bool(self.areas) and (area or (w.area if w else "")) in self.areas


def _hall(path: Path, raw: dict[str, Any], hall_override: str | None) -> HallConfig:
    hall = load_hall(Path(hall_override) if hall_override else (path.parent / raw["hall"]))
    i18n.use_traditional(hall.traditional)  # the board shows the hall's Traditional Chinese (hk or tw)
    return hall


def _check_windows(label: str, key: str, hall: HallConfig, windows: list[int], areas: list[str],
                   problems: list) -> None:
    for n in windows:
        if n not in hall.windows:
            problems.append((label, f"{key}.windows", f"unknown window {n} (the hall has {sorted(hall.windows)})"))
    known_areas = {w.area for w in hall.windows.values()}
    for a in areas:
        if a not in known_areas:
            problems.append((label, f"{key}.areas", f"unknown area {a!r} (known: {', '.join(sorted(known_areas))})"))


MAX_PANEL_WINDOWS = 6


def _shows(b: dict, number: int, area: str) -> bool:
    windows, areas = b.get("windows", []), b.get("areas", [])
    return (not windows and not areas) or number in windows or area in areas


def load_boards(path: str | Path, hall_override: str | None = None) -> dict[str, BoardSettings]:
    """Every board of ``board.toml``, by id; raise ConfigError listing every problem."""
    path = Path(path)
    label = str(path)
    raw = read_toml(path)
    problems = [(label, k, m) for k, m in BOARD_FILE.validate(raw)]
    if problems:
        raise ConfigError(problems)
    hall = _hall(path, raw, hall_override)
    boards: dict[str, BoardSettings] = {}
    for b in raw["boards"]:
        key = f"boards[id={b['id']}]"
        if b["id"] in boards:
            problems.append((label, key, "duplicate board id"))
        _check_windows(label, key, hall, b.get("windows", []), b.get("areas", []), problems)
        for code in b.get("businesses", []):
            if code not in hall.businesses:
                problems.append((label, f"{key}.businesses", f"unknown business {code!r} "
                                 f"(known: {', '.join(hall.businesses)})"))
        if b.get("panel") == "windows":
            shown = [n for n, w in hall.windows.items() if _shows(b, n, w.area)]
            if len(shown) > MAX_PANEL_WINDOWS:
                problems.append((label, f"{key}.panel", f'"windows" lists one row per window and this board shows '
                                 f"{len(shown)}: at most {MAX_PANEL_WINDOWS} (choose the board's windows or areas, "
                                 'or panel = "recent")'))
        opts = {k: (tuple(v) if isinstance(v, list) else v) for k, v in b.items() if k not in ("notices", "colours")}
        boards[b["id"]] = BoardSettings(hall=hall, notices=NoticeSettings(**b.get("notices", {})),
                                        colours={**DEFAULT_COLOURS, **b.get("colours", {})}, **opts)
    if problems:
        raise ConfigError(problems)
    return boards


def load_announcer(path: str | Path, hall_override: str | None = None) -> AnnouncerSettings:
    """The announcer of ``announcer.toml``; raise ConfigError listing every problem."""
    path = Path(path)
    label = str(path)
    raw = read_toml(path)
    problems = [(label, k, m) for k, m in ANNOUNCER_FILE.validate(raw)]
    if problems:
        raise ConfigError(problems)
    hall = _hall(path, raw, hall_override)
    a = raw["announcer"]
    _check_windows(label, "announcer", hall, a.get("windows", []), a.get("areas", []), problems)
    languages = []
    for i, lg in enumerate(a["languages"]):
        numbers = lg.get("numbers", "en" if lg["lang"].startswith("en") else "zh")
        base = default_sentences(numbers)
        templates = {k: lg.get(k, base[k]) for k in base}
        for k, t in templates.items():
            if k in ("call", "recall", "call_back", "merged_item") and "{ticket}" not in t:
                problems.append((label, f"announcer.languages[{i}].{k}", "must contain {ticket}"))
            try:
                t.format(ticket="A001", window="3", business="", window_name="", items="")
            except (KeyError, IndexError, ValueError) as e:
                problems.append((label, f"announcer.languages[{i}].{k}",
                                 f"bad placeholder {e}: use {{ticket}}, {{window}}, {{business}}, {{window_name}}"))
        languages.append(Language(
            lang=lg["lang"], voice=lg["voice"], rate=lg.get("rate", 150), volume=lg.get("volume", 1.0),
            repeat=lg.get("repeat", 2 if i == 0 else 1), numbers=numbers,
            names=lg.get("names", "en" if numbers == "en" else "zh-Hant" if lg["lang"].startswith("yue") else "zh-Hans"),
            templates=templates))
    if problems:
        raise ConfigError(problems)
    opts = {k: (tuple(v) if isinstance(v, list) else v) for k, v in a.items() if k != "languages"}
    return AnnouncerSettings(hall=hall, languages=tuple(languages), **opts)
