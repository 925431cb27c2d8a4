"""A resident's full name for the clerk who needs it for the case, on request and journaled.

The privacy rule (docs/privacy.md): no unmasked name on a screen, ticket, topic or log line. The
back office's lists, pages and API views show the masked name (``张*三``) and the masked ID; a clerk
who must check the name against the ID card (出件: the result handed over) asks for it, one case at
a time, and each answer is journaled (``resident_name_viewed``: who, which application or
booking; never the name itself). Least privilege (个人信息保护法 §51, 等保 access control):

* managers (and administrators) may see any case's name;
* a clerk may see it for a case of a business served by a window they are signed in at (the
  business's department at work today), for an application they have already taken a step of
  the case on (their own case: filed it, pre-reviewed it, moved it on; :func:`own_step`), or,
  signed in at a delivery window (统一出件窗口, ``kind = "delivery"``), for an application whose
  result is ready or handed over (出件: the name checked against the ID card);
* anyone else is refused 403 ``not_your_business``, with the way out in the message.

A supplement (补正, which any clerk may record, and which must add something) is no step of the case,
nor is a case sent back from correction to pre-review by itself: neither opens the name.

The same holds for the other people's names an application form holds (fields of type
``person_name``: the baby's, the mother's, a guardian's) and the phones it holds (``phone``: the
mailing recipient's): masked in every view, answered in full with the applicant's name
(``fields``), under the same rule and the same journal entry.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from queue_server.domain import contacts
from queue_server.domain.context import Tx
from queue_server.domain.forms import held_whole
from queue_server.domain.errors import Forbidden
from queue_server.domain.people import item_row


RESULT = ("result_ready", "delivered")  # a delivery window's clerk hands these over


def _serving(conn: sqlite3.Connection, staff_id: int | None) -> set[str]:
    """The businesses served by the windows the staff member is signed in at."""
    if staff_id is None:
        return set()
    return {r["business"] for r in conn.execute(
        "SELECT a.business FROM allocation a JOIN windows w ON w.number = a.window "
        "WHERE w.staff_id = ? AND w.active = 1", (staff_id,))}


def _at_delivery_window(conn: sqlite3.Connection, staff_id: int | None) -> bool:
    return staff_id is not None and conn.execute(
        "SELECT 1 FROM windows WHERE staff_id = ? AND kind = 'delivery' AND active = 1 LIMIT 1",
        (staff_id,)).fetchone() is not None


# The steps that make a case the clerk's own (docs/privacy.md): filing it for the resident, the pre-review, and
# each decision after it. Not a supplement (补正: recording what was handed in, a step anyone on staff may take,
# which changes no status or only returns a case from correction to pre-review), nor the return to pre-review by
# itself (a case in correction sent back with nothing recorded).
OWN_STEPS = ("submitted", "pre_review", "accepted", "correction", "rejected", "result_ready", "delivered")


def is_supplement(data: dict[str, Any]) -> bool:
    """An event that records a supplement: marked so since 2026-12 (``kind``), by its ``fields`` key before."""
    return data.get("kind") == "supplemented" or "fields" in data


def own_step(status: str, before: str | None, data: dict[str, Any]) -> bool:
    """Whether an event (its ``status``, the status ``before`` it, None for the first, its ``data``) is a step that
    makes the case its actor's own."""
    if is_supplement(data) or status not in OWN_STEPS:
        return False
    if status == "submitted":
        return before is None  # the filing
    if status == "pre_review":
        return before == "submitted"  # the pre-review; not a case sent back from correction
    return status != before


def _acted_on(conn: sqlite3.Connection, label: str, application_ids: list[int]) -> bool:
    """Whether ``label`` took one of the steps that make a case theirs (:func:`own_step`) on one of the 办件."""
    if not application_ids:
        return False
    marks = ",".join("?" * len(application_ids))
    rows = conn.execute(f"SELECT application_id, status, actor, data FROM application_events "
                        f"WHERE application_id IN ({marks}) ORDER BY application_id, id", application_ids).fetchall()
    before: dict[int, str] = {}
    for r in rows:
        if r["actor"] == label and own_step(r["status"], before.get(r["application_id"]), json.loads(r["data"] or "{}")):
            return True
        before[r["application_id"]] = r["status"]
    return False


def of_the_case(tx: Tx, businesses: set[str], application_ids: list[int]) -> bool:
    """A manager, or a clerk signed in at a window serving one of ``businesses``, or one who took a step of the case
    (:func:`own_step`): who may see the full name, and send a case in correction back to pre-review by itself."""
    actor = tx.actor
    return actor.is_manager or actor.kind == "staff" and bool(
        businesses & _serving(tx.conn, actor.staff_id) or _acted_on(tx.conn, actor.label, application_ids))


def check_may_see(tx: Tx, businesses: set[str], application_ids: list[int], handing_over: bool = False) -> None:
    """Refuse 403 unless the actor may see the full name of a case of ``businesses`` (``handing_over``: a result
    is ready or was handed over, so a delivery window's clerk may check the name too)."""
    if of_the_case(tx, businesses, application_ids) or (
            tx.actor.kind == "staff" and handing_over and _at_delivery_window(tx.conn, tx.actor.staff_id)):
        return
    raise Forbidden("error.resident_name.not_your_business", code="not_your_business")


def application_name(tx: Tx, row: sqlite3.Row, parts: list[sqlite3.Row], businesses: set[str]) -> dict[str, Any]:
    """The applicant's full name of an application (``row``, ``parts`` = [row]) or a 一件事 package (``row`` the
    package, ``parts`` its applications), the case being of ``businesses``."""
    check_may_see(tx, businesses, [r["id"] for r in parts],
                  handing_over=any(r["status"] in RESULT for r in parts))
    tx.journal("resident_name_viewed", business=next(iter(businesses)) if len(businesses) == 1 else None,
               data={"tracking_no": row["tracking_no"]})
    answer: dict[str, Any] = {"tracking_no": row["tracking_no"], "name": row["applicant_name"],
                              "name_masked": row["name_masked"]}
    if "fields" in row.keys() and row["fields"]:  # other people's names (新生儿, 母亲...) and phones: the same rule
        form = [f for r in parts for f in item_row(tx.conn, r["item"], active_only=False)["guide"].get("form", [])]
        whole = held_whole(form, json.loads(row["fields"]))
        if whole:
            answer["fields"] = whole
    if "mail_to" in row.keys() and row["mail_to"]:  # the waybill is written to the recipient by name and phone
        mail_to = contacts.unseal_mail_to(tx.hall.secret, row["tracking_no"], row["mail_to"]) or {}
        answer["mail_to"] = {k: mail_to.get(k) for k in ("recipient", "phone")}
    return answer


def appointment_name(tx: Tx, a: sqlite3.Row) -> dict[str, Any]:
    """The full name a booking (``a``) was made in."""
    check_may_see(tx, {a["business"]}, [])
    tx.journal("resident_name_viewed", business=a["business"], data={"code": a["code"]})
    return {"code": a["code"], "name": a["name"], "name_masked": a["name_masked"]}
