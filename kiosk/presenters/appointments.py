"""Booking an appointment (预约办事): item → working day → slot with places left → real name → code.

Only items the hall marks bookable are offered; days are the server's
(Chinese public holidays and make-up workdays respected, each day says why
it cannot be booked); the booking code is printed with its QR so the
resident checks in on the day by scanning it. The rules (how far ahead, one
per person per day, cancellation cut-off, no-show suspension) are the
server's: its refusals are shown as its own sentences.
"""

from __future__ import annotations

from typing import Any

from hallq.client import ApiError, Unreachable
from kiosk import receipts
from kiosk.presenters.base import Flow, ItemFlow, Option, Section, View
from kiosk.presenters.forms import PERSON_FIELDS, FormState, day_label
from kiosk.presenters.identity import identity_today

STEPS = ["item", "day", "slot", "person", "confirm", "result"]


class AppointmentMenu(Flow):
    """预约 / 签到 / 取消预约."""

    name = "appointment"

    def first_step(self) -> str:
        return "menu"

    def on_choose(self, key: str) -> None:
        if key in ("book", "checkin", "cancel_booking"):
            self.go(key)

    def view(self) -> View:
        v = self.base_view("menu", "choose", "appt.title", prompt=self.t("appt.menu"))
        v.options = [Option("checkin", self.t("appt.checkin"), self.t("appt.checkin.detail"), primary=True),
                     Option("book", self.t("appt.book"), self.t("appt.book.detail")),
                     Option("cancel_booking", self.t("appt.cancel"), self.t("appt.cancel.detail"))]
        return v


class BookAppointment(ItemFlow):
    name = "book"

    def reset(self) -> None:
        self.item: dict[str, Any] | None = None
        self.slots: dict[str, Any] | None = None
        self.day: str | None = None
        self.slot: dict[str, Any] | None = None
        self.person = FormState(PERSON_FIELDS)
        self.booking: dict[str, Any] | None = None
        super().reset()

    def _bookable(self) -> list[dict[str, Any]]:
        entry = self.s.cache.get("items")
        return [i for i in (entry[0] if entry else []) if i.get("guide", {}).get("appointment")]

    # -- events -------------------------------------------------------------------------------

    def on_choose(self, key: str) -> None:
        if self.step == "item":
            item = next((i for i in self._bookable() if i["code"] == key), None)
            if item is not None:
                self.item = item
                self._attempt(self._load_slots)
        elif self.step == "day":
            day = next((d for d in (self.slots or {}).get("days", []) if d["date"] == key), None)
            if day and day.get("bookable", True) and any(s.get("available", s["remaining"] > 0) for s in day["slots"]):
                self.day = key
                self.step = "slot"
        elif self.step == "slot":
            slot = next((s for s in self._day_slots() if s["start"] == key), None)
            if slot and slot.get("available", slot["remaining"] > 0):
                self.slot = slot
                self.step = "person"

    def _load_slots(self) -> None:
        self.slots = self.s.api.slots(self.item["code"])
        if self.step in ("item", "day"):
            self.step = "day"

    def _day_slots(self) -> list[dict[str, Any]]:
        day = next((d for d in (self.slots or {}).get("days", []) if d["date"] == self.day), None)
        return day["slots"] if day else []

    def on_card(self, card) -> None:
        if self.step == "person":
            lang, today = self.s.lang, identity_today(self)   # sent whole, shown masked (FormState.from_card)
            self.person.from_card("name", card.name, lang, today)
            self.person.from_card("id_number", card.id_number, lang, today)

    def on_card_error(self, code: str) -> None:
        if self.step == "person":
            self.tell("warn", self.t("identity.card_unreadable"))

    def on_field(self, arg: tuple[str, Any]) -> None:
        key, value = arg
        self.person.set(key, value, self.s.lang, identity_today(self))

    def on_submit(self, values: dict[str, Any] | None = None) -> None:
        if self.step == "person":
            for key, value in (values or {}).items():
                self.person.typed(key, value)
            if self.person.check_all(self.s.lang, identity_today(self)):
                self.step = "confirm"

    def on_action(self, key: str) -> None:
        if key == "demo_card":
            from device_drivers.sim_id_reader import IdReaderSimulator, demo_card

            if isinstance(self.s.devices.reader, IdReaderSimulator):
                self.s.devices.reader.place(demo_card())
        elif key == "next" and self.step == "person":
            self.on_submit(None)
        elif key == "confirm" and self.step == "confirm":
            self._book()
        elif key == "done":
            self.finished = True

    # -- booking ------------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        c = self.person.clean
        return {"item": self.item["code"], "date": self.day, "start": self.slot["start"], "name": c["name"],
                "id_number": c["id_number"], "phone": c["phone"]}

    def _book(self) -> None:
        body = self._body()
        key = self.press.for_body(body)
        self._attempt(lambda: self._book_now(body, key))

    def _book_now(self, body: dict[str, Any], key: str) -> None:
        booking = self.s.api.book(body, key)
        self.press.done()
        self.booking = booking
        self.step = "result"
        self.finished = True
        outcome = self.print_result(lambda: receipts.booking(self.s.devices.profile, self.s.hall_name(), booking,
                                                             self.s.lang))
        if outcome.printed:
            self.tell("ok", self.t("appt.booked"))
        else:
            self.tell("warn", self.t("take.no_printer"))
        self.after_commit("saying the booking", lambda: self.s.say(self.t(
            "appt.say", code=" ".join(booking["code"]), date=day_label(booking["date"], self.s.lang),
            start=booking["start"])), None)

    def on_api_error(self, e: ApiError) -> None:
        message = e.message(self.s.lang)
        if (e.code in ("invalid_id_number", "invalid_phone", "invalid_name", "invalid_fields")
                and self.step in ("confirm", "person")):
            problems = {}
            for f in e.fields:
                key = f.get("field", "").split(".")[-1]
                problems[key] = (e.detail.get("fields", {}).get(f.get("field"), {}) or {}).get(self.s.lang) or message
            if not problems:
                problems[{"invalid_id_number": "id_number", "invalid_phone": "phone"}.get(e.code, "name")] = message
            self.person.server_errors(problems)
            self.step = "person"
        elif e.code == "slot_full":
            self.step = "slot"
            try:
                self.slots = self.s.api.slots(self.item["code"])
            except (Unreachable, ApiError):
                pass
        elif e.code in ("too_soon", "too_far_ahead", "not_a_working_day", "no_such_slot"):
            self.step = "day"
        self.tell("error", message)

    def go_back(self) -> bool:
        order = ["item", "day", "slot", "person", "confirm"]
        if self.step in order and order.index(self.step) > 0:
            self.step = order[order.index(self.step) - 1]
            return True
        return False

    # -- the view ---------------------------------------------------------------------------------

    def view(self) -> View:
        n, total = self.step_of(STEPS)
        kw = {"step_no": n, "step_count": total}
        if self.step == "item":
            v = self.base_view("item", "choose", "appt.title", prompt=self.t("appt.item"), **kw)
            names = {b["code"]: b["name"] for b in (self.s.cache.get("businesses", ([], 0))[0] or [])}
            for it in self._bookable():
                v.options.append(Option(it["code"], self.s.pick(it["name"]),
                                        detail=self.s.pick(names.get(it["business"])) if names else ""))
            return v
        if self.step == "day":
            v = self.base_view("day", "choose", "appt.title", prompt=self.t("appt.day"), **kw)
            for d in (self.slots or {}).get("days", []):
                free = sum(s["remaining"] for s in d["slots"] if s.get("available", True))
                ok = d.get("bookable", True) and free > 0
                detail = self.t("appt.remaining", n=free) if ok else (
                    self.t(f"appt.not_bookable.{d['reason']}") if d.get("reason") else self.t("appt.full"))
                v.options.append(Option(d["date"], day_label(d["date"], self.s.lang), detail=detail,
                                        badge=self.s.pick(d.get("holiday")) if d.get("holiday") else "", enabled=ok))
            v.result = {"item": self.s.pick(self.item["name"])}
            return v
        if self.step == "slot":
            v = self.base_view("slot", "choose", "appt.title", prompt=self.t("appt.slot"), **kw)
            for s in self._day_slots():
                ok = s.get("available", s["remaining"] > 0) and s["remaining"] > 0
                v.options.append(Option(s["start"], f"{s['start']}-{s['end']}",
                                        detail=self.t("appt.remaining", n=s["remaining"]) if ok else self.t("appt.full"),
                                        enabled=ok))
            v.result = {"item": self.s.pick(self.item["name"]), "day": day_label(self.day, self.s.lang)}
            return v
        if self.step == "person":
            return self.person_view("person", "appt.title", "appt.person", self.person, **kw)
        if self.step == "confirm":
            v = self.base_view("confirm", "info", "appt.title", prompt=self.t("appt.confirm"), **kw)
            masked = _masked(self.person.clean)
            v.sections = [Section(self.t("field.item"), [self.s.pick(self.item["name"])]),
                          Section(self.t("field.date"), [f"{day_label(self.day, self.s.lang)} "
                                                         f"{self.slot['start']}-{self.slot['end']}"]),
                          Section(self.t("appt.booker"), [masked])]
            v.actions = [Option("confirm", self.t("confirm"), primary=True)]
            return v
        b = self.booking or {}
        v = self.base_view("result", "result", "appt.title", back=False)
        v.result = {"label": self.t("appt.code"), "number": b.get("code", ""), "title": self.s.pick(b.get("item_name")),
                    "lines": [f"{day_label(b['date'], self.s.lang)} {b['start']}-{b['end']}" if b else "",
                              self.t("appt.checkin_rule"),
                              (self.t("appt.cancel_until", when=receipts.when(b.get("cancel_until")))
                               if b.get("cancel_until") else "")],
                    "qr": b.get("qr", ""), "qr_hint": ""}
        v.actions = [Option("done", self.t("done"), primary=True)]
        return v


def _masked(clean: dict[str, Any]) -> str:
    from hallq.privacy import mask_id_number, mask_name, mask_phone

    return " ".join(x for x in (mask_name(clean.get("name", "")), mask_id_number(clean.get("id_number", "")),
                                mask_phone(clean.get("phone", ""))) if x)
