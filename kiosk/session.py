"""One resident's visit at the kiosk: language, elderly mode, idle time, and what the hall said last.

The session is what the end of a visit wipes (完成 on a result, 首页, the
idle timeout; on the home screen, the idle timeout when the last resident
changed the language or the mode): language and elderly mode go back to the
kiosk's defaults, pending speech is dropped, and every screen forgets what
was typed (each presenter's ``reset``). What the server said
about the hall, its businesses and guides is kept (``cache``) so guides can
still be read while the network is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hallq import i18n
from hallq.client import ApiError, Unreachable
from hallq.i18n import pick
from kiosk.api import KioskApi
from kiosk.config import KioskConfig
from kiosk.devices import KioskDevices
from kiosk.texts import tr

log = logging.getLogger("hallq.kiosk")


class KioskSession:
    def __init__(self, cfg: KioskConfig, api: KioskApi, devices: KioskDevices,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.api = api
        self.devices = devices
        self.clock = clock
        self.lang = cfg.languages[0]
        self.elderly = cfg.elderly_mode
        self.last_touch = clock()
        self.cache: dict[str, Any] = {}
        self._catalogue: str | None = None  # the version of the items kept (GET /hall's catalogue)
        self._lock = threading.Lock()
        self.on_wipe: list[Callable[[], None]] = []     # each screen forgets the visit
        self.on_forget: list[Callable[[], None]] = []   # ... and the presses it held (kiosk.api.PressKey.leave)

    # -- the resident ---------------------------------------------------------------------

    def t(self, key: str, **fmt: Any) -> str:
        return tr(key, self.lang, **fmt)

    def pick(self, texts: Any) -> str:
        return pick(texts, self.lang)

    def set_lang(self, lang: str) -> None:
        if lang in self.cfg.languages:
            self.lang = lang

    def touch(self) -> None:
        self.last_touch = self.clock()

    def idle_seconds(self) -> float:
        return self.clock() - self.last_touch

    def idle_state(self, timeout: float | None = None) -> str:
        """``active``, ``warning`` (ask "need more time?") or ``expired`` (wipe and go home)."""
        limit = timeout if timeout is not None else self.cfg.idle_timeout_seconds
        idle = self.idle_seconds()
        if idle >= limit:
            return "expired"
        if idle >= limit - self.cfg.idle_warning_seconds:
            return "warning"
        return "active"

    def wipe(self, forget: bool = True) -> None:
        """The next resident starts clean: defaults back, nothing typed kept, no stale speech. ``forget=False``
        (the resident ended the visit: 完成, 首页) keeps the key of a press left while its answer was unknown,
        so that the same request a moment later is not done twice; the idle wipe forgets it too."""
        self.lang = self.cfg.languages[0]
        self.elderly = self.cfg.elderly_mode
        self.devices.voice.cancel()
        for hook in self.on_wipe:
            hook()
        if forget:
            for hook in self.on_forget:
                hook()
        self.touch()

    def at_defaults(self) -> bool:
        """The kiosk's own language and mode: what the next resident must find."""
        return self.lang == self.cfg.languages[0] and self.elderly == self.cfg.elderly_mode

    def say(self, text: str) -> None:
        """Speak ``text`` (elderly mode: slower)."""
        if self.cfg.speak and text:
            self.devices.voice.say(text, self.lang, slow=self.elderly)

    # -- what the hall said last ---------------------------------------------------------------

    def cached(self, key: str, fetch: Callable[[], Any], max_age: float = 20.0) -> tuple[Any, bool]:
        """``(value, stale)``: a fresh answer, or the last one when the server is unreachable.

        Raises :class:`Unreachable` only when there is nothing cached yet.
        """
        with self._lock:
            entry = self.cache.get(key)
        if entry is not None and self.clock() - entry[1] < max_age:
            return entry[0], False
        try:
            value = fetch()
        except Unreachable:
            if entry is None:
                raise
            return entry[0], True
        with self._lock:
            self.cache[key] = (value, self.clock())
        return value, False

    def hall(self) -> tuple[dict, bool]:
        value, stale = self.cached("hall", self.api.hall, max_age=10)
        i18n.use_traditional(value.get("traditional", "hk"))  # the server's hall says hk or tw
        self._follow_catalogue(value.get("catalogue"))
        return value, stale

    def _follow_catalogue(self, version: str | None) -> None:
        """A manager edited a guide (GET /hall's ``catalogue`` moved): the kept items are read again at once."""
        if version and version != self._catalogue:
            if self._catalogue is not None:
                with self._lock:
                    self.cache.pop("items", None)
            self._catalogue = version

    def businesses(self) -> tuple[list[dict], bool]:
        return self.cached("businesses", self.api.businesses, max_age=5)

    def items(self) -> tuple[list[dict], bool]:
        return self.cached("items", self.api.items, max_age=300)

    def hall_name(self) -> dict | str:
        entry = self.cache.get("hall")
        return entry[0]["name"] if entry else ""

    def missed_minutes(self) -> int:
        entry = self.cache.get("hall")
        rules = (entry[0].get("rules") or {}) if entry else {}  # GET /hall's rules: the hall's own value wins
        return rules.get("no_show_grace_minutes", self.cfg.missed_number_minutes)

    def where_to_wait(self, business: str) -> str:
        """"请在一楼A区等候叫号" from the areas of the windows open (or paused) for ``business``, or a general sentence.

        A closed window is no place to wait: the tidal windows of 一楼C区 serve commerce only when they are opened
        at a peak, so a ticket sends nobody there while they are closed."""
        try:
            windows, _ = self.cached("windows", self.api.windows, max_age=60)
        except ApiError:      # unreachable, or any refusal: the general sentence (the ticket is what matters)
            windows = []
        areas = []
        for w in windows:
            if w.get("state") == "closed" or business not in (w.get("serves") or []):
                continue
            if w.get("area") and w["area"] not in areas:
                areas.append(w["area"])
        if areas and len(areas) <= 2:
            return self.t("take.where", area="、".join(areas) if self.lang != "en" else " / ".join(areas))
        return self.t("take.where_default")
