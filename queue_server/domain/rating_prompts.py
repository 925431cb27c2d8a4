"""Asking the resident for a rating (邀请评价) at a window's rating tablet or pad.

The clerk may *ask*, never rate (staff accounts are refused by
:func:`queue_server.domain.ratings.rate`). Asking lights the window's tablet
(``/rate/<window>``) or pad (through the device gateway, which polls the same
endpoint): both read :func:`prompt_for_window`.

What the tablet offers to rate is the service this window finished last,
recently (``ratings.RECENT_MINUTES``), not yet rated. It offers it when the
clerk asked, or on its own while the window has not called anyone new yet, so
the next resident at the window is not shown the previous one's service.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from queue_server.domain import windows as window_rules
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Forbidden
from queue_server.domain.ratings import RECENT_MINUTES, ticket_to_rate_at_window


def ask_for_rating(tx: Tx, number: int) -> dict[str, Any]:
    """Journal a prompt for the ticket this window just finished (404 nothing_to_rate when none)."""
    w = window_rules.get_window(tx, number)
    window_rules.authorize(tx, w)
    ticket = ticket_to_rate_at_window(tx, number)
    tx.journal("rating_prompt", ticket=ticket, window=number)
    return {"window": number, "ticket": ticket["label"], "prompted_at": tx.at}


def _rateable(conn: sqlite3.Connection, number: int, day: str, now: datetime) -> sqlite3.Row | None:
    row = conn.execute(
        "SELECT t.* FROM tickets t WHERE t.window = ? AND t.state = 'done' AND t.business_day = ? "
        "AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.ticket_id = t.id AND r.stage = 'window') "
        "ORDER BY t.finished_at DESC LIMIT 1", (number, day)).fetchone()
    if row is None or (now - datetime.fromisoformat(row["finished_at"])).total_seconds() > RECENT_MINUTES * 60:
        return None
    return row


def prompt_for_window(conn: sqlite3.Connection, number: int, now: datetime, businesses: dict[str, Any]
                      ) -> dict[str, Any]:
    """What the window's rating tablet shows now: a service to rate (and whether the clerk asked), or nothing."""
    day = now.date().isoformat()
    ticket = _rateable(conn, number, day, now)
    prompted_at = None
    show = False
    if ticket is not None:
        p = conn.execute("SELECT at, ticket_id FROM journal INDEXED BY journal_rating_prompts "
                         "WHERE window = ? AND action = 'rating_prompt' ORDER BY seq DESC LIMIT 1",
                         (number,)).fetchone()
        if p is not None and p["ticket_id"] == ticket["id"]:
            prompted_at = p["at"]
        newer_call = conn.execute(
            "SELECT 1 FROM tickets INDEXED BY tickets_at_window WHERE window = ? AND state IN ('called', 'serving') "
            "AND called_at >= ?", (number, ticket["finished_at"])).fetchone()
        show = prompted_at is not None or newer_call is None
    if not show or ticket is None:  # shown only for a ticket
        return {"window": number, "ticket": None, "prompted": False, "prompted_at": None}
    b = businesses.get(ticket["business"], {})
    name = b.get("name")
    return {"window": number, "prompted": prompted_at is not None, "prompted_at": prompted_at,
            "ticket": {"ticket": ticket["label"], "business": ticket["business"],
                       "business_name": json.loads(name) if isinstance(name, str) else name,
                       "finished_at": ticket["finished_at"]}}


def check_bound(actor: Actor, number: int) -> None:
    if number not in actor.windows:
        raise Forbidden("error.not_bound_here", number=number, code="not_bound_here")
