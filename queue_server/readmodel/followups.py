"""Bad-review follow-ups (差评整改) as managers and clerks read them.

Managers see all; a clerk sees the reviews of the cases they handled. Follow-ups for new bad
ratings are opened by the service (``QueueService.followups.open_pending``) before a list is read.
"""

from __future__ import annotations

from typing import Any

from queue_server.domain import followups as rules
from queue_server.domain.context import Actor
from queue_server.domain.errors import DomainError, Forbidden

WHICH = ("active", "overdue", "appeals", "all")


def check_which(which: str) -> str:
    """``which`` list is asked for: one of :data:`WHICH`, else 400 ``invalid_fields``."""
    if which not in WHICH:
        err = DomainError("error.followup.bad_which", allowed=", ".join(WHICH),
                          code="invalid_fields")
        err.fields = [{"field": "which", "problem": f"must be one of {', '.join(WHICH)}"}]
        raise err
    return which


def visible(actor: Actor, f: dict[str, Any]) -> dict[str, Any]:
    """``f`` if ``actor`` may see it (a manager, or the clerk who handled the case), else 403."""
    if actor.is_manager or f["owner_staff_id"] == actor.staff_id:
        return f
    raise Forbidden("error.followup.only_own", code="not_your_review")


def listing(st, actor: Actor, which: str) -> list[dict[str, Any]]:
    """The follow-ups ``actor`` may see: all for a manager, a clerk's own."""
    with st.db.read() as conn:
        return rules.list_followups(conn, st.hall.now().date(), which,
                                    owner=None if actor.is_manager else actor.staff_id)


def one(st, actor: Actor, followup_id: int) -> dict[str, Any]:
    """One follow-up with its rating and every step, if ``actor`` may see it."""
    with st.db.read() as conn:
        return visible(actor, rules.get_followup(conn, followup_id, st.hall.now().date()))
