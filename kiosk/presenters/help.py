"""Ask staff for help (找工作人员帮忙): where they are, the hall's phone, spoken aloud, and a call to them.

Available from every screen. "请工作人员到这里来" makes a help request that
every window console and the manager's hall page show until a clerk takes it
(``POST /help-requests``; pressing again while it is open asks nothing new).
While the screen is shown the kiosk asks every few seconds whether a clerk
has taken it (``GET /help-requests/<id>``), and then says who is coming.
Staff can take a number, fill in a form or apply on a resident's behalf
(帮办代办, seed 000 §22).
"""

from __future__ import annotations

from typing import Any

from hallq.client import ApiError, Unreachable
from kiosk.presenters.base import Flow, Option, Section, View

REFRESH_SECONDS = 2.0  # a resident waiting to hear who is coming; one small GET, only while it is open


class Help(Flow):
    name = "help"

    def first_step(self) -> str:
        return "info"

    def start(self, **_: Any) -> None:
        self.reset()
        self.s.say(self._text())

    def _text(self) -> str:
        return self.s.pick(self.s.cfg.help) or self.t("help.default")

    def reset(self) -> None:
        super().reset()
        self.called = False
        self.request: dict[str, Any] | None = None

    def on_action(self, key: str) -> None:
        if key == "done":
            self.go("home")
        elif key == "call" and not self.called:
            def run() -> None:
                self.request = self.s.api.request_help()
                self.called = True
                self.tell("ok", self.t("help.called"))
                self.s.say(self.t("help.called"))
            self._attempt(run)

    def refresh_seconds(self) -> float | None:
        return REFRESH_SECONDS if self.request is not None and self.request.get("state") == "open" else None

    def refresh(self) -> None:
        """Has a clerk taken the request? Then the resident is told who is coming (on screen and aloud)."""
        if self.request is None:
            return
        try:
            r = self.s.api.help_request(self.request["id"])
        except (Unreachable, ApiError):
            return                       # keep what the screen says; the next round asks again
        self.request = r
        if r.get("state") == "taken":
            text = self.t("help.coming", job=(r.get("taken_by") or {}).get("job_no", ""))
            self.tell("ok", text)
            self.s.say(text)

    def view(self) -> View:
        v = self.base_view("info", "info", "help.title", prompt=self._text())
        entry = self.s.cache.get("hall")
        lines = []
        if entry:
            hall = entry[0]
            if hall.get("phone"):
                lines.append(self.t("help.phone", phone=hall["phone"]))
            if hall.get("complaint_phone"):
                lines.append(self.t("help.complaint", phone=hall["complaint_phone"]))
        if lines:
            v.sections = [Section(self.t("help.title"), lines)]
        v.actions = ([] if self.called else [Option("call", self.t("help.call"), primary=True)]) + [
            Option("done", self.t("done"), primary=self.called)]
        return v
