"""领取结果: a resident whose result is ready comes to the hall and is called to the 出件 window.

Seed 004 §四 sends every result, approval or refusal, to the hall's 统一出件 window. A result ready for
collection on site does not make the resident queue like a newcomer: at the kiosk they scan the receipt's QR
(or read their ID card), the progress screen offers 领取结果, and the ID card read there proves the case is
theirs (the tracking number is no proof: it is printed on the receipt). The hall issues a number of the
delivery business (the business its ``kind = "delivery"`` windows serve) in the appointment class, since the
hall asked them to come: the board calls it like any number ("请 E003 到 19号出件窗口"), and the clerk there
hands the result over with the identity check of ``transition_application`` (docs/applications.md).

One transaction: the ticket (journaled ``issue`` like any) and ``result_collection`` naming the tracking
number, the ticket and how many results are waiting, never the person.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from queue_server.domain import applications as apps
from queue_server.domain import tickets as ticket_rules
from queue_server.domain.context import APPOINTMENT, Tx
from queue_server.domain.errors import Conflict, Forbidden
from queue_server.domain.people import parse_person


def ready_for_collection(rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """The parts (or the one application) whose result waits at the 出件 window to be handed over on site."""
    return [r for r in rows if r["status"] == "result_ready" and r["delivery"] == "onsite"]


def delivery_business(tx: Tx) -> str:
    """The business the hall's 出件 windows serve (their primary one); 409 when the hall has no such window."""
    row = tx.one("SELECT a.business FROM windows w JOIN allocation a ON a.window = w.number "
                 "JOIN businesses b ON b.code = a.business AND b.active "
                 "WHERE w.kind = 'delivery' AND w.active ORDER BY a.rank, w.number LIMIT 1")
    if row is None:
        raise Conflict("error.applications.no_delivery_window", code="no_delivery_window")
    return str(row["business"])


def collect(tx: Tx, tracking_no: str, id_number: str | None) -> tuple[sqlite3.Row, dict[str, Any]]:
    """A number for the 出件 window for the applicant of ``tracking_no`` (an application or a package)."""
    pkg = tx.one("SELECT * FROM package_applications WHERE tracking_no = ?", (apps.normalise_tracking_no(tracking_no),))
    case = pkg if pkg is not None else apps.find(tx.conn, tracking_no)
    rows = [case] if pkg is None else tx.conn.execute(
        "SELECT * FROM applications WHERE package_id = ? ORDER BY id", (pkg["id"],)).fetchall()
    if not id_number:
        raise Forbidden("error.applications.collect_needs_id", code="not_yours")
    if parse_person(tx, None, id_number, None).id_hash != case["id_hash"]:
        raise Forbidden("error.applications.id_mismatch", code="not_yours")
    ready = ready_for_collection(rows)
    if not ready:
        raise Conflict("error.applications.nothing_to_collect", code="nothing_to_collect")
    business = delivery_business(tx)
    ticket = ticket_rules.issue_ticket(tx, business, klass=APPOINTMENT, identity=(case["id_hash"], case["id_masked"]))
    data = {"tracking_no": case["tracking_no"], "ready": len(ready), "parts": [r["tracking_no"] for r in ready]}
    tx.journal("result_collection", ticket=ticket, business=business, data=data)
    return ticket, data
