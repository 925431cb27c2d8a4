"""The home screen: what can be done here, today's hours, whether numbers are issued, language and size.

Nothing here sells or advertises; the "ask staff for help" button is on it
(and on every other screen). Language and elderly mode are the resident's
choices for this visit only: the idle timeout puts the kiosk's defaults back.
"""

from __future__ import annotations

from typing import Any

from hallq.client import Unreachable
from hallq.i18n import LANGS
from kiosk.presenters.base import Flow, Option, View

TILES = ("take_number", "appointment", "guide", "apply", "progress", "requeue", "rate")
LANG_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}


REFRESH_SECONDS = 10.0


class Home(Flow):
    name = "home"

    def refresh_seconds(self) -> float | None:
        return REFRESH_SECONDS

    def reset(self) -> None:
        self.hall: dict[str, Any] | None = None
        self.offline = False
        super().reset()

    def first_step(self) -> str:
        return "menu"

    def start(self, **_: Any) -> None:
        self.reset()
        self.refresh()

    def refresh(self) -> None:
        """Ask the server how the hall is (every few seconds while home is shown)."""
        try:
            self.hall, self.offline = self.s.hall()
        except Unreachable:
            self.offline = True

    def _now(self) -> str:
        """The hall's date and time as the server says (a demo may run on a virtual clock)."""
        from kiosk.presenters.forms import day_label

        now = ((self.hall or {}).get("clock") or {}).get("now")
        return f"{day_label(now[:10], self.s.lang)} {now[11:16]}" if now else ""

    def on_choose(self, key: str) -> None:
        if key in TILES:
            self.go(key)

    def on_action(self, key: str) -> None:
        if key.startswith("lang:"):
            self.s.set_lang(key[5:])
        elif key == "elderly":
            self.s.elderly = not self.s.elderly
        elif key == "help":
            self.go("help")

    def view(self) -> View:
        s = self.s
        v = self.base_view("menu", "menu", "home.take_number", back=False)
        v.title = s.pick(self.hall["name"]) if self.hall else ""
        v.prompt = self.t("home.welcome")
        for key in TILES:
            v.options.append(Option(key, self.t(f"home.{key}"), detail=self.t(f"home.{key}.detail"),
                                    primary=key == "take_number"))
        v.actions = [Option(f"lang:{lang}", LANG_NAMES[lang], selected=lang == s.lang)
                     for lang in LANGS if lang in s.cfg.languages]
        v.actions.append(Option("elderly", self.t("home.elderly_on" if s.elderly else "home.elderly_off"),
                                selected=s.elderly))
        v.actions.append(Option("help", self.t("home.help"), primary=True))
        status = []
        if self.hall:
            today = self.hall.get("today") or {}
            periods = today.get("periods") or []
            status.append(self.t("home.hours", hours=" ".join(periods)) if periods else self.t("home.closed_today"))
            if self.hall.get("issuing"):
                status.append(self.t("home.issuing"))
            else:
                status.append(self.t("home.not_issuing"))
                if self.hall.get("next_opening"):
                    nxt = self.hall["next_opening"]
                    status.append(self.t("home.next_opening", when=nxt[5:16].replace("T", " ")))
        v.result = {"status": status, "issuing": bool(self.hall and self.hall.get("issuing")),
                    "now": self._now()}
        if self.offline:
            self.tell("error", self.t("retrying", seconds=s.cfg.retry_seconds))
            v.notice = self.notice
        problem = s.devices.printer_problem()
        if problem and not self.offline:
            self.tell("warn", self.t("home.printer_problem", problem=self.printer_problem(problem)))
            v.notice = self.notice
        return v
