"""The queue as one object: every public method is one transaction.

:class:`QueueService` is what the HTTP API, the CLI and the tests call. Each
method opens one ``BEGIN IMMEDIATE`` transaction, rolls the business day
over if needed, runs the domain rule, writes the journal, commits, and
returns a plain dict (the "view") ready to be sent as JSON. It knows nothing
of Flask.

It is the one door for writes: the API's routes and the console pages never
open a transaction themselves. What is not the queue itself has a desk of its
own, reached from here and built the same way (``service.accounts``,
``.notices``, ``.settings``, ``.tidal``, ``.attention``, ``.followups``,
``.appointments``, ``.applications``). Their reads are in
:mod:`queue_server.readmodel`.

Idempotency: a method given ``request=(client, key)`` stores its response
under that key in the same transaction; a retry with the same key (a kiosk
whose first request timed out) gets the same response and changes nothing,
so a resident never gets two numbers for one press.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from hallq.clock import VirtualClock, iso
from queue_server.db import Database
from queue_server.domain import day as day_rules
from queue_server.domain import contacts, rating_prompts, statistics
from queue_server.domain import ratings as rating_rules
from queue_server.domain import tickets as ticket_rules
from queue_server.domain import windows as window_rules
from queue_server.domain.accounts import AccountDesk
from queue_server.domain.attention import AttentionDesk
from queue_server.domain.context import CLASS_NAMES, Actor, Hall, Tx
from queue_server.domain.errors import DomainError
from queue_server.domain.estimates import EstimateCache, ahead_of_new
from queue_server.domain.followups import FollowUpDesk
from queue_server.domain.hall_settings import SettingsDesk
from queue_server.domain.notices import NoticeDesk
from queue_server.domain.tidal import TidalDesk

if TYPE_CHECKING:  # imported where used: they import this module
    from queue_server.domain.applications import ApplicationDesk
    from queue_server.domain.appointments import AppointmentDesk
    from queue_server.domain.packages import PackageDesk
    from queue_server.domain.guides import GuideDesk
    from queue_server.domain.routing import RoutingDesk

RequestKey = tuple[str, str]
T = TypeVar("T")


class _Desk:
    """``service.<name>``: a desk of the service (its own area, built like the service: one transaction per change)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __get__(self, service: "QueueService | None", owner: type) -> Any:
        return self if service is None else self.cls(service)


class Answer(dict):
    """An answer remembered for a request key, with the JSON text stored for it: compact and not ASCII-escaped,
    the very bytes the API writes for it (``app.json.dumps(answer, separators=(',', ':'))``: the app's JSON is
    ``ensure_ascii=False``, ``sort_keys=False``), so the hot path sends that text instead of encoding the same
    dict again (queue_server/hotpath.py). Whoever changes the dict must not send ``text``."""

    __slots__ = ("text",)

    def __init__(self, answer: dict[str, Any], text: str) -> None:
        super().__init__(answer)
        self.text = text


class QueueService:
    def __init__(self, db: Database, hall: Hall) -> None:
        self.db = db
        self.hall = hall
        self._day_seen: str | None = None
        self._day_lock = threading.Lock()
        self._businesses: dict[str, dict[str, Any]] | None = None
        self.estimates = EstimateCache()
        self._now_lock = threading.Lock()
        self._last_now: datetime | None = None

    # -- transactions --------------------------------------------------------------

    def _now(self) -> datetime:
        """The transaction's moment. On the real clock it never goes backwards in a process:
        if the machine's clock steps back (an NTP correction), a ticket issued after the
        step must not arrive "before" earlier ones. A virtual clock is moved on purpose."""
        now = self.hall.now()
        if self.hall.clock.virtual:
            return now
        with self._now_lock:
            if self._last_now is not None and now < self._last_now:
                return self._last_now
            self._last_now = now
        return now

    @contextmanager
    def transaction(self, actor: Actor) -> Iterator[Tx]:
        with self.db.write() as conn:
            tx = Tx(conn, self.hall, actor, self._now())
            if self._day_seen != tx.day:
                day_rules.roll_over_if_new_day(tx)
            yield tx
        self._day_seen = tx.day
        self.estimates.after(tx.actions)

    def _run(self, actor: Actor, request: RequestKey | None, fn: Callable[[Tx], T],
             door: Callable[[Tx], None] | None = None) -> T:
        """``fn`` in one transaction; with a request key, its answer or refusal is remembered for a retry.

        ``door``: a check of the API's door left to the transaction (run first, before a retry is answered);
        its refusal is the door's, never remembered for the key."""
        if request is None:
            with self.transaction(actor) as tx:
                if door is not None:
                    door(tx)
                return fn(tx)
        client, key = request
        try:
            with self.transaction(actor) as tx:
                if door is not None:
                    try:
                        door(tx)
                    except DomainError as e:
                        raise _Replayed(e) from None
                row = tx.one("SELECT status, response FROM requests WHERE client = ? AND key = ?", (client, key))
                if row is not None:
                    stored = json.loads(row["response"])
                    if row["status"] >= 400:
                        raise _Replayed(_replayed_error(row["status"], stored))
                    return cast(T, {**stored, "replayed": True})  # what takes a request key answers a dict
                result = fn(tx)
                text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
                tx.conn.execute("INSERT INTO requests (client, key, status, response, created_at) VALUES (?,?,?,?,?)",
                                (client, key, 200, text, tx.at))
                return cast(T, Answer(cast(dict[str, Any], result), text))
        except _Replayed as r:
            raise r.error from None
        except DomainError as e:
            # The refusal rolled the action back; remember it, so that a retry of the same
            # request is refused the same way instead of succeeding later.
            with self.db.write() as conn:
                conn.execute("INSERT OR IGNORE INTO requests (client, key, status, response, created_at) "
                             "VALUES (?,?,?,?,?)", (client, key, e.status, json.dumps(
                                 {"code": e.code, "messages": e.messages, "detail": e.detail}, ensure_ascii=False),
                                 iso(self.hall.now())))
            raise

    # -- reads shared by views -------------------------------------------------------

    def businesses(self) -> dict[str, dict[str, Any]]:
        """Active and inactive businesses by code, names decoded (cached until config changes)."""
        if self._businesses is None:
            conn = self.db.connection()
            self._businesses = {r["code"]: {**dict(r), "name": json.loads(r["name"])}
                                for r in conn.execute("SELECT * FROM businesses ORDER BY position")}
        return self._businesses

    def invalidate_caches(self) -> None:
        self._businesses = None

    # -- appointments and applications live in their own modules (one transaction per call) --

    @property
    def appointments(self) -> AppointmentDesk:
        """Appointments (预约办事): :class:`queue_server.domain.appointments.AppointmentDesk`."""
        from queue_server.domain.appointments import AppointmentDesk

        return AppointmentDesk(self)

    @property
    def applications(self) -> ApplicationDesk:
        """Applications (前台综合受理): :class:`queue_server.domain.applications.ApplicationDesk`."""
        from queue_server.domain.applications import ApplicationDesk

        return ApplicationDesk(self)

    @property
    def guides(self) -> GuideDesk:
        """Guides edited in the browser, the catalogue as TOML: :class:`queue_server.domain.guides.GuideDesk`."""
        from queue_server.domain.guides import GuideDesk

        return GuideDesk(self)

    @property
    def packages(self) -> PackageDesk:
        """一件事 packages (one form, one window, one number): :class:`queue_server.domain.packages.PackageDesk`."""
        from queue_server.domain.packages import PackageDesk

        return PackageDesk(self)

    @property
    def routing(self) -> RoutingDesk:
        """Applications routed between halls (就近办): :class:`queue_server.domain.routing.RoutingDesk`."""
        from queue_server.domain.routing import RoutingDesk

        return RoutingDesk(self)

    # -- the rest of the hall: a desk each, every change one transaction as here --------

    accounts = _Desk(AccountDesk)  # staff accounts, sign-ins and sign-in throttles
    notices = _Desk(NoticeDesk)  # notices on the boards (公告)
    settings = _Desk(SettingsDesk)  # hours, calendar, appointment capacity, businesses and items (CSV)
    tidal = _Desk(TidalDesk)  # tidal windows (潮汐窗口) moved by a manager
    attention = _Desk(AttentionDesk)  # help requests from kiosks (找工作人员帮忙)
    followups = _Desk(FollowUpDesk)  # bad-review follow-ups (差评整改)

    def _ticket_view(self, tx: Tx, row: sqlite3.Row, ahead: int | None = None) -> dict[str, Any]:
        return ticket_rules.ticket_view(tx.conn, row, self.businesses(), self.hall, ahead, self.estimates, tx.now)

    # -- tickets ---------------------------------------------------------------------

    def issue_ticket(self, actor: Actor, business: str, item: str | None = None, id_number: str | None = None,
                     phone: str | None = None, green_reason: str | None = None,
                     request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            row = ticket_rules.issue_ticket(tx, business, item, id_number, phone, green_reason)
            # a new ticket is the last of its kind (docs/dispatch.md): no need to count who is ahead
            return self._ticket_view(tx, row, ahead_of_new(tx.conn, tx.day, business, row["class"]))
        return self._run(actor, request, run)

    def cancel_ticket(self, actor: Actor, public_id: str) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: self._ticket_view(tx, ticket_rules.cancel_ticket(tx, public_id)))

    def cancel_by_label(self, actor: Actor, label: str, reason: str,
                        request: RequestKey | None = None) -> dict[str, Any]:
        """A clerk cancels a waiting number by what is printed on it; the answer, as for a typed requeue, carries
        no public id (the clerk does not hold the slip, and its id rates the service)."""
        def run(tx: Tx) -> dict[str, Any]:
            view = self._ticket_view(tx, ticket_rules.cancel_by_label(tx, label, reason))
            return {k: v for k, v in view.items() if k not in ("id", "track_url")}
        return self._run(actor, request, run)

    def requeue_ticket(self, actor: Actor, public_id: str | None = None, label: str | None = None,
                       request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            t = ticket_rules.find_ticket(tx, public_id) if public_id else ticket_rules.find_by_label(tx, label or "")
            view = self._ticket_view(tx, ticket_rules.requeue_ticket(tx, t))
            if not public_id:
                # typed by its number: whoever typed it may not hold the slip, and its public id rates the service
                # and opens its page; the resident who does hold it keeps using the slip's own QR
                view = {k: v for k, v in view.items() if k not in ("id", "track_url")}
            return view
        return self._run(actor, request, run)

    def ticket(self, public_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = ticket_rules.find_ticket(conn, public_id)
            return ticket_rules.ticket_view(conn, row, self.businesses(), self.hall, estimates=self.estimates)

    # -- windows -----------------------------------------------------------------------

    def _window_result(self, tx: Tx, number: int, ticket: sqlite3.Row | None = None,
                       seq: int | None = None) -> dict[str, Any]:
        views = window_rules.window_views(tx.conn, [number])  # one read of the window, not two
        if not views:
            from queue_server.domain.errors import unknown_window
            raise unknown_window(number)
        out: dict[str, Any] = {"window": views[0]}
        if ticket is not None:
            out["ticket"] = ticket_brief(ticket)
        if seq is not None:
            out["seq"] = seq
        return out

    def sign_in(self, actor: Actor, number: int) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: (window_rules.sign_in(tx, number), self._window_result(tx, number))[1])

    def sign_out(self, actor: Actor, number: int) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: (window_rules.sign_out(tx, number), self._window_result(tx, number))[1])

    def pause(self, actor: Actor, number: int, reason: str) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: (window_rules.pause(tx, number, reason), self._window_result(tx, number))[1])

    def resume(self, actor: Actor, number: int) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: (window_rules.resume(tx, number), self._window_result(tx, number))[1])

    def set_open(self, actor: Actor, number: int, open_: bool) -> dict[str, Any]:
        return self._run(actor, None,
                         lambda tx: (window_rules.set_open(tx, number, open_), self._window_result(tx, number))[1])

    def call_next(self, actor: Actor, number: int, complete_current: bool = False,
                  request: RequestKey | None = None, window_door: bool = False) -> dict[str, Any]:
        """``window_door``: the API's door left the window's rule (``api.admit``'s) to this transaction, which
        checks it first, with the window's row it then acts on (the hot path: one read of the window, not three)."""
        seen: list[sqlite3.Row] = []

        def door(tx: Tx) -> None:
            seen.append(window_rules.get_window(tx, number))
            window_rules.authorize(tx, seen[0])

        def run(tx: Tx) -> dict[str, Any]:
            t, seq = window_rules.call_next(tx, number, complete_current, seen[0] if seen else None)
            return self._window_result(tx, number, t, seq)
        return self._run(actor, request, run, door if window_door else None)

    def recall(self, actor: Actor, number: int, expected: str | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            t, seq = window_rules.recall(tx, number, expected)
            return self._window_result(tx, number, t, seq)
        return self._run(actor, None, run)

    def start_service(self, actor: Actor, number: int, expected: str | None = None) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: self._window_result(
            tx, number, window_rules.start_service(tx, number, expected)))

    def complete(self, actor: Actor, number: int, expected: str | None = None) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: self._window_result(
            tx, number, window_rules.complete(tx, number, expected)))

    def no_show(self, actor: Actor, number: int, expected: str | None = None) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: self._window_result(
            tx, number, window_rules.no_show(tx, number, expected)))

    def transfer(self, actor: Actor, number: int, to_business: str | None = None, to_window: int | None = None,
                 expected: str | None = None) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: self._window_result(
            tx, number, window_rules.transfer(tx, number, to_business, to_window, expected)))

    def hold(self, actor: Actor, number: int, expected: str | None = None) -> dict[str, Any]:
        return self._run(actor, None, lambda tx: self._window_result(
            tx, number, window_rules.hold(tx, number, expected)))

    def call_back(self, actor: Actor, number: int, label: str) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            t, seq = window_rules.call_back(tx, number, label)
            return self._window_result(tx, number, t, seq)
        return self._run(actor, None, run)

    def set_allocation(self, actor: Actor, number: int, serves: list[str]) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            _require_manager(actor)
            window_rules.set_allocation(tx, number, serves)
            return self._window_result(tx, number)
        return self._run(actor, None, run)

    def window_detail(self, number: int) -> dict[str, Any]:
        """A window with its waiting list and held tickets (for the staff console)."""
        with self.db.read() as conn:
            w = conn.execute("SELECT * FROM windows WHERE number = ? AND active", (number,)).fetchone()
            if w is None:
                from queue_server.domain.errors import unknown_window
                raise unknown_window(number)
            view = window_rules.window_view(conn, w)
            view["held_tickets"] = [ticket_brief(r) for r in conn.execute(
                "SELECT * FROM tickets WHERE window = ? AND state = 'held' ORDER BY called_at", (number,))]
            return view

    # -- ratings -----------------------------------------------------------------------

    def rate_ticket(self, actor: Actor, public_id: str, level: int, reasons: list[str] | None = None,
                    comment: str = "", request: RequestKey | None = None, contact: str | None = None,
                    contact_consent: bool = False) -> dict[str, Any]:
        """Rate by the ticket's public id; with a bad rating the resident may leave a phone for the call-back."""
        def run(tx: Tx) -> dict[str, Any]:
            phone = contacts.checked(level, contact, contact_consent)
            row = rating_rules.rate(tx, ticket_rules.find_ticket(tx, public_id), level, reasons, comment)
            if phone:
                contacts.leave(tx, row, phone)
            return {**rating_rules.rating_view(row), "contact_left": phone is not None}
        return self._run(actor, request, run)

    def rate_at_window(self, actor: Actor, number: int, level: int, reasons: list[str] | None = None,
                       comment: str = "", request: RequestKey | None = None, contact: str | None = None,
                       contact_consent: bool = False) -> dict[str, Any]:
        """A rating pad or tablet at window ``number`` rates the service it just finished."""
        def run(tx: Tx) -> dict[str, Any]:
            window_rules.get_window(tx, number)
            if number not in actor.windows:
                from queue_server.domain.errors import Forbidden
                raise Forbidden("error.not_bound_here", number=number, code="not_bound_here")
            phone = contacts.checked(level, contact, contact_consent)
            ticket = rating_rules.ticket_to_rate_at_window(tx, number)
            row = rating_rules.rate(tx, ticket, level, reasons, comment)
            if phone:
                contacts.leave(tx, row, phone)
            return {**rating_rules.rating_view(row), "ticket": ticket["label"], "contact_left": phone is not None}
        return self._run(actor, request, run)

    def ask_for_rating(self, actor: Actor, number: int) -> dict[str, Any]:
        """Light window ``number``'s rating tablet or pad for the service just finished (邀请评价)."""
        return self._run(actor, None, lambda tx: rating_prompts.ask_for_rating(tx, number))

    # -- the day ---------------------------------------------------------------------------

    def close_day(self, actor: Actor) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            _require_manager(actor)
            return day_rules.close_day(tx)
        return self._run(actor, None, run)

    def reopen_day(self, actor: Actor) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            _require_manager(actor)
            back = day_rules.reopen_day(tx)  # how many tickets the close expired wait again, and which could not
            return {"business_day": tx.day, "issuing": True, **back}
        return self._run(actor, None, run)

    def movable_clock(self) -> VirtualClock:
        """The hall's virtual clock; 409 ``real_clock`` on a server that runs on the real one."""
        if not isinstance(self.hall.clock, VirtualClock):
            from queue_server.domain.errors import Conflict
            raise Conflict("error.real_clock", code="real_clock")
        return self.hall.clock

    def move_clock(self, actor: Actor, when: datetime, rate: float | None = None) -> dict[str, Any]:
        """Move the virtual clock (simulations, tests), then journal it: statistics must know time was moved."""
        clock = self.movable_clock()
        clock.set(when, rate)  # first: the journal entry is made at the new time
        self._run(actor, None, lambda tx: {"seq": tx.journal("clock_set", data={"now": iso(clock.now()),
                                                                               "rate": clock.rate})})
        return clock.describe()

    def roll_up_statistics(self) -> int:
        """Roll every closed day not yet rolled up into the statistics tables (one short transaction a day:
        derived figures, not journaled); how many days. Reports read the tables (readmodel.stats)."""
        return statistics.roll_up_pending(self.db, self.hall.now())


def _require_manager(actor: Actor) -> None:
    from queue_server.domain.errors import Forbidden

    if not (actor.is_manager or actor.kind == "system"):
        raise Forbidden("error.manager_only", code="manager_only")


def ticket_brief(t: sqlite3.Row) -> dict[str, Any]:
    """A ticket as a window sees it: number, business, item, state, times; masks only. Never its public id: that
    is the resident's, printed in the ticket's QR code, and it is what rates the service (``POST /ratings``): a
    clerk who had it could rate their own service from a phone and leave the resident nothing to rate."""
    return {
        "ticket": t["label"], "business": t["business"], "item": t["item"],
        "class": CLASS_NAMES[t["class"]], "green_reason": t["green_reason"], "state": t["state"],
        "issued_at": t["issued_at"], "arrived_at": t["arrived_at"], "promise_from": t["promise_from"],
        "called_at": t["called_at"], "started_at": t["started_at"], "finished_at": t["finished_at"], "recalls": t["recalls"],
        "transfers": t["transfers"], "requeues": t["requeues"], "id_masked": t["id_masked"],
        "phone_masked": t["phone_masked"],
    }


class _Replayed(Exception):
    """Carries a stored refusal out of the transaction without recording it again."""

    def __init__(self, error: DomainError) -> None:
        self.error = error


def _replayed_error(status: int, stored: dict[str, Any]) -> DomainError:
    return DomainError.with_messages(stored.get("messages", {}), code=stored.get("code"), status=status,
                                     detail=stored.get("detail"))
