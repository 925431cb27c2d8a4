"""Progress of applications (进度查询): what the applicant and the back office see.

The timeline (every status entered, when, and a note in three languages),
the deadlines, and the overdue flag: pre-review still open after 5 working
days, or a decision past the promised or the statutory time limit. Seed 004
§八 asks for exactly this: "充分运用短信推送、办理进度反馈等信息化手段，让申请人适时了解申办事项的办理动态".
Nothing here writes.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from typing import Any

from hallq.i18n import Texts, texts
from hallq.privacy import mask_name, mask_phone
from queue_server.domain.forms import mask_held_whole
from queue_server.domain.people import item_row

OPEN = ("submitted", "pre_review", "accepted", "correction")


def status_name(status: str) -> Texts:
    """An application's status as the applicant reads it: ``domain.progress.<status>`` of ``domain.po``."""
    return texts(f"domain.progress.{status}")


def materials_of(it: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"index": i, "name": m["name"], "form": m.get("form", ""), "copies": m.get("copies", 1),
             "required": m.get("required", True), "note": m.get("note", "")}
            for i, m in enumerate(it["guide"].get("materials", []))]


def missing_required(it: dict[str, Any], provided: list[int]) -> list[dict[str, Any]]:
    return [m for m in materials_of(it) if m["required"] and m["index"] not in provided]


# -- views ------------------------------------------------------------------------------------------

def overdue_kind(app: sqlite3.Row, today: date) -> str | None:
    """``review`` (pre-review past 5 working days), ``statutory`` or ``promised``; None when on time."""
    day = today.isoformat()
    if app["status"] in ("submitted", "pre_review") and app["review_by"] and day > app["review_by"]:
        return "review"
    if app["status"] == "accepted":
        if app["statutory_by"] and day > app["statutory_by"]:
            return "statutory"
        if app["promised_by"] and day > app["promised_by"]:
            return "promised"
    return None


def application_view(conn: sqlite3.Connection, app: sqlite3.Row, today: date, back_office: bool = False
                     ) -> dict[str, Any]:
    """Progress as the applicant may see it (no personal data); with everything for the back office, the name
    masked there too, and the form's names and phones (the full ones only on request, journaled:
    queue_server/domain/resident_names.py)."""
    it = item_row(conn, app["item"], active_only=False)
    provided = json.loads(app["materials"])
    events = conn.execute("SELECT * FROM application_events WHERE application_id = ? ORDER BY id",
                          (app["id"],)).fetchall()
    timeline = []
    for e in events:
        entry = {"status": e["status"], "status_name": status_name(e["status"]), "at": e["at"],
                 "note": json.loads(e["note"])}
        if back_office:
            entry.update(actor=e["actor"], data=json.loads(e["data"]))
        timeline.append(entry)
    kind = overdue_kind(app, today)
    correction = json.loads(app["correction"]) if app["correction"] else None
    view: dict[str, Any] = {
        "tracking_no": app["tracking_no"], "item": app["item"], "item_name": it["name"], "business": app["business"],
        "status": app["status"], "status_name": status_name(app["status"]), "submitted_at": app["submitted_at"],
        "timeline": timeline, "review_by": app["review_by"], "promised_by": app["promised_by"],
        "statutory_by": app["statutory_by"], "deadline_basis": app["deadline_basis"], "overdue": kind is not None,
        "overdue_kind": kind, "delivery": delivered_by(app), "decision": app["decision"],
        "package_no": package_no(conn, app),
        "correction": ({"missing": correction["missing"], "reason": correction["reason"], "at": correction["at"]}
                       if correction and app["status"] == "correction" else None),
        "missing_required": [m["name"] for m in missing_required(it, provided)],
        "origin": origin_of(app),
    }
    if back_office:
        view.update(
            applicant={"name": app["name_masked"], "id": app["id_masked"], "phone": app["phone_masked"]},
            fields=mask_held_whole(it["guide"].get("form", []), json.loads(app["fields"])),
            materials_provided=provided, materials=materials_of(it),
            mail_to=masked_mail_to(app), source=app["source"],
            accepted_at=app["accepted_at"], result_at=app["result_at"], delivered_at=app["delivered_at"],
            waybill=app["waybill"], correction_history=correction, updated_at=app["updated_at"],
            delivery_chosen=app["delivery"], department=it["guide"].get("department", ""),
            handed_to=json.loads(app["handed_to"]) if app["handed_to"] else None)
    return view


def origin_of(app: sqlite3.Row) -> dict[str, Any] | None:
    """来自 XX村便民服务站: the village station an application was routed from (queue_server/domain/routing.py);
    None for one taken in here."""
    if app["origin_site"] is None:
        return None
    name = json.loads(app["origin_name"] or "{}")
    return {"site": app["origin_site"], "tracking_no": app["origin_no"], "name": name,
            "label": texts("routing.origin", origin=name.get("zh-Hans") or app["origin_site"])}


def masked_mail_to(app: sqlite3.Row) -> dict[str, Any] | None:
    """Where the result is mailed, as the back office's views show it: the recipient's name and phone masked (the
    full ones only on request, journaled: queue_server/domain/resident_names.py)."""
    if not app["mail_to"]:
        return None
    mail_to = json.loads(app["mail_to"])
    mail_to.pop("phone_sealed", None)  # the full phone, sealed at rest: only resident_names.application_name opens it
    if mail_to.get("recipient"):
        mail_to["recipient"] = mask_name(mail_to["recipient"])
    if mail_to.get("phone") and "*" not in mail_to["phone"]:
        mail_to["phone"] = mask_phone(mail_to["phone"])
    return mail_to


def delivered_by(app: sqlite3.Row) -> str:
    """How the result went (or will go): the method used once delivered, else the applicant's choice."""
    return app["delivered_by_method"] or app["delivery"]


def package_no(conn: sqlite3.Connection, app: sqlite3.Row) -> str | None:
    """The tracking number of the 一件事 package an application is part of (None: filed alone)."""
    if app["package_id"] is None:
        return None
    row = conn.execute("SELECT tracking_no FROM package_applications WHERE id = ?", (app["package_id"],)).fetchone()
    return row["tracking_no"] if row else None


def brief_view(conn: sqlite3.Connection, app: sqlite3.Row, today: date, back_office: bool = False) -> dict[str, Any]:
    it = item_row(conn, app["item"], active_only=False)
    kind = overdue_kind(app, today)
    view = {"tracking_no": app["tracking_no"], "item": app["item"], "item_name": it["name"], "status": app["status"],
            "status_name": status_name(app["status"]), "submitted_at": app["submitted_at"],
            "promised_by": app["promised_by"], "overdue": kind is not None, "overdue_kind": kind,
            "package_no": package_no(conn, app), "origin": origin_of(app)}
    if back_office:
        view.update(name=app["name_masked"], name_masked=app["name_masked"], id_masked=app["id_masked"],
                    delivery=delivered_by(app),
                    department=it["guide"].get("department", ""),
                    updated_at=app["updated_at"])
    return view


def search(conn: sqlite3.Connection, today: date, status: str | None = None, item: str | None = None,
           business: str | None = None, overdue: bool | None = None, id_hash: str | None = None,
           limit: int = 100, offset: int = 0, statuses: tuple[str, ...] | None = None) -> list[sqlite3.Row]:
    """Applications by filter, newest first (the back office's list; a person's own list by ``id_hash``);
    ``statuses``: any of these (the back office's to-do list: the open ones, however many closed ones are newer)."""
    where, params = [], []
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += list(statuses)
    for column, value in (("status", status), ("item", item), ("business", business), ("id_hash", id_hash)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if overdue is not None:
        where.append(f"status IN ({','.join('?' * len(OPEN))})")
        params += OPEN
    sql = "SELECT * FROM applications" + (" WHERE " + " AND ".join(where) if where else "") + \
          " ORDER BY submitted_at DESC, id DESC"
    if overdue is None:
        return conn.execute(sql + " LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
    rows = [r for r in conn.execute(sql, params) if (overdue_kind(r, today) is not None) == overdue]
    return rows[offset:offset + limit]
