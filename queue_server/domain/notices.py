"""Notices (公告) on the boards: a manager puts one up, with a level and an optional end, and takes it down.

Both are journaled (``notice``), which is what makes the publisher send the boards a fresh
notices snapshot.

A notice is stored as it is shown, in every language: one line (control characters out, :func:`strip_controls`:
a NUL cut it short on the boards' ticker) with any ID number in it masked (:func:`scrub_ids`; a hotline's mobile
number is given on purpose): what is stored is what the boards, the ``notices`` topic and ``GET /notices`` show, and a
notice such as "请身份证号520201198506151232的张三到服务台" would put a full ID number on every screen of the hall.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hallq.clock import iso
from hallq.privacy import scrub_ids, strip_controls
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import NotFound

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService


def put_up(tx: Tx, text: dict[str, str], level: str = "info", until: str | None = None) -> int:
    """Show ``text`` (three languages) on the boards until ``until`` (or until taken down); its id.

    ``until`` is kept in the hall's time zone, written as every time of the hall is (:func:`hallq.clock.iso`): the
    boards' query compares it with now as text, which holds only between times written alike (an end given in UTC,
    ``…Z``, once compared as if it were the hall's time)."""
    if until is not None:
        until = iso(datetime.fromisoformat(until).astimezone(tx.now.tzinfo))
    text = shown_text(text)
    row = tx.row("INSERT INTO notices (text, level, until, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                 (json.dumps(text, ensure_ascii=False), level, until, tx.at))
    tx.journal("notice", data={"id": row["id"], "created": True})
    return row["id"]


def shown_text(text: dict[str, str]) -> dict[str, str]:
    """A notice's text in each language as the boards may show it: one line, ID numbers masked (a hotline's mobile
    number stays: a notice gives it on purpose)."""
    return {lang: scrub_ids(strip_controls(t)) for lang, t in text.items()}


def take_down(tx: Tx, notice_id: int) -> None:
    if tx.conn.execute("UPDATE notices SET active = 0 WHERE id = ? AND active", (notice_id,)).rowcount == 0:
        raise NotFound("error.unknown_notice", code="unknown_notice")
    tx.journal("notice", data={"id": notice_id, "deleted": True})


class NoticeDesk:
    """Notices as managers change them (QueueService.notices); every change is one transaction."""

    def __init__(self, service: QueueService) -> None:
        self.service = service

    def create(self, actor: Actor, text: dict[str, str], level: str = "info", until: str | None = None) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: {"id": put_up(tx, text, level, until)})

    def delete(self, actor: Actor, notice_id: int) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            take_down(tx, notice_id)
            return {"deleted": notice_id}
        return self.service._run(actor, None, run)
