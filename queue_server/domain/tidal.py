"""Tidal windows (潮汐窗口): lend windows to the business under pressure, give them back when it eases.

Seed 004 sets up three 综合受理"潮汐窗口" "针对办理时间较为集中且办件量较大的情况" and
says "窗口席位数量根据办件情况进行动态调整"; seed 000 §12 asks for 窗口动态调整和
办件高峰应急处置机制. The rules (``[tidal]`` in hall.toml, docs/consoles.md):

* a business is **under pressure** when more than ``waiting_above`` wait, or
  the estimated wait (the boards' estimate) is above ``wait_minutes_above``;
  with no window serving the queue there is no estimate and the count alone
  decides (so the queues of a hall not yet staffed in the morning are not all
  flagged at once);
* it has **eased** when at most ``release_waiting_below`` wait and the
  estimate is at most ``release_wait_minutes_below`` (or nobody waits). The
  gap between the two thresholds is the hysteresis: no flapping;
* entering or leaving pressure alerts the manager console. With
  ``auto_assign`` (switchable at run time), a free tidal window (``kind =
  "tidal"``, signed-in ones first) is given the business as its primary one,
  one more every ``hold_minutes`` while the pressure lasts; when it has eased
  and an assignment has lasted ``hold_minutes``, the window gets its previous
  businesses back. A window's allocation change takes effect at its very next
  call (dispatch reads the allocation in the call's transaction);
* every automatic change is journaled with the actor ``system``.

:func:`evaluate` decides in one transaction; :func:`plan` is the read-only
first look the background task takes, so a calm hall never takes the write lock.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hallq.clock import iso
from hallq.hallconfig import TidalRule, TidalSettings
from queue_server.domain import windows as window_rules
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Conflict, NotFound

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

AUTO_META = "tidal_auto_assign"


def auto_assign(conn: sqlite3.Connection, settings: TidalSettings) -> bool:
    """The run-time switch (set from the manager console) over ``[tidal] auto_assign``."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (AUTO_META,)).fetchone()
    return settings.auto_assign if row is None else row[0] == "1"


def rule_for(rules: tuple[TidalRule, ...], business: str) -> TidalRule | None:
    specific = next((r for r in rules if r.business == business), None)
    return specific or next((r for r in rules if r.business == "*"), None)


def under_pressure(rule: TidalRule, waiting: int, est: int | None) -> bool:
    if rule.waiting_above is not None and waiting > rule.waiting_above:
        return True
    # no estimate means no window serves the queue (e.g. before the clerks sign in): the count alone decides
    return rule.wait_minutes_above is not None and est is not None and est > rule.wait_minutes_above


def eased(rule: TidalRule, waiting: int, est: int | None) -> bool:
    if waiting == 0:
        return True
    return waiting <= rule.release_waiting_below and (est is None or est <= rule.release_wait_minutes_below)


def plan(conn: sqlite3.Connection, settings: TidalSettings, queues: dict[str, dict[str, Any]], now: datetime) -> list[tuple]:
    """What :func:`evaluate` would change now, without writing: [(kind, business, window?)]."""
    if not settings.rules:
        return []
    pressure = {r["business"]: r for r in conn.execute("SELECT * FROM tidal_pressure")}
    open_ = conn.execute("SELECT * FROM tidal_assignments WHERE released_at IS NULL").fetchall()
    auto = auto_assign(conn, settings)
    hold = timedelta(minutes=settings.hold_minutes)
    out: list[tuple] = []
    for code, q in queues.items():
        rule = rule_for(settings.rules, code)
        if rule is None:
            continue
        waiting, est = q["waiting"], q["est_wait_minutes"]
        hot = under_pressure(rule, waiting, est)
        if code not in pressure:
            if hot:
                out.append(("pressure", code, None))
                if auto:
                    out.append(("assign", code, None))
            continue
        if eased(rule, waiting, est):
            out.append(("eased", code, None))
            continue
        if hot and auto:
            mine = [a for a in open_ if a["business"] == code]
            newest = max((datetime.fromisoformat(a["assigned_at"]) for a in mine), default=None)
            if newest is None or now - newest >= hold:
                out.append(("assign", code, None))
    easing = {b for k, b, _ in out if k == "eased"}
    heating = {b for k, b, _ in out if k == "pressure"}
    for a in open_:
        # only automatic assignments go back by themselves, and only once their business has eased
        if a["assigned_by"] != "system" or a["business"] in heating or (
                a["business"] in pressure and a["business"] not in easing):
            continue
        if now - datetime.fromisoformat(a["assigned_at"]) >= hold:
            out.append(("release", a["business"], a["window"]))
    return _drop_impossible_assigns(conn, out)


def _drop_impossible_assigns(conn: sqlite3.Connection, out: list[tuple]) -> list[tuple]:
    """An "assign" with no free tidal window changes nothing after the first "no_window" alert."""
    if not any(k == "assign" for k, _, _ in out) or _free_tidal_windows(conn):
        return out
    kept = []
    for k, b, w in out:
        if k == "assign" and conn.execute("SELECT 1 FROM tidal_alerts WHERE business = ? AND kind = 'no_window' AND at >= "
                                          "(SELECT since FROM tidal_pressure WHERE business = ?)", (b, b)).fetchone():
            continue
        kept.append((k, b, w))
    return kept


def _free_tidal_windows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Tidal windows without an open assignment: signed-in (open) ones first."""
    return conn.execute(
        "SELECT w.* FROM windows w WHERE w.active AND w.kind = 'tidal' AND NOT EXISTS "
        "(SELECT 1 FROM tidal_assignments a WHERE a.window = w.number AND a.released_at IS NULL) "
        "ORDER BY w.state = 'open' DESC, w.staff_id IS NOT NULL DESC, w.number").fetchall()


def _alert(tx: Tx, business: str, kind: str, q: dict[str, Any] | None, window: int | None = None) -> None:
    tx.conn.execute("INSERT INTO tidal_alerts (at, business, kind, window, waiting, est_wait_minutes) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (tx.at, business, kind, window, q["waiting"] if q else None,
                                                 q["est_wait_minutes"] if q else None))


def evaluate(tx: Tx, queues: dict[str, dict[str, Any]]) -> list[tuple]:
    """Apply the tidal rules now (one transaction); return what was changed."""
    settings = tx.hall.config.tidal
    changes = plan(tx.conn, settings, queues, tx.now)
    for kind, business, window in changes:
        q = queues.get(business)
        if kind == "pressure":
            assert q is not None  # plan() reports pressure and easing only of a queue it was given
            tx.conn.execute("INSERT INTO tidal_pressure (business, since, waiting, est_wait_minutes) VALUES (?,?,?,?) "
                            "ON CONFLICT(business) DO NOTHING", (business, tx.at, q["waiting"], q["est_wait_minutes"]))
            _alert(tx, business, "pressure", q)
            tx.journal("tidal_pressure", business=business,
                       data={"waiting": q["waiting"], "est_wait_minutes": q["est_wait_minutes"]})
        elif kind == "eased":
            assert q is not None
            tx.conn.execute("DELETE FROM tidal_pressure WHERE business = ?", (business,))
            _alert(tx, business, "eased", q)
            tx.journal("tidal_eased", business=business,
                       data={"waiting": q["waiting"], "est_wait_minutes": q["est_wait_minutes"]})
        elif kind == "assign":
            free = _free_tidal_windows(tx.conn)
            if not free:
                _alert(tx, business, "no_window", q)
                continue
            assign(tx, free[0]["number"], business, q)
        elif kind == "release":
            release(tx, window)
    return changes


def assign(tx: Tx, number: int, business: str, q: dict[str, Any] | None = None) -> dict[str, Any]:
    """Make ``business`` the primary business of tidal window ``number`` (remembering what it served)."""
    w = window_rules.get_window(tx, number)
    if w["kind"] != "tidal":
        raise Conflict("error.not_tidal", number=number, code="not_tidal")
    if tx.one("SELECT 1 FROM tidal_assignments WHERE window = ? AND released_at IS NULL", (number,)):
        raise Conflict("error.already_assigned", number=number, code="already_assigned")
    previous = list(window_rules.ranks_of(tx, number))
    window_rules.set_allocation(tx, number, [business] + [b for b in previous if b != business])
    tx.conn.execute("INSERT INTO tidal_assignments (window, business, previous_serves, assigned_at, assigned_by, "
                    "reason) VALUES (?, ?, ?, ?, ?, ?)", (number, business, json.dumps(previous), tx.at,
                                                          tx.actor.label, json.dumps(q or {}, ensure_ascii=False)))
    _alert(tx, business, "assigned", q, number)
    tx.journal("tidal_assign", window=number, business=business, data={"previous": previous, **(q and {
        "waiting": q["waiting"], "est_wait_minutes": q["est_wait_minutes"]} or {})})
    return {"window": number, "business": business, "previous": previous}


def release(tx: Tx, number: int) -> dict[str, Any]:
    """Give tidal window ``number`` its previous businesses back."""
    a = tx.one("SELECT * FROM tidal_assignments WHERE window = ? AND released_at IS NULL", (number,))
    if a is None:
        raise NotFound("error.not_assigned", number=number, code="not_assigned")
    previous = [b for b in json.loads(a["previous_serves"])
                if tx.one("SELECT 1 FROM businesses WHERE code = ? AND active", (b,))]
    window_rules.set_allocation(tx, number, previous)
    tx.conn.execute("UPDATE tidal_assignments SET released_at = ?, released_by = ? WHERE id = ?",
                    (tx.at, tx.actor.label, a["id"]))
    _alert(tx, a["business"], "released", None, number)
    tx.journal("tidal_release", window=number, business=a["business"], data={"restored": previous})
    return {"window": number, "business": a["business"], "restored": previous}


def set_auto(tx: Tx, on: bool) -> None:
    tx.set_meta(AUTO_META, "1" if on else "0")
    tx.journal("tidal_auto", data={"auto_assign": on})


def acknowledge(tx: Tx, alert_id: int | None = None) -> int:
    """Mark one alert (or all) as seen by the acting manager."""
    sql = "UPDATE tidal_alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE acknowledged_at IS NULL"
    params: list[Any] = [tx.at, tx.actor.label]
    if alert_id is not None:
        sql += " AND id = ?"
        params.append(alert_id)
    n = tx.conn.execute(sql, params).rowcount
    if n:
        tx.journal("tidal_alerts_seen", data={"alert": alert_id, "count": n})
    return n


def overview(conn: sqlite3.Connection, settings: TidalSettings, now: datetime,
             queues: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The tidal page: pressure, assignments, tidal windows, recent alerts.

    A business under pressure carries the figures that put it there (``waiting``, ``est_wait_minutes``,
    kept from that moment) and, from ``queues``, its figures now (``now``): the manager judges by those.
    """
    def pressure(r: sqlite3.Row) -> dict[str, Any]:
        q = queues.get(r["business"])
        return {**dict(r), "now": {"waiting": q["waiting"], "est_wait_minutes": q["est_wait_minutes"]} if q else None}
    return {
        "auto_assign": auto_assign(conn, settings), "rules": [r.__dict__ for r in settings.rules],
        "hold_minutes": settings.hold_minutes,
        "pressure": [pressure(r) for r in conn.execute("SELECT * FROM tidal_pressure ORDER BY since")],
        "assignments": [{**dict(r), "previous_serves": json.loads(r["previous_serves"]),
                         "reason": json.loads(r["reason"] or "{}")} for r in conn.execute(
            "SELECT * FROM tidal_assignments WHERE released_at IS NULL ORDER BY assigned_at")],
        "windows": [{**dict(r), "name": json.loads(r["name"])} for r in conn.execute(
            "SELECT number, name, state, staff_id IS NOT NULL AS staffed "
            "FROM windows WHERE active AND kind = 'tidal' ORDER BY number")],
        # a window lent while nobody is signed in there relieves nobody: the alert says so while it lasts
        "alerts": [dict(r) for r in conn.execute(
            "SELECT a.*, w.staff_id IS NOT NULL AS window_staffed FROM tidal_alerts a "
            "LEFT JOIN windows w ON w.number = a.window WHERE a.at >= ? ORDER BY a.id DESC LIMIT 50",
            (iso(now - timedelta(days=1)),))],
        "unseen": conn.execute("SELECT COUNT(*) FROM tidal_alerts WHERE acknowledged_at IS NULL").fetchone()[0],
    }


# -- the desk: one transaction per change (QueueService.tidal) ------------------------------------

class TidalDesk:
    """A manager's tidal moves; every one is one transaction (the automatic switch runs in queue_server.watch)."""

    def __init__(self, service: QueueService) -> None:
        self.service = service

    def assign(self, actor: Actor, number: int, business: str, queue: dict[str, Any] | None = None) -> dict[str, Any]:
        """Lend tidal window ``number`` to ``business``; ``queue``: its figures now, kept as the reason."""
        return self.service._run(actor, None, lambda tx: assign(tx, number, business, queue))

    def release(self, actor: Actor, number: int) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: release(tx, number))

    def set_auto(self, actor: Actor, on: bool) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            set_auto(tx, on)
            return {"auto_assign": on}
        return self.service._run(actor, None, run)

    def acknowledge(self, actor: Actor, alert_id: int | None = None) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: {"seen": acknowledge(tx, alert_id)})
