"""Checking in on the day (预约签到) for a priority number, and cancelling a booking (取消预约).

Check-in takes whatever the resident has: the booking slip's QR (scanner),
the ID card (reader), or the 8-character code typed. The number it gives is
of class "appointment", called before ordinary numbers; it is printed,
shown and spoken like any ticket.
"""

from __future__ import annotations

from typing import Any

from hallq.client import ApiError
from kiosk.presenters.base import Flow, Option, View
from kiosk.presenters.identity import IdentityInput, identity_today
from kiosk.presenters.take_number import TicketByCode
from kiosk.scans import normalise_code, parse_scan


class CheckIn(TicketByCode):
    name = "checkin"
    title_key = "appt.checkin"
    entry_step = "code"

    def first_step(self) -> str:
        return "method"

    def on_card(self, card) -> None:
        if self.step in ("method", "code"):
            self._check_in({"id_number": card.id_number})

    def on_card_error(self, code: str) -> None:
        self.tell("warn", self.t("identity.card_unreadable"))

    def on_scan(self, text: str) -> None:
        scan = parse_scan(text)
        if scan is None or scan.kind != "appointment":
            self.tell("error", self.t("scan.unknown"))
            return
        self._check_in({"code": scan.value})

    def on_action(self, key: str) -> None:
        if key == "type_code":
            self.step = "code"
        elif key == "demo_card":
            IdentityInput(self).on_action("demo_card")
        elif key == "done":
            self.finished = True

    def on_submit(self, value: Any) -> None:
        self.typed = str(value or "")
        code = normalise_code(self.typed)
        if code is None:
            self.error = self.t("invalid.code")
            return
        self.error = ""
        self._check_in({"code": code})

    def _check_in(self, body: dict[str, Any]) -> None:
        key = self.press.for_body(body)
        self._attempt(lambda: self._check_in_now(body, key))

    def _check_in_now(self, body: dict[str, Any], key: str) -> None:
        self.got_ticket(self.s.api.check_in(body, key))

    def on_api_error(self, e: ApiError) -> None:
        if self.step == "code" and e.code in ("unknown_appointment", "invalid_fields"):
            self.error = e.message(self.s.lang)
            return
        self.tell("error", e.message(self.s.lang))

    def view(self) -> View:
        if self.step == "method":
            listens = self.can("card", "scan")
            v = self.base_view("method", "identity", "appt.checkin",
                               prompt=self.prompt_for("appt.checkin_prompt", listens), listens=listens)
            v.actions = [Option("type_code", self.t("appt.type_code"), primary=True)]
            if self.s.devices.simulated.get("id_reader"):
                v.demo = [Option("demo_card", self.t("demo_card"))]
            return v
        if self.step == "code":
            return self.entry_view("entry.code", "code", 8)
        return self.ticket_view()


class CancelBooking(Flow):
    name = "cancel_booking"

    def reset(self) -> None:
        self.code: str | None = None
        self.typed = ""
        self.error = ""
        self.identity: IdentityInput | None = None
        self.result: dict[str, Any] | None = None
        super().reset()

    def first_step(self) -> str:
        return "code"

    def on_scan(self, text: str) -> None:
        scan = parse_scan(text)
        if self.step == "code" and scan is not None and scan.kind == "appointment":
            self._got_code(scan.value)
        elif self.step == "code":
            self.tell("error", self.t("scan.unknown"))

    def on_submit(self, value: Any) -> None:
        if self.step == "code":
            self.typed = str(value or "")
            code = normalise_code(self.typed)
            if code is None:
                self.error = self.t("invalid.code")
                return
            self._got_code(code)
        elif self.step == "identity" and self.identity.on_submit(value, identity_today(self)):
            self._cancel()

    def _got_code(self, code: str) -> None:
        self.code, self.error = code, ""
        self.identity = IdentityInput(self, ("id",))
        self.step = "identity"

    def on_card(self, card) -> None:
        if self.step == "identity" and self.identity.on_card(card):
            self._cancel()

    def on_card_error(self, code: str) -> None:
        if self.identity is not None:
            self.identity.on_card_error(code)

    def on_action(self, key: str) -> None:
        if key == "done":
            self.finished = True
        elif self.identity is not None:
            self.identity.on_action(key)

    def _cancel(self) -> None:
        code, id_number = self.code, self.identity.id_number
        key = self.press.for_body({"code": code, "id": id_number})
        self._attempt(lambda: self._cancel_now(code, id_number, key))

    def _cancel_now(self, code: str, id_number: str, key: str) -> None:
        self.result = self.s.api.cancel_appointment(code, id_number, key)
        self.press.done()
        self.step = "result"
        self.finished = True
        self.tell("ok", self.t("appt.cancelled"))
        self.s.say(self.t("appt.cancelled"))

    def on_api_error(self, e: ApiError) -> None:
        if e.code == "unknown_appointment":
            self.step, self.error = "code", e.message(self.s.lang)
            return
        if self.identity is not None:
            self.identity.clear_result()
        self.tell("error", e.message(self.s.lang))

    def go_back(self) -> bool:
        if self.step == "identity":
            self.step, self.identity = "code", None
            return True
        return False

    def view(self) -> View:
        if self.step == "code":
            v = self.base_view("code", "entry", "appt.cancel",
                               prompt=self.t("appt.cancel_prompt") if self.can("scan") else self.t("entry.code"),
                               listens=self.can("scan"))
            v.entry = {"key": "code", "value": self.typed, "keypad": "code", "error": self.error, "max_len": 8}
            return v
        if self.step == "identity":
            return self.identity.view(self, "identity", "appt.cancel", self.t("appt.cancel_id"))
        v = self.base_view("result", "result", "appt.cancel", back=False)
        v.result = {"label": self.t("appt.code"), "number": self.code or "", "title": self.t("appt.cancelled"),
                    "lines": [], "qr": ""}
        v.actions = [Option("done", self.t("done"), primary=True)]
        return v
