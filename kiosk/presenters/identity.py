"""The "who are you" step shared by several screens: ID card on the reader, or a typed ID number or phone.

The card is the easy path (one gesture, no typing, the name comes with
it); typing is always possible, and is the default when the kiosk has no
reader or the reader is faulty. A typed value that fails the check stays in
the box with a sentence saying why; an ID number is then drawn masked
(``entry["shown"]``) until the resident types again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from device_drivers.id_reader import IdCard
from hallq.privacy import mask_id_number, mask_name
from kiosk.presenters.base import Done, Flow, Option, View
from kiosk.validation import check_id_number, check_phone


class IdentityInput:
    """State of one identity step; ``accepts`` is a subset of ("id", "phone")."""

    def __init__(self, flow: Flow, accepts: tuple[str, ...] = ("id",)) -> None:
        self.flow = flow
        self.accepts = accepts
        has_reader = flow.s.devices.reader is not None and not flow.s.devices.health.get("id-reader")
        self.mode = "card" if "id" in accepts and has_reader else ("type_id" if "id" in accepts else "type_phone")
        self.typed = {"type_id": "", "type_phone": ""}
        self.error = ""
        self.id_number: str | None = None
        self.phone: str | None = None
        self.name: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.id_number or self.phone)

    @property
    def masked(self) -> str:
        if self.id_number:
            return (mask_name(self.name) + " " if self.name else "") + mask_id_number(self.id_number)
        return self.phone[:3] + "****" + self.phone[-4:] if self.phone else ""

    def body(self) -> dict[str, str]:
        return {"id_number": self.id_number} if self.id_number else ({"phone": self.phone} if self.phone else {})

    def clear_result(self) -> None:
        self.id_number = self.phone = self.name = None

    # -- events --------------------------------------------------------------------------

    def on_card(self, card: IdCard) -> bool:
        """A card was read: True when it gives what is needed."""
        if "id" not in self.accepts:
            return False
        self.id_number, self.name, self.error = card.id_number, card.name, ""
        self.typed["type_id"] = ""      # the card replaces a number typed before it
        return True

    def on_card_error(self, code: str) -> None:
        s = self.flow.s
        if code in ("timeout", "unplugged") or code.startswith("sam_6"):
            self.mode = "type_id"
            self.error = s.t("identity.reader_problem")
        else:
            self.error = s.t("identity.card_unreadable")

    def on_action(self, key: str) -> bool:
        """Switch how to identify; True when the key was one of ours."""
        if key in ("type_id", "type_phone"):
            self.mode, self.error = key, ""
            return True
        if key == "use_card":
            self.mode, self.error = "card", ""
            return True
        if key == "demo_card":
            from device_drivers.sim_id_reader import IdReaderSimulator, demo_card

            reader = self.flow.s.devices.reader
            if isinstance(reader, IdReaderSimulator):
                reader.place(demo_card())
            return True
        return False

    def on_submit(self, value: Any, today: date | None = None) -> bool:
        """A typed value: True when valid (the result is set); otherwise the error is shown, the input kept."""
        lang = self.flow.s.lang
        raw = str(value or "")
        self.typed[self.mode] = raw
        if self.mode == "type_id":
            ok, err = check_id_number(raw, lang, today)
            if ok:
                self.id_number, self.name, self.error = ok, None, ""
                return True
        else:
            ok, err = check_phone(raw, lang)
            if ok:
                self.phone, self.error = ok, ""
                return True
        self.error = err
        return False

    def server_error(self, field: str, message: str) -> None:
        """The server refused the number: back to typing it, with the server's sentence, what was typed kept. A
        number read from the card is not put in the box: the box shows what it holds in full, and only what the
        resident types may be shown so (docs/privacy.md); they type their number afresh."""
        self.mode = "type_phone" if field == "phone" else "type_id"
        self.error = message
        self.clear_result()

    # -- the view ---------------------------------------------------------------------------

    def view(self, flow: Flow, step: str, title_key: str, why: str, **kw: Any) -> View:
        s = flow.s
        has_reader = s.devices.reader is not None
        if self.mode == "card":
            v = flow.base_view(step, "identity", title_key, prompt=s.t("identity.prompt"), listens=("card",), **kw)
            v.result = {"why": why}
            v.actions = [Option("type_id", s.t("identity.type_id"))]
            if "phone" in self.accepts:
                v.actions.append(Option("type_phone", s.t("identity.type_phone")))
            if s.devices.simulated.get("id_reader"):
                v.demo = [Option("demo_card", s.t("demo_card"))]
        else:
            keypad = "id" if self.mode == "type_id" else "digits"
            prompt = s.t("entry.id") if self.mode == "type_id" else s.t("entry.phone")
            v = flow.base_view(step, "entry", title_key, prompt=prompt, **kw)
            v.entry = {"key": self.mode, "value": self.typed[self.mode], "keypad": keypad, "error": self.error,
                       "max_len": 18 if self.mode == "type_id" else 13, "why": why, "shown": self._shown()}
            v.actions = []
            if has_reader and "id" in self.accepts:
                v.actions.append(Option("use_card", s.t("identity.use_card")))
            other = "type_phone" if self.mode == "type_id" else "type_id"
            if (other == "type_phone" and "phone" in self.accepts) or (other == "type_id" and "id" in self.accepts):
                v.actions.append(Option(other, s.t(f"identity.{other}")))
        if self.error and self.mode == "card":
            flow.tell("error", self.error)
            v.notice = flow.notice
        return v


    def _shown(self) -> str:
        """What the box shows instead of the value, "" for the value itself: an ID number refused (a wrong check
        digit, or the server's refusal) is drawn masked, 520201 ******** 0426, not whole on a screen that stays
        up (and may be a screenshot: docs/kiosk.md); the keypad keeps it whole for ⌫, and what is typed from
        there is shown as it is typed."""
        typed = self.typed["type_id"]
        # ... and one confirmed while the server cannot be reached: the retry holds the screen (and its idle timer)
        # for as long as the outage lasts, perhaps with nobody in front of it
        hidden = self.error or self.flow.retrying
        return mask_id_number(typed) if self.mode == "type_id" and hidden and len(typed) >= 10 else ""


def identity_today(flow: Flow) -> date | None:
    """Today in the hall (for birth-date plausibility), from the server's clock when known."""
    hall = flow.s.cache.get("hall")
    now = hall[0].get("clock", {}).get("now") if hall else None
    try:
        return date.fromisoformat(now[:10]) if now else None
    except ValueError:
        return None


__all__ = ["IdentityInput", "identity_today", "Done"]
