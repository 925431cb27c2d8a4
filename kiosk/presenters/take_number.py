"""Taking a number (取号): business → service item → (ID card, typed ID or phone) → the ticket.

The ticket always reaches the resident three ways: printed, on the screen
(number, people ahead, wait, where to wait, and the QR code of the ticket's
phone page), and spoken. A printer problem changes only the first: the
screen says what happened, asks to remember the number or photograph the
QR, and staff are told over MQTT (kiosk.devices).

The final press issues the number with one Idempotency-Key, kept through
automatic retries while the server is unreachable: one press, one number.
Once the number exists nothing may lose it: whatever fails while the ticket
is built, printed or said (:meth:`Flow.after_commit`) is a print problem,
and the result screen with the number is shown and spoken all the same.
"""

from __future__ import annotations

import logging
from typing import Any

from hallq.client import ApiError
from kiosk import receipts
from kiosk.presenters.base import Done, Flow, Option, View
from kiosk.presenters.identity import IdentityInput, identity_today
from kiosk.texts import promise_words, wait_words

log = logging.getLogger("hallq.kiosk")

NO_ITEM = "__none__"
STEPS = ["business", "item", "identity", "result"]


class TakeNumber(Flow):
    name = "take_number"

    def reset(self) -> None:
        self.business: dict[str, Any] | None = None
        self.item: str | None = None
        self.identity: IdentityInput | None = None
        self.green: str | None = None
        self.ticket: dict[str, Any] | None = None
        self.print_problem: str | None = None
        self.print_warning: str | None = None
        self.where = ""
        self.nearby = ""
        self.stale = False
        self._preset: tuple[str | None, str | None] = (None, None)
        super().reset()

    def first_step(self) -> str:
        return "business"

    def start(self, business: str | None = None, item: str | None = None, **_: Any) -> None:
        """From home, or from a guide with the business and item already chosen."""
        self.reset()
        self._preset = (business, item)
        self._attempt(self._load)      # unreachable: said on screen, retried with the preselection kept

    def _load(self) -> None:
        self.s.hall()
        _, self.stale = self.s.businesses()
        business, item = self._preset
        businesses = self._businesses()
        if business is None and len(businesses) == 1:
            business = businesses[0]["code"]
        if business is not None:
            self._choose_business(business, item)

    def _businesses(self) -> list[dict[str, Any]]:
        entry = self.s.cache.get("businesses")
        return entry[0] if entry else []

    # -- events ---------------------------------------------------------------------------------

    def on_choose(self, key: str) -> None:
        if self.step == "business":
            self._choose_business(key)
        elif self.step == "item":
            self.item = None if key == NO_ITEM else key
            self._after_item()

    def _choose_business(self, code: str, item: str | None = None) -> None:
        b = next((b for b in self._businesses() if b["code"] == code), None)
        if b is None:
            self.fail(self.t("scan.unknown"))
        if not (b.get("queue") or {}).get("issuing", True):
            self.step = "business"
            self.fail(self.t("home.not_issuing"))
        self.business = b
        if item is not None or not b.get("items"):
            self.item = item
            self._after_item()
        else:
            self.step = "item"

    def _after_item(self) -> None:
        requires = self.business.get("ticket_requires", "none")
        if requires == "none":
            self.identity = None
            self._issue()
            return
        accepts = {"id": ("id",), "phone": ("phone",), "id_or_phone": ("id", "phone")}.get(requires, ("id",))
        self.identity = IdentityInput(self, accepts)
        self.step = "identity"

    def on_action(self, key: str) -> None:
        if key in ("green_disabled", "green_pregnant"):
            reason = key.split("_", 1)[1]
            self.green = None if self.green == reason else reason
        elif key == "done":
            self.finished = True
        elif self.step == "identity" and self.identity is not None:
            self.identity.on_action(key)

    def on_card(self, card) -> None:
        if self.step == "identity" and self.identity is not None and self.identity.on_card(card):
            self._issue()

    def on_card_error(self, code: str) -> None:
        if self.step == "identity" and self.identity is not None:
            self.identity.on_card_error(code)

    def on_submit(self, value: Any) -> None:
        if self.step == "identity" and self.identity is not None:
            if self.identity.on_submit(value, identity_today(self)):
                self._issue()

    # -- issuing ---------------------------------------------------------------------------------

    def _issue(self) -> None:
        body: dict[str, Any] = {"business": self.business["code"]}
        if self.item:
            body["item"] = self.item
        if self.identity is not None:
            body.update(self.identity.body())
        if self.green:
            body["green_reason"] = self.green
        self._attempt(lambda: self._issue_now(body))

    def _issue_now(self, body: dict[str, Any]) -> None:
        ticket = self.s.api.issue_ticket(body, self.press.for_body(body))
        if ticket.get("replayed") and self._gone_by(ticket):
            # the server's first answer to a press left unanswered (返回, 首页: kiosk.api.PressKey.leave), but that
            # number has been called, missed or given up since: whoever asks now gets a number of their own, not a
            # slip for one gone by (the key is dropped, so a retry of this one keeps the new key)
            log.info("a held press's number %s is %s: a new one is taken", ticket.get("ticket"), ticket.get("state"))
            self.press.done()
            ticket = self.s.api.issue_ticket(body, self.press.for_body(body))
        self.press.done()
        self.ticket = ticket
        self.step = "result"
        self.finished = True
        self.where = where_to_wait(self, ticket)
        self.nearby = self.after_commit("the nearby halls", lambda: nearby_line(self, ticket), "")
        self._print_and_say()

    def _gone_by(self, ticket: dict[str, Any]) -> bool:
        """A replayed answer says how the ticket stood when it was issued: is it still waiting now?"""
        try:
            now = self.s.api.ticket(ticket["id"], retry=False)  # one try: the resident is waiting for the slip
        except ApiError:  # Unreachable included
            return False  # cannot tell (a flaky link, a 404 after a restore): the server's answer stands
        return now.get("state") != "waiting"

    def _print_and_say(self) -> None:
        self.print_problem, self.print_warning = deliver_ticket(self, self.ticket, self.where)

    def on_api_error(self, e: ApiError) -> None:
        message = e.message(self.s.lang)
        if self.identity is not None and e.code in ("invalid_id_number", "invalid_phone", "identity_required"):
            self.step = "identity"
            self.identity.server_error("phone" if e.code == "invalid_phone" else "id", message)
            return
        if e.code in ("already_has_ticket",) and self.identity is not None:
            self.identity.clear_result()
        self.tell("error", message)

    def go_back(self) -> bool:
        if self.step == "identity":
            self.identity = None
            if self.business.get("items"):
                self.step = "item"
                return True
            self.step, self.business = "business", None
            return len(self._businesses()) > 1
        if self.step == "item":
            self.step = "business"
            self.business = None
            return len(self._businesses()) > 1
        return False

    # -- the view ---------------------------------------------------------------------------------

    def view(self) -> View:
        n, total = self.step_of(STEPS)
        if self.step == "business":
            v = self.base_view("business", "choose", "take.title", prompt=self.t("take.business"),
                               step_no=1, step_count=total, back=False)
            for b in self._businesses():
                q = b.get("queue") or {}
                detail = self.t("take.waiting", n=q.get("waiting", 0)) + " · " + (
                    wait_words(self.t, "take.wait_minutes", "take.wait_range", q) or self.t("take.no_estimate"))
                issuing = q.get("issuing", True)
                v.options.append(Option(b["code"], self.s.pick(b["name"]), detail=detail,
                                        badge=b.get("prefix", "") if issuing else self.t("take.stopped"),
                                        enabled=issuing))
            v.actions = self._green_actions()
            if self.stale and v.notice is None:
                self.tell("warn", self.t("offline_cached"))
                v.notice = self.notice
            return v
        if self.step == "item":
            v = self.base_view("item", "choose", "take.title", prompt=self.t("take.item"), step_no=2,
                               step_count=total)
            v.result = {"business": self.s.pick(self.business["name"])}
            for it in self.business.get("items", []):
                v.options.append(Option(it["code"], self.s.pick(it["name"])))
            v.options.append(Option(NO_ITEM, self.t("take.item_unsure"), pinned=True))
            v.actions = self._green_actions() if len(self._businesses()) == 1 else []
            return v
        if self.step == "identity":
            requires = self.business.get("ticket_requires")
            why = self.t("identity.why.id" if requires == "id" else "identity.why.phone")
            return self.identity.view(self, "identity", "identity.title", why, step_no=3, step_count=total)
        return self._result_view()

    def _green_actions(self) -> list[Option]:
        return [Option("green_disabled", self.t("take.green.disabled"), selected=self.green == "disabled",
                       detail=self.t("take.green_note")),
                Option("green_pregnant", self.t("take.green.pregnant"), selected=self.green == "pregnant")]

    def _result_view(self) -> View:
        v = ticket_view(self, "take.title", self.ticket or {}, self.where, self.print_problem)
        if self.nearby:
            v.result["lines"].append(self.nearby)
        return v


def nearby_line(flow: Flow, t: dict[str, Any], most: int = 2) -> str:
    """就近办: one line naming the nearest open halls of the county for the ticket's business when the wait here
    reaches the hall's threshold (GET /nearby, from the hall's cache); "" otherwise or when it cannot say."""
    try:
        found = flow.s.api.nearby(t.get("business", ""))
    except ApiError:  # an older server, or unreachable just now: the ticket is what matters
        return ""
    threshold, est = found.get("show_after_minutes") or 0, t.get("est_wait_minutes")
    if not found.get("available") or (threshold and (est is None or est < threshold)):
        return ""
    halls = [flow.t("take.nearby_hall", name=flow.s.pick(h.get("name")), km=h.get("distance_km"),
                    n=h.get("waiting", 0))
             for h in found.get("halls", []) if h.get("open_now") and h.get("distance_km") is not None][:most]
    return flow.t("take.nearby", halls=" · ".join(halls)) if halls else ""


def where_to_wait(flow: Flow, t: dict[str, Any]) -> str:
    """Where the ticket's holder waits; the general sentence when that cannot be said (the number comes first)."""
    return flow.after_commit("where to wait", lambda: flow.s.where_to_wait(t.get("business", "")),
                             flow.t("take.where_default"))


def deliver_ticket(flow: Flow, t: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    """Print the ticket, say it, and set the flow's notice; returns (print problem, print warning).

    Whatever the printer does, the number is on the screen and spoken: a ticket that cannot even be built is a
    print problem like paper out (kiosk.devices.print_document).
    """
    s = flow.s
    number = t.get("ticket", "")
    outcome = flow.print_result(lambda: receipts.ticket(s.devices.profile, s.hall_name(), t, s.lang, where,
                                                        s.missed_minutes()))
    if outcome.printed:
        flow.tell("ok", flow.t("take.printed"))
    elif outcome.problem == "none":
        flow.tell("info", flow.t("take.no_printer"))
    else:
        problem = flow.printer_problem(outcome.problem)
        flow.tell("warn", flow.t("take.print_failed", problem=problem, ticket=number))

    def speech() -> str:
        est = wait_words(flow.t, "take.say_est", "take.say_est_range", t) or ""
        said = flow.t("take.say", ticket=number, ahead=t.get("people_ahead") or 0, est=est, where=where)
        if not outcome.printed and outcome.problem != "none":
            said = flow.t("take.say_print_failed", ticket=number) + said
        return said
    if not flow.after_commit("saying the ticket", lambda: s.say(speech()) or True, False):
        # the number said however the rest of the sentence fared
        flow.after_commit("saying the number", lambda: s.say(f"{flow.t('take.your_number')} {number}"), None)
    return outcome.problem, outcome.warning


class TicketByCode(Flow):
    """A flow that gives a ticket for what the resident scans or types (a booking's code: 签到; a missed number:
    过号重排): the typed text and its error, then the ticket, printed, shown and spoken like any other."""

    title_key = ""        # the screen's title
    entry_step = ""       # the step where the code is typed; 返回 from it leads to the first step

    def reset(self) -> None:
        self.typed = ""
        self.error = ""
        self.ticket: dict[str, Any] | None = None
        self.where = ""
        self.print_problem: str | None = None
        super().reset()

    def start(self, **_: Any) -> None:
        self.reset()
        self._attempt(lambda: self.s.hall())

    def got_ticket(self, ticket: dict[str, Any]) -> None:
        """The server gave the number: show, print and say it."""
        self.press.done()
        self.ticket = ticket
        self.step = "result"
        self.finished = True
        self.where = where_to_wait(self, ticket)
        self.print_problem, _ = deliver_ticket(self, ticket, self.where)

    def go_back(self) -> bool:
        if self.step == self.entry_step:
            self.step = self.first_step()
            return True
        return False

    def entry_view(self, prompt_key: str, keypad: str, max_len: int) -> View:
        v = self.base_view(self.entry_step, "entry", self.title_key, prompt=self.t(prompt_key),
                           listens=self.can("scan"))
        v.entry = {"key": keypad, "value": self.typed, "keypad": keypad, "error": self.error, "max_len": max_len}
        return v

    def ticket_view(self) -> View:
        return ticket_view(self, self.title_key, self.ticket or {}, self.where, self.print_problem)


def ticket_view(flow: Flow, title_key: str, t: dict[str, Any], where: str, print_problem: str | None) -> View:
    """The ticket on screen: the number large, people ahead, wait, where, and its QR code."""
    v = flow.base_view("result", "result", title_key, back=False)
    lines = [flow.t("take.ahead", n=t.get("people_ahead") or 0),
             wait_words(flow.t, "take.est", "take.est_range", t) or flow.t("take.est_unknown"),
             where]
    promise = promise_words(flow.t, t)
    if promise:
        lines.insert(0, promise)
    v.result = {"label": flow.t("take.your_number"), "number": t.get("ticket", ""),
                "title": flow.s.pick(t.get("business_name")), "lines": lines, "qr": receipts.qr_text(t.get("track_url", "")),
                "qr_hint": flow.t("take.qr_hint"), "printed": print_problem is None}
    v.actions = [Option("done", flow.t("done"), primary=True)]
    return v


__all__ = ["TakeNumber", "TicketByCode", "NO_ITEM", "Done", "deliver_ticket", "ticket_view", "where_to_wait"]
