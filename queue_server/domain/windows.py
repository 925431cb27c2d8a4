"""What happens at a window: sign in, call, recall, serve, miss, transfer, hold, pause.

The rules that keep a hall honest (docs/domain-rules.md):

* only the staff member signed in at a window, a manager, or a device bound
  to that window (call keypad) acts for it, or reads its queue and console;
* a window calls only when it is open and someone is signed in; it has at
  most one current ticket (called or serving) at a time;
* service starts only on a ticket this window called (the usual complaint is
  staff serving people who were never called, 插队);
* "call next" picks and marks the ticket in one transaction, so two windows
  can never get the same ticket;
* every call, recall and call-back gets the next call sequence number, which
  the MQTT ``calls`` events carry;
* a ticket is sent to a window by name only while someone is signed in there,
  and goes back to its business's queue, keeping its place, when the window
  stops serving (:func:`return_directed`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hallq.targets import Targets
from queue_server.domain import dispatch, holds
from queue_server.domain.context import ACTIVE_SQL, ACTIVE_STATES, Actor, Hall, Tx, any_of
from queue_server.domain.errors import Conflict, Forbidden, Invalid, NotFound, unknown_business, unknown_window

CURRENT_STATES = ("called", "serving")


# -- helpers -------------------------------------------------------------------

def get_window(tx: Tx, number: int) -> sqlite3.Row:
    w = tx.one("SELECT * FROM windows WHERE number = ? AND active", (number,))
    if w is None:
        raise unknown_window(number)
    return w


def authorize(tx: Tx, w: sqlite3.Row) -> None:
    """Raise Forbidden unless the actor may act for window ``w``."""
    authorize_actor(tx.actor, w)


def may_act_for(a: Actor, w: sqlite3.Row) -> bool:
    """The one rule for a window, its actions and the reads of its queue: the staff member signed in
    there, a manager, or a device bound to it (its call keypad's gateway)."""
    if a.kind == "system" or a.is_manager:
        return True
    if a.kind == "device" and w["number"] in a.windows:
        return True
    return a.kind == "staff" and w["staff_id"] is not None and w["staff_id"] == a.staff_id


def authorize_actor(a: Actor, w: sqlite3.Row) -> None:
    """Raise Forbidden unless ``a`` may act for window ``w`` (outside a transaction: reads, the API's door)."""
    if may_act_for(a, w):
        return
    raise Forbidden("error.not_signed_in_here", number=w["number"], code="not_signed_in_here")


def current_ticket(tx: Tx, number: int) -> sqlite3.Row | None:
    return current_at(tx.conn, number)


def current_at(conn: sqlite3.Connection, number: int) -> sqlite3.Row | None:
    """The ticket window ``number`` has called or serves (the latest called, were there ever two): its tickets by
    the partial index tickets_active, the held ones left out here; an ``ORDER BY … LIMIT 1`` sorted them in a
    temporary B-tree at every call (schema/025)."""
    current = None
    for r in conn.execute(f"SELECT * FROM tickets INDEXED BY tickets_active WHERE window = ? AND {ACTIVE_SQL}",
                          (number,)):
        if r["state"] != "held" and (current is None or (r["called_at"] or "") > (current["called_at"] or "")):
            current = r
    return current


def _require_current(tx: Tx, w: sqlite3.Row, states: tuple[str, ...], expected: str | None) -> sqlite3.Row:
    t = current_ticket(tx, w["number"])
    if t is None:
        raise Conflict("error.no_current_ticket", number=w["number"], code="no_current_ticket")
    if expected and t["label"] != expected.strip().upper():
        raise Conflict("error.not_current_ticket", label=t["label"], expected=expected, code="not_current_ticket",
                       detail={"current": t["label"]})
    if t["state"] not in states:
        if "serving" in states and len(states) == 1:
            raise Conflict("error.not_serving", label=t["label"], code="not_serving")
        raise Conflict("error.already_serving.not_now", label=t["label"], code="already_serving")
    return t


def _require_open(w: sqlite3.Row) -> None:
    if w["state"] == "paused":
        raise Conflict("error.window_paused", number=w["number"], code="window_paused")
    if w["state"] != "open":
        raise Conflict("error.window_closed", number=w["number"], code="window_closed")
    if w["staff_id"] is None:
        raise Conflict("error.no_staff_signed_in", number=w["number"], code="no_staff_signed_in")


def _touch(tx: Tx, number: int, **cols: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in cols)
    tx.conn.execute(f"UPDATE windows SET {sets}{', ' if sets else ''}updated_at = ? WHERE number = ?",
                    (*cols.values(), tx.at, number))


def _call_event(tx: Tx, t: sqlite3.Row, number: int, kind: str) -> int:
    seq = tx.next_counter("call_seq")
    tx.journal(kind, ticket=t, window=number, data={"seq": seq, "recalls": t["recalls"]})
    return seq


def ranks_of(tx: Tx, number: int) -> dict[str, int]:
    return {r["business"]: r["rank"] for r in tx.all(
        "SELECT a.business, a.rank FROM allocation a JOIN businesses b ON b.code = a.business "
        "WHERE a.window = ? AND b.active ORDER BY a.rank", (number,))}


# -- sign in / out, open, pause ---------------------------------------------------

def sign_in(tx: Tx, number: int) -> sqlite3.Row:
    """The acting staff member takes window ``number`` (and leaves any other), opening it."""
    a = tx.actor
    if a.kind != "staff":
        raise Forbidden("error.windows.staff_only", code="staff_only")
    w = get_window(tx, number)
    if w["staff_id"] not in (None, a.staff_id):
        other = tx.row("SELECT job_no FROM staff WHERE id = ?", (w["staff_id"],))
        raise Conflict("error.window_taken", number=number, job_no=other["job_no"], code="window_taken")
    for prev in tx.all("SELECT number FROM windows WHERE staff_id = ? AND number != ?", (a.staff_id, number)):
        sign_out(tx, prev["number"])
    state = "open" if w["state"] == "closed" else w["state"]
    _touch(tx, number, staff_id=a.staff_id, state=state)
    tx.journal("sign_in", window=number)
    return get_window(tx, number)


def sign_out(tx: Tx, number: int) -> sqlite3.Row:
    w = get_window(tx, number)
    authorize(tx, w)
    busy = tx.one("SELECT label, state FROM tickets WHERE window = ? AND state IN ('called','serving','held')", (number,))
    if busy:
        raise Conflict("error.window_busy.sign_out", label=busy["label"], code="window_busy",
                       detail={"ticket": busy["label"]})
    _touch(tx, number, staff_id=None, state="closed", pause_reason=None)
    tx.journal("sign_out", window=number, data={"staff_id": w["staff_id"]})
    return_directed(tx, number, "sign_out")
    return get_window(tx, number)


def sign_out_account(tx: Tx, staff_id: int, reason: str) -> list[int]:
    """An account leaves the windows it holds with no ticket in hand (deactivated in the console, or retired by
    hall.toml): each is closed and signed out (journaled with ``reason``), and the tickets sent to it by name go
    back to their queues (:func:`return_directed`). The windows it left."""
    left = []
    for w in tx.all("UPDATE windows SET staff_id = NULL, state = 'closed', pause_reason = NULL, updated_at = ? "
                    "WHERE staff_id = ? AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.window = windows.number "
                    f"AND {any_of('t.state', ACTIVE_STATES)}) RETURNING number", (tx.at, staff_id)):
        tx.journal("sign_out", window=w["number"], data={"staff_id": staff_id, "reason": reason})
        return_directed(tx, w["number"], reason)
        left.append(w["number"])
    return left


def return_directed(tx: Tx, number: int, reason: str) -> list[sqlite3.Row]:
    """Window ``number`` serves no more (signed out, closed): the tickets sent to it by
    name (转移到指定窗口) would wait there for ever, so they go back to their business's ordinary queue, keeping
    their place (arrival and promise), one ``transfer_returned`` entry each. Whatever takes a window out of
    service calls this in the same transaction; ``reason`` says what did (``sign_out``, ``close_window``…)."""
    returned = []
    for r in tx.all("SELECT id FROM tickets INDEXED BY tickets_directed WHERE state = 'waiting' "
                    "AND target_window = ? ORDER BY arrived_at, id", (number,)):
        t = tx.update_ticket(r["id"], "target_window = NULL")
        tx.journal("transfer_returned", ticket=t, window=number, data={"reason": reason})
        returned.append(t)
    return returned


def pause(tx: Tx, number: int, reason: str) -> sqlite3.Row:
    w = get_window(tx, number)
    authorize(tx, w)
    if w["state"] != "open":
        raise Conflict("error.window_not_open", number=number, code="window_not_open")
    _touch(tx, number, state="paused", pause_reason=reason)
    tx.journal("pause", window=number, data={"reason": reason})
    return get_window(tx, number)


def resume(tx: Tx, number: int) -> sqlite3.Row:
    w = get_window(tx, number)
    authorize(tx, w)
    if w["state"] != "paused":
        raise Conflict("error.window_not_paused", number=number, code="window_not_paused")
    _touch(tx, number, state="open", pause_reason=None)
    tx.journal("resume", window=number)
    return get_window(tx, number)


def set_open(tx: Tx, number: int, open_: bool) -> sqlite3.Row:
    """Open or close a window (managers; staff for their own window)."""
    w = get_window(tx, number)
    authorize(tx, w)
    if not open_:
        busy = tx.one("SELECT label FROM tickets WHERE window = ? AND state IN ('called','serving','held')", (number,))
        if busy:
            raise Conflict("error.window_busy.close", label=busy["label"], code="window_busy")
        _touch(tx, number, state="closed", pause_reason=None)
    else:
        _touch(tx, number, state="open", pause_reason=None)
    tx.journal("open_window" if open_ else "close_window", window=number)
    if not open_:
        return_directed(tx, number, "close_window")
    return get_window(tx, number)


# -- the calling cycle ---------------------------------------------------------------

def call_next(tx: Tx, number: int, complete_current: bool = False,
              w: sqlite3.Row | None = None) -> tuple[sqlite3.Row, int]:
    """Call the next ticket at window ``number``; return it and its call sequence number.

    With ``complete_current`` a ticket still current at the window is completed
    first, in the same transaction (what a keypad's single "next" key does).
    ``w``: the window's row, when this transaction already read it.
    """
    if w is None:
        w = get_window(tx, number)
    authorize(tx, w)
    _require_open(w)
    cur = current_ticket(tx, number)
    if cur is not None:
        if not complete_current:
            raise Conflict("error.current_ticket_open.call_next", label=cur["label"],
                           code="current_ticket_open", detail={"current": cur["label"]})
        _finish(tx, cur, number)
    ranks, policy = _ranks_and_policy(tx, number)
    cands = dispatch.candidates(tx.conn, tx.day, number, ranks, policy.name)
    chosen, run = dispatch.choose(cands, ranks, tx.now, w["promise_run"], policy)
    if chosen is None:
        raise Conflict("error.nobody_waiting", code="nobody_waiting")
    # "AND state = 'waiting'": cannot fail inside BEGIN IMMEDIATE; were it to, refused (LookupError), not double-called.
    # called_at: the latest call; first_called_at: the first ever, where its wait ended (schema/028, statistics);
    # a new service at this window, none of an earlier one's start or holds (holds.NEW_SERVICE, schema/029)
    t = tx.update_ticket(chosen.id, "state = 'called', window = ?, staff_id = ?, called_at = ?, calls = calls + 1, "
                         f"first_called_at = COALESCE(first_called_at, ?), target_window = NULL, {holds.NEW_SERVICE}",
                         (number, w["staff_id"], tx.at, tx.at), where=" AND state = 'waiting'")
    if run != w["promise_run"]:
        tx.conn.execute("UPDATE windows SET promise_run = ? WHERE number = ?", (run, number))
    seq = _call_event(tx, t, number, "call")
    return t, seq


def _ranks_and_policy(tx: Tx, number: int) -> tuple[dict[str, int], dispatch.Policy]:
    """:func:`ranks_of` and :func:`dispatch_policy` of window ``number`` in one statement (each call's)."""
    rows = tx.all("SELECT a.business, a.rank, b.green_target_minutes, b.appointment_target_minutes, "
                  "b.ordinary_target_minutes FROM allocation a JOIN businesses b ON b.code = a.business "
                  "WHERE a.window = ? AND b.active ORDER BY a.rank", (number,))
    rules = tx.hall.config.queue
    targets = {r["business"]: Targets(r["green_target_minutes"], r["appointment_target_minutes"],
                                      r["ordinary_target_minutes"]) for r in rows}
    return ({r["business"]: r["rank"] for r in rows},
            dispatch.Policy(rules.dispatch, targets, tx.hall.config.hours, rules.max_promises_in_a_row))


def dispatch_policy(conn: sqlite3.Connection, hall: Hall, businesses: Iterable[str]) -> dispatch.Policy:
    """The policy as the hall runs it now: its rule, the businesses' targets, today's opening hours."""
    rules = hall.config.queue
    codes = tuple(businesses)
    targets = {r["code"]: Targets(r["green_target_minutes"], r["appointment_target_minutes"],
                                  r["ordinary_target_minutes"]) for r in conn.execute(
        f"SELECT code, green_target_minutes, appointment_target_minutes, ordinary_target_minutes FROM businesses "
        f"WHERE code IN ({','.join('?' * len(codes))})", codes)} if codes else {}
    return dispatch.Policy(rules.dispatch, targets, hall.config.hours, rules.max_promises_in_a_row)


def waiting_list(conn: sqlite3.Connection, hall: Hall, number: int, now: datetime, limit: int) -> list[sqlite3.Row]:
    """The first ``limit`` tickets waiting for window ``number``, in the order it would call them."""
    ranks = {r["business"]: r["rank"] for r in conn.execute(
        "SELECT a.business, a.rank FROM allocation a JOIN businesses b ON b.code = a.business "
        "WHERE a.window = ? AND b.active ORDER BY a.rank", (number,))}
    return dispatch.in_call_order(conn, now.date().isoformat(), number, ranks, now,
                                  dispatch_policy(conn, hall, ranks), limit)


def recall(tx: Tx, number: int, expected: str | None = None) -> tuple[sqlite3.Row, int]:
    w = get_window(tx, number)
    authorize(tx, w)
    t = _require_current(tx, w, ("called",), expected)
    if t["recalls"] >= tx.rules.max_recalls:
        raise Conflict("error.recall_limit", label=t["label"], recalls=t["recalls"], code="recall_limit")
    t = tx.update_ticket(t["id"], "recalls = recalls + 1, calls = calls + 1")
    return t, _call_event(tx, t, number, "recall")


def start_service(tx: Tx, number: int, expected: str | None = None) -> sqlite3.Row:
    """Begin serving the ticket this window called (and only that one); one called back keeps its start (holds.py)."""
    w = get_window(tx, number)
    authorize(tx, w)
    t = current_ticket(tx, number)
    if t is None or (expected and t["label"] != expected.strip().upper()):
        raise Conflict("error.not_called", code="not_called")
    if t["state"] != "called":
        raise Conflict("error.already_serving", label=t["label"], code="already_serving")
    t = tx.update_ticket(t["id"], "state = 'serving', started_at = COALESCE(started_at, ?)", (tx.at,))
    tx.journal("start", ticket=t, window=number)
    return t


def _finish(tx: Tx, t: sqlite3.Row, number: int) -> sqlite3.Row:
    # a ticket completed straight from "called" was served without pressing start
    t = tx.update_ticket(t["id"], "state = 'done', started_at = COALESCE(started_at, called_at), finished_at = ?",
                         (tx.at,))
    tx.journal("complete", ticket=t, window=number)
    return t


def complete(tx: Tx, number: int, expected: str | None = None) -> sqlite3.Row:
    w = get_window(tx, number)
    authorize(tx, w)
    t = _require_current(tx, w, CURRENT_STATES, expected)
    return _finish(tx, t, number)


def no_show(tx: Tx, number: int, expected: str | None = None) -> sqlite3.Row:
    """The called resident did not come (过号); the number can be re-queued within the grace period."""
    w = get_window(tx, number)
    authorize(tx, w)
    t = _require_current(tx, w, ("called",), expected)
    t = tx.update_ticket(t["id"], "state = 'no_show', finished_at = ?", (tx.at,))
    tx.journal("no_show", ticket=t, window=number)
    return t


def transfer(tx: Tx, number: int, to_business: str | None = None, to_window: int | None = None,
             expected: str | None = None) -> sqlite3.Row:
    """Send the current ticket to another business or window; it keeps its place (original arrival)."""
    if (to_business is None) == (to_window is None):
        raise Invalid("error.transfer.one_target", code="transfer_target")
    w = get_window(tx, number)
    authorize(tx, w)
    t = _require_current(tx, w, CURRENT_STATES, expected)
    business = t["business"]
    if to_business is not None:
        if not tx.one("SELECT 1 FROM businesses WHERE code = ? AND active", (to_business,)):
            raise unknown_business(to_business)
        if not tx.one("SELECT 1 FROM allocation a JOIN windows w ON w.number = a.window "
                      "WHERE a.business = ? AND w.active", (to_business,)):
            raise Conflict("error.no_window_serves", code="no_window_serves")
        business = to_business
    else:
        assert to_window is not None  # one of the two, checked above
        target = get_window(tx, to_window)
        if target["number"] == number:
            raise Invalid("error.transfer.own_window", code="transfer_target")
        if target["state"] == "closed":
            raise Conflict("error.window_closed.transfer", window=to_window, code="window_closed")
        # nobody there would ever call it (a paused window, staffed, calls it when it resumes)
        if target["staff_id"] is None:
            raise Conflict("error.window_not_staffed", window=to_window, code="window_not_staffed")
    try:
        t2 = tx.update_ticket(t["id"], "state = 'waiting', business = ?, target_window = ?, window = NULL, "
                              "staff_id = NULL, called_at = NULL, started_at = NULL, recalls = 0, "
                              "transfers = transfers + 1", (business, to_window))
    except sqlite3.IntegrityError:
        raise Conflict("error.already_has_ticket.transfer", code="already_has_ticket") from None
    tx.journal("transfer", ticket=t2, window=number,
               data={"from_business": t["business"], "to_business": business, "to_window": to_window})
    return t2


def hold(tx: Tx, number: int, expected: str | None = None) -> sqlite3.Row:
    """Put the current ticket on hold (挂起), e.g. while the resident fetches a paper: not service time (holds.py)."""
    w = get_window(tx, number)
    authorize(tx, w)
    t = _require_current(tx, w, CURRENT_STATES, expected)
    t = holds.hold(tx, t)
    tx.journal("hold", ticket=t, window=number)
    return t


def call_back(tx: Tx, number: int, label: str) -> tuple[sqlite3.Row, int]:
    """Call a ticket on hold at this window again (回呼): its latest call, not its first (its wait ended then)."""
    w = get_window(tx, number)
    authorize(tx, w)
    _require_open(w)
    cur = current_ticket(tx, number)
    if cur is not None:
        raise Conflict("error.current_ticket_open", label=cur["label"], code="current_ticket_open")
    t = tx.one("SELECT * FROM tickets WHERE window = ? AND state = 'held' AND label = ? AND business_day = ?",
               (number, label.strip().upper(), tx.day))
    if t is None:
        raise NotFound("error.not_held", label=label, code="not_held")
    t = holds.call_back(tx, t)  # its hold's seconds, in the same statement
    return t, _call_event(tx, t, number, "call_back")


def held_tickets(tx: Tx, number: int) -> list[sqlite3.Row]:
    return tx.all("SELECT * FROM tickets WHERE window = ? AND state = 'held' ORDER BY called_at", (number,))


def set_allocation(tx: Tx, number: int, serves: list[str]) -> dict[str, int]:
    """Replace a window's ranked businesses (effective for its very next call)."""
    get_window(tx, number)
    for code in serves:
        if not tx.one("SELECT 1 FROM businesses WHERE code = ? AND active", (code,)):
            raise unknown_business(code)
    if len(set(serves)) != len(serves):
        raise Invalid("error.duplicate_business", code="duplicate_business")
    tx.conn.execute("DELETE FROM allocation WHERE window = ?", (number,))
    tx.conn.executemany("INSERT INTO allocation (window, business, rank) VALUES (?, ?, ?)",
                        [(number, code, i + 1) for i, code in enumerate(serves)])
    tx.journal("allocate", window=number, data={"serves": serves})
    return {code: i + 1 for i, code in enumerate(serves)}


def window_view(conn: sqlite3.Connection, w: sqlite3.Row) -> dict[str, Any]:
    """A window as the API and MQTT show it (staff name masked)."""
    return window_views(conn, [w["number"]])[0]


def window_views(conn: sqlite3.Connection, numbers: list[int] | None = None) -> list[dict[str, Any]]:
    """Active windows (all, or ``numbers``) in four queries, whatever their count; one window's in one.

    The boards' snapshots are rebuilt many times a minute; one query per
    window and field made a 20-window board cost ~6 ms of CPU.
    """
    if numbers is not None and len(numbers) == 1:
        return _one_window_view(conn, numbers[0])
    where = "w.active"
    params: tuple[int, ...] = ()
    # only the windows asked for (a window's own view after each of its actions: a quarter of the work)
    some = ""
    if numbers is not None:
        some = f" IN ({','.join('?' * len(numbers)) or 'NULL'})"
        where += f" AND w.number{some}"
        params = tuple(numbers)
    rows = conn.execute(f"SELECT w.*, s.job_no, s.name AS staff_name FROM windows w LEFT JOIN staff s "
                        f"ON s.id = w.staff_id WHERE {where} ORDER BY w.number", params).fetchall()
    current: dict[int, sqlite3.Row] = {}
    held: dict[int, int] = {}
    # the state list is the partial index tickets_active's own: SQLite uses it only then
    for r in conn.execute(f"SELECT window, label, business, state, called_at, recalls FROM tickets "
                          f"INDEXED BY tickets_active WHERE {ACTIVE_SQL}"
                          f"{' AND window' + some if some else ''} ORDER BY called_at", params):
        if r["state"] == "held":
            held[r["window"]] = held.get(r["window"], 0) + 1
        else:
            current[r["window"]] = r
    serves: dict[int, list[str]] = {}
    for number, business in conn.execute(f"SELECT window, business FROM allocation"
                                         f"{' WHERE window' + some if some else ''} ORDER BY window, rank", params):
        serves.setdefault(number, []).append(business)
    return [_view(w, current.get(w["number"]), held.get(w["number"], 0), serves.get(w["number"], [])) for w in rows]


def _one_window_view(conn: sqlite3.Connection, number: int) -> list[dict[str, Any]]:
    """:func:`window_views` of one window in one statement (a window's answer after each of its actions):
    its open tickets and its businesses come as JSON arrays, put in order here as the four queries order them."""
    w = conn.execute(
        "SELECT w.*, s.job_no, s.name AS staff_name, "
        "(SELECT json_group_array(json_array(called_at, state, label, business, recalls)) FROM tickets "
        f"INDEXED BY tickets_active WHERE {ACTIVE_SQL} AND window = w.number) AS open_tickets, "
        "(SELECT json_group_array(json_array(rank, business)) FROM allocation WHERE window = w.number) AS serves "
        "FROM windows w LEFT JOIN staff s ON s.id = w.staff_id WHERE w.active AND w.number = ?", (number,)).fetchone()
    if w is None:
        return []
    cur = None
    held = 0
    for called_at, state, label, business, recalls in sorted(json.loads(w["open_tickets"]), key=lambda t: t[0] or ""):
        if state == "held":
            held += 1
        else:
            cur = {"label": label, "business": business, "state": state, "called_at": called_at, "recalls": recalls}
    serves = [business for _, business in sorted(json.loads(w["serves"]))]
    return [_view(w, cur, held, serves)]


def _view(w: sqlite3.Row, cur: Any, held: int, serves: list[str]) -> dict[str, Any]:
    """A window as the API and MQTT show it, from its row (with its staff's job number and name), its current
    ticket (``label``, ``business``, ``state``, ``called_at``, ``recalls``) if any, its held tickets' count and
    its businesses in rank order."""
    from hallq.privacy import mask_name

    return {
        "number": w["number"], "name": json.loads(w["name"]), "kind": w["kind"], "area": w["area"],
        "state": w["state"], "pause_reason": w["pause_reason"],
        "staff": {"job_no": w["job_no"], "name": mask_name(w["staff_name"])} if w["staff_id"] is not None else None,
        "current": ({"ticket": cur["label"], "business": cur["business"], "state": cur["state"],
                     "called_at": cur["called_at"], "recalls": cur["recalls"]} if cur else None),
        "held": held, "serves": serves, "updated_at": w["updated_at"],
    }
