"""Asking the resident for a rating (邀请评价) at a window's rating tablet or pad.

The clerk may *ask*, never rate (staff accounts are refused by
:func:`queue_server.domain.ratings.rate`). Asking lights the window's tablet
(``/rate/<window>``) or pad (through the device gateway, which polls the same
endpoint): both read :func:`prompt_for_window`.

What the tablet offers to rate is the service this window finished last,
recently (``ratings.RECENT_MINUTES``), not yet rated and not declined, and only
until the window calls anyone after it (a next resident, a held one called back),
whatever became of that call since (served, no-show, transferred): the next
resident at the window is never shown the previous one's service, even when the
clerk had asked. The resident may decline (不评价, :func:`decline`): the tablet then
stops offering that service; they may still rate it later from the ticket's phone
page within the rating period (one rating per case and stage, never pressed).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from queue_server.domain import windows as window_rules
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Forbidden, NotFound
from queue_server.domain.ratings import RECENT_MINUTES, no_longer_offered, ticket_to_rate_at_window

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService, RequestKey


def ask_for_rating(tx: Tx, number: int) -> dict[str, Any]:
    """Journal a prompt for the ticket this window just finished (404 nothing_to_rate when none)."""
    w = window_rules.get_window(tx, number)
    window_rules.authorize(tx, w)
    ticket = ticket_to_rate_at_window(tx, number)
    tx.journal("rating_prompt", ticket=ticket, window=number)
    return {"window": number, "ticket": ticket["label"], "prompted_at": tx.at}


def decline(tx: Tx, number: int) -> dict[str, Any]:
    """The resident at the window's tablet declines to rate the service it offers (不评价): journaled, and the tablet
    offers it no more (404 nothing_to_rate when it offers nothing)."""
    check_bound(tx.actor, number)
    window_rules.get_window(tx, number)
    ticket = _rateable(tx.conn, number, tx.day, tx.now)
    if ticket is None or no_longer_offered(tx.conn, number, ticket):
        raise NotFound("error.nothing_to_rate", code="nothing_to_rate")
    tx.journal("rating_declined", ticket=ticket, window=number)
    return {"window": number, "ticket": ticket["label"], "declined_at": tx.at}


def decline_at_window(service: QueueService, actor: Actor, number: int, request: RequestKey | None = None
                      ) -> dict[str, Any]:
    """:func:`decline` in its own transaction (the tablet's 不评价 button)."""
    return service._run(actor, request, lambda tx: decline(tx, number))


def _rateable(conn: sqlite3.Connection, number: int, day: str, now: datetime) -> sqlite3.Row | None:
    row = conn.execute(
        "SELECT t.* FROM tickets t WHERE t.window = ? AND t.state = 'done' AND t.business_day = ? "
        "AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.ticket_id = t.id AND r.stage = 'window') "
        "ORDER BY t.finished_at DESC, t.id DESC LIMIT 1", (number, day)).fetchone()
    if row is None or (now - datetime.fromisoformat(row["finished_at"])).total_seconds() > RECENT_MINUTES * 60:
        return None
    return row


def prompt_for_window(conn: sqlite3.Connection, number: int, now: datetime, businesses: dict[str, Any]
                      ) -> dict[str, Any]:
    """What the window's rating tablet shows now: a service to rate (and whether the clerk asked), or nothing."""
    day = now.date().isoformat()
    ticket = _rateable(conn, number, day, now)
    if ticket is None or no_longer_offered(conn, number, ticket):
        return {"window": number, "ticket": None, "prompted": False, "prompted_at": None}
    prompted_at = None
    p = conn.execute("SELECT at, ticket_id FROM journal INDEXED BY journal_rating_prompts "
                     "WHERE window = ? AND action = 'rating_prompt' ORDER BY seq DESC LIMIT 1",
                     (number,)).fetchone()
    if p is not None and p["ticket_id"] == ticket["id"]:
        prompted_at = p["at"]
    b = businesses.get(ticket["business"], {})
    name = b.get("name")
    return {"window": number, "prompted": prompted_at is not None, "prompted_at": prompted_at,
            "ticket": {"ticket": ticket["label"], "business": ticket["business"],
                       "business_name": json.loads(name) if isinstance(name, str) else name,
                       "finished_at": ticket["finished_at"]}}


def check_bound(actor: Actor, number: int) -> None:
    if number not in actor.windows:
        raise Forbidden("error.not_bound_here", number=number, code="not_bound_here")
