"""After the call: re-queue a missed number (过号重排) and rate a finished service (好差评).

A missed number is not void (domain.md): within the grace period the
resident scans the ticket's QR, or types its number, and joins the queue
again. Ratings (GB/T 39734) come from the resident, five levels in words,
reasons asked only for the two bad ones; the ticket's QR identifies the case.
"""

from __future__ import annotations

from typing import Any

from hallq.client import ApiError
from hallq.privacy import normalise_phone
from kiosk.presenters.base import Flow, Option, View
from kiosk.presenters.take_number import TicketByCode
from kiosk.scans import normalise_ticket_label, parse_scan

REASONS = ("slow", "attitude", "unclear_guide", "many_visits", "environment")


class Requeue(TicketByCode):
    name = "requeue"
    title_key = "requeue.title"
    entry_step = "entry"

    def first_step(self) -> str:
        return "lookup"

    def on_scan(self, text: str) -> None:
        scan = parse_scan(text)
        if scan is None or scan.kind != "ticket":
            self.tell("error", self.t("scan.unknown"))
            return
        self._requeue({"id": scan.value})

    def on_action(self, key: str) -> None:
        if key == "type_ticket":
            self.step = "entry"
        elif key == "done":
            self.finished = True

    def on_submit(self, value: Any) -> None:
        self.typed = str(value or "")
        label = normalise_ticket_label(self.typed)
        if label is None:
            self.error = self.t("invalid.ticket")
            return
        self.error = ""
        self._requeue({"ticket": label})

    def _requeue(self, body: dict[str, Any]) -> None:
        key = self.press.for_body(body)

        self._attempt(lambda: self.got_ticket(self.s.api.requeue(body, key)))

    def on_api_error(self, e: ApiError) -> None:
        if self.step == "entry":
            self.error = e.message(self.s.lang)
            return
        self.tell("error", e.message(self.s.lang))

    def view(self) -> View:
        if self.step == "lookup":
            listens = self.can("scan")
            v = self.base_view("lookup", "identity", "requeue.title",
                               prompt=self.t("requeue.prompt") if listens else self.t("requeue.prompt_code"),
                               listens=listens)
            v.actions = [Option("type_ticket", self.t("requeue.type"), primary=True)]
            return v
        if self.step == "entry":
            return self.entry_view("entry.ticket", "ticket", 6)
        return self.ticket_view()


class Rate(Flow):
    name = "rate"

    def reset(self) -> None:
        self.ticket: dict[str, Any] | None = None
        self.level: int | None = None
        self.reasons: set[str] = set()
        self.contact = ""  # a phone for the call-back (回访): bad reviews only, optional, sent only with consent
        self.error = ""
        super().reset()

    def first_step(self) -> str:
        return "scan"

    def on_scan(self, text: str) -> None:
        scan = parse_scan(text)
        if scan is None or scan.kind != "ticket":
            self.tell("error", self.t("scan.unknown"))
            return

        def run() -> None:
            self.ticket = self.s.api.ticket(scan.value)
            self.step = "level"
            self.s.say(self.t("rate.level"))
        self._attempt(run)

    def on_choose(self, key: str) -> None:
        if self.step == "consent":
            self._submit(with_contact=key == "agree")
        elif self.step == "level" and key in "12345":
            self.level = int(key)
            if self.level <= 2:
                self.step = "reasons"
            else:
                self._submit()
        elif self.step == "reasons":
            self.on_toggle(key)

    def on_toggle(self, key: str) -> None:
        if key in REASONS:
            self.reasons.symmetric_difference_update({key})

    def on_action(self, key: str) -> None:
        if key == "submit" and self.step == "reasons":
            self.step, self.error = "contact", ""
            self.s.say(self.t("rate.contact"))
        elif key == "skip" and self.step == "contact":
            self._submit()
        elif key == "done":
            self.finished = True

    def on_submit(self, value: Any) -> None:
        if self.step != "contact":
            return
        self.contact = str(value or "").strip()
        if not self.contact:
            self._submit()
            return
        try:
            normalise_phone(self.contact)
        except ValueError:
            self.error = self.t("invalid.phone")
            return
        self.step, self.error = "consent", ""
        self.s.say(self.t("rate.consent_prompt"))

    def _consent_text(self) -> str:
        """The consent's words, with how long the hall keeps the number (GET /hall's rules)."""
        entry = self.s.cache.get("hall")
        days = ((entry[0].get("rules") or {}) if entry else {}).get("followup_contact_days", 30)
        return self.t("rate.consent", days=days)

    def _submit(self, with_contact: bool = False) -> None:
        body: dict[str, Any] = {"ticket": self.ticket["id"], "level": self.level}
        if self.reasons:
            body["reasons"] = sorted(self.reasons)
        if with_contact and self.contact:
            body["contact"], body["contact_consent"] = self.contact, True
        key = self.press.for_body(body)

        def run() -> None:
            self.s.api.rate(body, key)
            self.press.done()
            self.step = "thanks"
            self.finished = True
            self.tell("ok", self.t("rate.thanks"))
            self.s.say(self.t("rate.thanks"))
        self._attempt(run)

    def go_back(self) -> bool:
        if self.step == "consent":
            self.step = "contact"
            return True
        if self.step == "contact":
            self.step = "reasons"
            return True
        if self.step == "reasons":
            self.step = "level"
            return True
        if self.step == "level":
            self.step, self.ticket = "scan", None
            return True
        return False

    def view(self) -> View:
        if self.step == "scan":
            has_scanner = self.s.devices.scanner is not None
            v = self.base_view("scan", "identity", "rate.title",
                               prompt=self.t("rate.prompt") if has_scanner else self.t("rate.no_scanner"),
                               listens=("scan",) if has_scanner else ())
            return v
        label = self.t("rate.ticket", ticket=self.ticket["ticket"]) if self.ticket else ""
        if self.step == "level":
            v = self.base_view("level", "choose", "rate.title", prompt=self.t("rate.level"))
            v.options = [Option(str(n), self.t(f"rate.{n}"), badge="★" * n) for n in (5, 4, 3, 2, 1)]
            v.result = {"ticket": label}
            return v
        if self.step == "reasons":
            v = self.base_view("reasons", "checklist", "rate.title", prompt=self.t("rate.reasons"), multi=True)
            v.options = [Option(r, self.t(f"rate.reason.{r}"), selected=r in self.reasons) for r in REASONS]
            v.actions = [Option("submit", self.t("rate.submit"), primary=True)]
            return v
        if self.step == "contact":
            v = self.base_view("contact", "entry", "rate.title", prompt=self.t("rate.contact"))
            v.entry = {"key": "contact", "value": self.contact, "keypad": "digits", "error": self.error, "max_len": 11}
            v.actions = [Option("skip", self.t("rate.skip"))]
            return v
        if self.step == "consent":
            v = self.base_view("consent", "choose", "rate.title", prompt=self._consent_text())
            v.options = [Option("agree", self.t("rate.agree"), primary=True), Option("decline", self.t("rate.decline"))]
            return v
        v = self.base_view("thanks", "result", "rate.title", back=False)
        v.result = {"label": label, "number": "", "title": self.t("rate.thanks"),
                    "lines": [self.t(f"rate.{self.level}")] if self.level else [], "qr": ""}
        v.actions = [Option("done", self.t("done"), primary=True)]
        return v
