"""Applications (前台综合受理) and their progress (进度跟踪).

Seed 004 §四 is the model: the front desk pre-reviews (预审); an application
with missing or wrong materials gets ONE correction notice listing
everything (补齐补正通知, 一次性告知); a complete one is accepted and routed
to the back office, which decides within the promised time limit; results
(approvals and refusals alike) return to the delivery window (统一出件窗口)
and are handed over on site or mailed free, at the applicant's choice.

The state machine (docs/applications.md)::

    submitted → pre_review → accepted → result_ready → delivered
                           ↘ correction → pre_review (the applicant supplements)
                           ↘ rejected (不予受理)

Deadlines are dates counted in working days (行政许可法 第八十二条): pre-review
within 5 (第三十二条: 五日内一次告知), then the item's promised and statutory
days from acceptance. Every change is journaled with who made it, and
appended to the timeline the applicant sees.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import date
from typing import TYPE_CHECKING, Any

from hallq.i18n import languages, pick, text
from hallq.privacy import scrub_text
from queue_server.domain import contacts
from queue_server.domain.app_deadlines import package_clock, review_due
from queue_server.domain.app_notices import correction_notice
from queue_server.domain.appointments import ALPHABET
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Conflict, DomainError, Forbidden, NotFound, messages
from queue_server.domain.forms import check_fields
from queue_server.domain.people import Problem, invalid, item_row, parse_person, person_problems
from queue_server.domain.progress import (application_view, brief_view, materials_of, missing_required, search,
                                          status_name)

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService, RequestKey

TRANSITIONS = {
    "submitted": ("pre_review",),
    "pre_review": ("accepted", "correction", "rejected"),
    "correction": ("pre_review", "rejected"),
    "accepted": ("result_ready",),
    "result_ready": ("delivered",),
}


def new_tracking_no(day: date) -> str:
    return f"SQ{day:%Y%m%d}-" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def normalise_tracking_no(raw: str) -> str:
    return "".join((raw or "").split()).upper()


def unknown_application() -> NotFound:
    return NotFound("error.unknown_application", code="unknown_application")


def find(conn: sqlite3.Connection, tracking_no: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM applications WHERE tracking_no = ?",
                       (normalise_tracking_no(tracking_no),)).fetchone()
    if row is None:
        raise unknown_application()
    return row


def applicable_item(conn: sqlite3.Connection, code: str) -> dict[str, Any]:
    """An item that takes applications here (it has a form); 409 otherwise."""
    it = item_row(conn, code)
    if "form" not in it["guide"]:
        raise Conflict("error.no_form", code="no_form", detail={"item": code})
    return it


def _materials_problems(it: dict[str, Any], materials: list[int]) -> list[Problem]:
    count = len(it["guide"].get("materials", []))
    return [(f"materials[{j}]", "unknown_material", messages("error.applications.unknown_material", index=i))
            for j, i in enumerate(materials) if not 0 <= i < count]


def _deadlines(tx: Tx, it: dict[str, Any], start: date) -> tuple[str | None, str | None]:
    cal = tx.hall.config.calendar
    g = it["guide"]
    promised = cal.add_workdays(start, g["promised_days"]).isoformat() if "promised_days" in g else None
    statutory = cal.add_workdays(start, g["statutory_days"]).isoformat() if "statutory_days" in g else None
    return promised, statutory


def _event(tx: Tx, app_id: int, status: str, note: dict[str, str], data: dict[str, Any] | None = None) -> None:
    tx.conn.execute("INSERT INTO application_events (application_id, status, at, actor, note, data) "
                    "VALUES (?,?,?,?,?,?)", (app_id, status, tx.at, tx.actor.label,
                                             json.dumps(note, ensure_ascii=False), json.dumps(data or {},
                                                                                           ensure_ascii=False)))


# -- submitting ---------------------------------------------------------------------------------

def submit(tx: Tx, item_code: str, applicant: dict[str, str], fields: dict[str, Any], materials: list[int],
           delivery: str, address: str | None) -> tuple[sqlite3.Row, dict[str, Any]]:
    """Take an application in; return its row and its item. Every bad field is reported at once (400)."""
    it = applicable_item(tx.conn, item_code)
    person, problems = person_problems(tx, applicant.get("name", ""), applicant.get("id_number", ""),
                                       applicant.get("phone", ""), prefix="applicant.")
    clean, form_problems = check_fields(it["guide"]["form"], fields, tx.now.date())
    problems += form_problems + _materials_problems(it, materials)
    address = " ".join((address or "").split())
    if delivery == "mail" and not 5 <= len(address) <= 200:
        problems.append(("address", "address_required", messages("error.applications.address_required")))
    if problems:
        raise invalid(problems, status=400, code="invalid_fields")
    assert person is not None
    mail_to = {"recipient": person.name, "phone": person.phone, "address": address} if delivery == "mail" else None
    row = None
    for _ in range(10):  # random numbers clash about once in 10^11 draws
        try:
            row = insert(tx, it, person, clean, materials, delivery, mail_to, new_tracking_no(tx.now.date()))
            break
        except sqlite3.IntegrityError as e:
            if "tracking_no" not in str(e):
                raise
    if row is None:
        raise RuntimeError("could not draw an unused tracking number in 10 tries")
    return row, it


def insert(tx: Tx, it: dict[str, Any], person: Any, clean: dict[str, Any], materials: list[int], delivery: str,
           mail_to: dict[str, str] | None, tracking_no: str, package_id: int | None = None) -> sqlite3.Row:
    """One 办件, checked already: its row, its first event and its journal entry (a package's part too)."""
    provided = sorted(set(materials))
    today = tx.now.date()
    promised, statutory = _deadlines(tx, it, today)
    row = tx.row(
        "INSERT INTO applications (tracking_no, item, business, status, applicant_name, name_masked, id_hash, "
        "id_masked, phone_hash, phone_masked, fields, materials, delivery, mail_to, submitted_at, review_by, "
        "promised_by, statutory_by, source, updated_at, package_id) "
        "VALUES (?,?,?,'submitted',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
        (tracking_no, it["code"], it["business"], person.name, person.name_masked, person.id_hash,
         person.id_masked, person.phone_hash, person.phone_masked, json.dumps(clean, ensure_ascii=False),
         json.dumps(provided), delivery,
         json.dumps(contacts.seal_mail_to(tx.hall.secret, tracking_no, mail_to), ensure_ascii=False) if mail_to else None,
         tx.at,
         review_due(tx.hall.config.calendar, today), promised, statutory,
         tx.actor.label, tx.at, package_id))
    missing = missing_required(it, provided)
    _event(tx, row["id"], "submitted", _note("submitted"), {"missing_required": [m["index"] for m in missing]})
    tx.journal("application_submitted", business=it["business"],
               data={"tracking_no": row["tracking_no"], "item": it["code"], "missing_required": len(missing),
                     "delivery": delivery, **({"department": it["guide"]["department"]}
                                              if it["guide"].get("department") else {})})
    return row


# -- the back office: transitions and supplements -------------------------------------------------

def transition(tx: Tx, tracking_no: str, to: str, reason: str = "", missing: list[str] | None = None,
               delivery: dict[str, str] | None = None, decision: str | None = None,
               package_checked: bool = False) -> sqlite3.Row:
    """Move an application on (staff); the timeline and the journal record who did it. ``package_checked``: a step
    of the comprehensive window's review of a whole 一件事 package, which checked the package's one notice itself."""
    if tx.actor.kind not in ("staff", "system"):
        raise Forbidden("error.applications.staff_only", code="staff_only")
    # the clerk's words go to the resident's timeline, the journal (and so the county): an ID or phone number
    # typed into them is masked before it is stored, as a rating's comment is
    reason = scrub_text(reason) if reason else reason
    app = find(tx.conn, tracking_no)
    it = item_row(tx.conn, app["item"], active_only=False)
    if app["status"] == "submitted" and to in TRANSITIONS["pre_review"]:
        # the clerk reviews and decides in one go: the timeline still shows the pre-review
        _move(tx, app, "pre_review", _note("pre_review"), {})
        app = find(tx.conn, app["tracking_no"])
    if to not in TRANSITIONS.get(app["status"], ()):
        raise Conflict("error.invalid_transition", current=status_name(app["status"]), to=status_name(to),
                       code="invalid_transition",
                       detail={"from": app["status"], "to": to, "allowed": list(TRANSITIONS.get(app["status"], ()))})
    provided = json.loads(app["materials"])
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {"reason": reason} if reason else {}
    if to == "accepted":
        lacking = missing_required(it, provided)
        if lacking:
            names = "、".join(m["name"] for m in lacking)
            raise Conflict("error.materials_missing", names=names, code="materials_missing",
                           detail={"missing": [m["index"] for m in lacking]})
        promised, statutory = _deadlines(tx, it, tx.now.date())
        changes = {"accepted_at": tx.at, "promised_by": promised, "statutory_by": statutory,
                   "deadline_basis": "accepted"}
        note = _note("accepted", promised=promised)
    elif to == "correction":
        notice = correction_notice(tx, app, it, missing or [], reason, package_checked)
        changes = {"correction": json.dumps(notice, ensure_ascii=False)}
        data["missing"] = notice["missing"]
        names = notice["missing"]
        note = _note("correction", reason=reason.strip(), items={
            lang: text("domain.application.note.items_separator", lang).join(pick(m["name"], lang) for m in names)
            for lang in languages()})
    elif to == "rejected":
        if not reason.strip():
            raise _reason_required()
        note = _note("rejected", reason=reason.strip())
    elif to == "result_ready":
        decision = decision or "approved"
        changes = {"result_at": tx.at, "decision": decision}
        data["decision"] = decision
        note = _note("result_ready_mail" if app["delivery"] == "mail" else "result_ready_onsite")
    elif to == "delivered":
        changes, more = _delivery(tx, app, delivery or {})
        data.update(more)
        note = (_note("delivered_mail", waybill=changes["waybill"]) if changes["delivered_by_method"] == "mail"
                else _note("delivered_onsite"))
    elif app["status"] == "correction":  # pre_review again: the applicant brought the corrections to the window
        _check_may_reopen(tx, app)
        note = _note("pre_review_again")
        changes = {"review_by": review_due(tx.hall.config.calendar, tx.now.date())}
    else:  # the pre-review itself: its 5 working days count from the submission (not restarted here)
        note = _note("pre_review")
    return _move(tx, app, to, note, data, changes)


def _check_may_reopen(tx: Tx, app: sqlite3.Row) -> None:
    """A case in correction goes back to pre-review by itself (nothing recorded: the applicant showed the corrections
    the notice asked for in its own words) only by a clerk of the case: one signed in at a window serving its
    business, or who took a step of it (filed, pre-reviewed, sent the notice...), or a manager; a clerk who has
    nothing to do with it records what was handed in (``supplement``) instead. Such a return alone never makes the
    case a clerk's own (resident_names.own_step), so it cannot be a way to the resident's full name."""
    from queue_server.domain.resident_names import of_the_case

    if tx.actor.kind == "staff" and not of_the_case(tx, {app["business"]}, [app["id"]]):
        raise Forbidden("error.applications.reopen_not_your_case", code="not_your_case")


def _delivery(tx: Tx, app: sqlite3.Row, delivery: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """統一出件: mailed with a waybill to an address on file (or given now), or handed over on site to the
    applicant or a proxy whose ID card the clerk checked (recorded masked: 身份核验)."""
    method = delivery.get("method") or app["delivery"]
    if method == "mail":
        waybill = (delivery.get("waybill") or "").strip()
        if not waybill:
            raise Conflict("error.waybill_required", code="waybill_required")
        mail_to = json.loads(app["mail_to"]) if app["mail_to"] else None
        address = " ".join((delivery.get("address") or "").split())
        if address:
            if not 5 <= len(address) <= 200:
                raise invalid([("delivery.address", "address_required",
                                messages("error.applications.address_required"))], status=400, code="invalid_fields")
            mail_to = {"recipient": app["applicant_name"], "phone": app["phone_masked"], **(mail_to or {}),
                       "address": address}
        if mail_to is None:
            raise invalid([("delivery.address", "address_required", messages("error.applications.address_required"))],
                          status=409, code="address_required")
        return ({"delivered_at": tx.at, "delivered_by_method": "mail", "waybill": waybill,
                 "mail_to": json.dumps(mail_to, ensure_ascii=False)}, {"method": "mail", "waybill": waybill})
    collector = delivery.get("collector") or "applicant"
    id_number = (delivery.get("id_number") or "").strip()
    if not id_number:
        raise invalid([("delivery.id_number", "id_check_required", messages("error.applications.id_check_required"))],
                      status=409, code="id_check_required")
    person = parse_person(tx, (delivery.get("name") or "") if collector == "proxy" else None, id_number, None,
                          prefix="delivery.")
    if collector == "applicant" and person.id_hash != app["id_hash"]:
        raise Forbidden("error.applications.collector_not_applicant", code="not_the_applicant")
    handed = {"collector": collector, "id_masked": person.id_masked,
              "name_masked": person.name_masked if collector == "proxy" else app["name_masked"]}
    return ({"delivered_at": tx.at, "delivered_by_method": "onsite", "waybill": None,
             "handed_to": json.dumps(handed, ensure_ascii=False)}, {"method": "onsite", "handed_to": handed})


def _move(tx: Tx, app: sqlite3.Row, to: str, note: dict[str, str], data: dict[str, Any],
          changes: dict[str, Any] | None = None) -> sqlite3.Row:
    sets = {"status": to, "updated_at": tx.at, **(changes or {})}
    row = tx.row(f"UPDATE applications SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ? RETURNING *",
                 (*sets.values(), app["id"]))
    _event(tx, app["id"], to, note, data)
    tx.journal(f"application_{to}", business=app["business"],
               data={"tracking_no": app["tracking_no"], "from": app["status"], **data})
    if app["package_id"] is not None and to != app["status"] and "correction" in (to, app["status"]):
        # a part of a 一件事 package entered or left correction: its siblings' pre-review clock stops or starts again
        package_clock(tx, app["package_id"])
        row = tx.row("SELECT * FROM applications WHERE id = ?", (app["id"],))
    return row


def _reason_required() -> DomainError:
    err = DomainError("error.reason_required", code="reason_required", status=400)
    err.fields = [{"field": "reason", "problem": "is required"}]
    return err


def supplement(tx: Tx, tracking_no: str, materials: list[int], fields: dict[str, Any],
               id_number: str | None = None, must_add: bool = True, package_share: bool = False) -> sqlite3.Row:
    """The applicant supplies what the notice asked for (补正): back to pre-review.

    Only the applicant changes their application: from a kiosk (or any caller but staff) the
    applicant's ID number is required and must match, the same proof that finds one's own
    applications; a tracking number alone, printed on a receipt, is not proof. Staff record
    materials handed in at the window, the applicant in front of them. A supplement must add
    something (an answer that differs from the one on file, a material not recorded yet): one
    that adds nothing is refused (400 ``nothing_supplied``) and writes nothing. (``must_add``
    False: one part of a 一件事 package's supplement, which adds something to another part.)

    Recorded while the case is ``submitted`` or ``pre_review`` (staff, or a package's supplement reaching a part still
    waiting: ``package_share``) it is just that: the status, its timeline and the pre-review's ``review_by`` stay as
    they are, and the journal says ``application_pre_review`` with ``kind: supplemented`` and ``from`` the status,
    as for a supplement from correction (never a second ``application_submitted``: the county's hand-off reads the
    last one as the filing).
    """
    app = find(tx.conn, tracking_no)
    if id_number is None and tx.actor.kind != "staff":
        raise Forbidden("error.applications.supplement_needs_id", code="not_yours")
    if id_number is not None and parse_person(tx, None, id_number, None).id_hash != app["id_hash"]:
        raise Forbidden("error.applications.id_mismatch", code="not_yours")
    allowed = ("correction",) if tx.actor.kind != "staff" and not package_share else \
        ("submitted", "pre_review", "correction")
    if app["status"] not in allowed:
        raise Conflict("error.not_in_correction", code="not_in_correction",
                       detail={"status": app["status"]})
    it = item_row(tx.conn, app["item"], active_only=False)
    form = it["guide"].get("form", [])
    if package_share and not form:  # it takes every answer of its package's form, checked against it (一表申请)
        clean, problems = dict(fields), list[Problem]()
    else:
        clean, problems = check_fields(form, fields, tx.now.date(), partial=True)
    problems += _materials_problems(it, materials)
    if problems:
        raise invalid(problems, status=400, code="invalid_fields")
    if must_add and not adds_anything(app, clean, materials):
        raise nothing_supplied()
    merged = {**json.loads(app["fields"]), **clean}
    provided = sorted(set(json.loads(app["materials"])) | set(materials))
    changes = {"fields": json.dumps(merged, ensure_ascii=False), "materials": json.dumps(provided)}
    # "kind" tells a supplement's event from a step of the case (resident_names.own_step: not a way to the name)
    data = {"kind": "supplemented", "materials": sorted(set(materials)), "fields": sorted(clean)}
    if app["status"] == "correction":  # back to pre-review, with 5 working days again
        changes["review_by"] = review_due(tx.hall.config.calendar, tx.now.date())
        return _move(tx, app, "pre_review", _note("supplemented"), data, changes)
    row = tx.row(f"UPDATE applications SET {', '.join(f'{k} = ?' for k in changes)}, updated_at = ? WHERE id = ? "
                 "RETURNING *", (*changes.values(), tx.at, app["id"]))
    tx.journal("application_pre_review", business=app["business"],
               data={"tracking_no": app["tracking_no"], "from": app["status"], **data})
    return row


def adds_anything(app: sqlite3.Row, clean: dict[str, Any], materials: list[int]) -> bool:
    """Whether a supplement of checked ``clean`` answers and ``materials`` changes the application: an answer that
    differs from the one on file, or a material not recorded yet."""
    on_file = json.loads(app["fields"])
    return any(on_file.get(k) != v for k, v in clean.items()) or bool(set(materials) - set(json.loads(app["materials"])))


def nothing_supplied() -> DomainError:
    """A supplement that adds nothing is refused and writes nothing: it would be a step on the case that does
    nothing (and, before 2026-12, one that opened the resident's full name to any clerk who took it)."""
    err = DomainError("error.applications.nothing_supplied", code="nothing_supplied", status=400)
    err.fields = [{"field": "fields", "problem": "changes nothing"}, {"field": "materials", "problem": "adds nothing"}]
    return err


# -- notes the applicant reads ---------------------------------------------------------------------

def _note(kind: str, reason: str = "", **kw: Any) -> dict[str, str]:
    """The note ``domain.application.note.<kind>`` (catalogue ``domain.po``), and the clerk's ``reason`` after it."""
    if kind == "accepted" and not kw.get("promised"):
        kind = "accepted_no_date"
    key = f"domain.application.note.{kind}"
    note = messages(key, reason=reason, **kw)
    if reason and "{reason}" not in text(key):  # the clerk's explanation, in the words they wrote
        note = messages("domain.application.note.explained", note=note, reason=reason)
    return note



# -- the desk: one transaction per call (QueueService.applications) ---------------------------------

class ApplicationDesk:
    """Applications as the API and the back office use them; every change is one transaction."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.hall = service.hall

    def _today(self) -> date:
        return self.hall.now().date()

    def form(self, item: str) -> dict[str, Any]:
        """An item's form and materials checklist (GET /items/{code}/form)."""
        from queue_server.domain.forms import public_form

        with self.service.db.read() as conn:
            it = applicable_item(conn, item)
        g = it["guide"]
        return {"item": item, "item_name": it["name"], "business": it["business"],
                "fields": public_form(g["form"]), "materials": materials_of(it),
                "promised_days": g.get("promised_days"), "statutory_days": g.get("statutory_days"),
                "fee": g.get("fee"), "delivery": ["onsite", "mail"], "mail_free": True}

    def submit(self, actor: Actor, item: str, applicant: dict[str, str], fields: dict[str, Any], materials: list[int],
               delivery: str, address: str | None = None, request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            row, it = submit(tx, item, applicant, fields, materials, delivery, address)
            view = application_view(tx.conn, row, tx.now.date())
            view["applicant"] = {"name": row["name_masked"], "id": row["id_masked"], "phone": row["phone_masked"]}
            return view
        return self.service._run(actor, request, run)

    def get(self, tracking_no: str, back_office: bool = False) -> dict[str, Any]:
        with self.service.db.read() as conn:
            return application_view(conn, find(conn, tracking_no), self._today(), back_office)

    def of_person(self, id_number: str) -> list[dict[str, Any]]:
        """A resident's own applications, found by the ID card (kiosk progress lookup)."""
        from queue_server.domain.people import id_hash_of

        id_hash = id_hash_of(self.hall, self._today(), id_number)
        with self.service.db.read() as conn:  # a 一件事 package's parts are listed as the package (PackageDesk)
            return [brief_view(conn, r, self._today()) for r in search(conn, self._today(), id_hash=id_hash, limit=200)
                    if r["package_id"] is None][:50]

    def find(self, status: str | None = None, item: str | None = None, business: str | None = None,
             overdue: bool | None = None, limit: int = 100, offset: int = 0,
             statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The back office's list (names masked); filter by status (or any of ``statuses``), item, business, overdue."""
        with self.service.db.read() as conn:
            return [brief_view(conn, r, self._today(), back_office=True)
                    for r in search(conn, self._today(), status, item, business, overdue, limit=limit, offset=offset,
                                    statuses=statuses)]

    def transition(self, actor: Actor, tracking_no: str, to: str, reason: str = "", missing: list[str] | None = None,
                   delivery: dict[str, str] | None = None, decision: str | None = None) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: application_view(
            tx.conn, transition(tx, tracking_no, to, reason, missing, delivery, decision), tx.now.date(),
            back_office=True))

    def supplement(self, actor: Actor, tracking_no: str, materials: list[int], fields: dict[str, Any],
                   id_number: str | None = None, request: RequestKey | None = None) -> dict[str, Any]:
        return self.service._run(actor, request, lambda tx: application_view(
            tx.conn, supplement(tx, tracking_no, materials, fields, id_number), tx.now.date(),
            back_office=actor.kind == "staff"))
