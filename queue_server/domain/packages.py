"""一件事 packages (高效办成一件事, 国发〔2024〕3号): several items filed as one thing to do.

"一次告知、一表申请、一套材料、一窗(端)受理" (seed 000 §20): a package defined in the hall config
(``[[packages]]``, hallq/hallconfig.py) has one combined guide, one form whose fields are asked once,
one de-duplicated list of materials. Filing it (kiosk, window, or an online platform through the API)
creates, in ONE transaction, one package row with one tracking number and one 办件 per member item
(an ``applications`` row, ``<tracking_no>-1``, ``-2``...), each for its department's back office with
its own deadlines. The comprehensive window pre-reviews them together ("前台综合受理、后台分类审批、
统一窗口出件", seed 004): accepts all, or sends one correction notice across them, or refuses all;
then each department decides its own part. The resident follows one progress: done when every
part is done, with the parts' results shown as they come.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from datetime import date
from typing import TYPE_CHECKING, Any

from hallq.hallconfig import HallConfig, Package, merge_forms, merge_materials
from hallq.i18n import Texts, texts
from hallq.privacy import scrub_text
from queue_server.domain import applications as apps
from queue_server.domain.app_notices import empty_notice, notice_entries, one_time_notice, plain
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Conflict, Forbidden, NotFound, messages
from queue_server.domain.forms import check_fields, mask_held_whole, public_form
from queue_server.domain.guides import catalogue_version
from queue_server.domain.people import invalid, item_row, parse_person, person_problems
from queue_server.domain.progress import missing_required, overdue_kind, status_name

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService, RequestKey

OPEN_FOR_REVIEW = ("submitted", "pre_review")
FINISHED = ("delivered", "rejected")


def package_config(config: HallConfig, code: str) -> Package:
    try:
        return config.packages[code]
    except KeyError:
        raise NotFound("error.package.unknown", code="unknown_package", detail={"package": code}) from None


# (package code, catalogue version) -> the package as its items are now: the version moves with every change of
# the items (the file applied, a guide edited or imported: guides.touch), in this process or another
_current: dict[tuple[str, str], Package] = {}
_current_lock = threading.Lock()


def current(conn: sqlite3.Connection, config: HallConfig, code: str) -> Package:
    """A package with its form and materials merged from its items' CURRENT guides (the items table: a guide the
    manager edited in the browser counts at once, no restart), cached until the catalogue changes."""
    pkg = package_config(config, code)
    key = (code, catalogue_version(conn))
    hit = _current.get(key)
    if hit is not None:
        return hit
    members = [item_row(conn, c, active_only=False) for c in pkg.items]
    form, _ = merge_forms([(m["code"], m["guide"].get("form", [])) for m in members])  # clashes: refused at edit
    fresh = dataclasses.replace(pkg, form=tuple(form), materials=tuple(
        merge_materials([(m["code"], m["guide"].get("materials", [])) for m in members])))
    with _current_lock:
        for old in [k for k in _current if k[0] == code]:
            del _current[old]  # an older catalogue's: never asked again
        _current[key] = fresh
    return fresh


def package_status(statuses: list[str]) -> str:
    """One status for the resident: what the parts together wait for (done only when every part is)."""
    if "correction" in statuses:
        return "correction"  # the resident has something to bring
    if all(s in OPEN_FOR_REVIEW for s in statuses):
        return "submitted"
    if all(s in FINISHED for s in statuses):
        return "done"
    if all(s in FINISHED + ("result_ready",) for s in statuses):
        return "result_ready"
    return "in_progress"


def package_status_name(status: str) -> Texts:
    return texts(f"package.status.{status}")


# -- 一次告知: the combined guide ---------------------------------------------------------------------

def guide(conn: sqlite3.Connection, pkg: Package) -> dict[str, Any]:
    """Everything a resident is told once: the items and their departments, conditions, ONE form, ONE list
    of materials (each asked once, with the items that need it), time limits, fees, delivery."""
    members = [item_row(conn, code) for code in pkg.items]
    names = {it["code"]: it["name"] for it in members}
    conditions = list(pkg.guide.get("conditions", []))
    for it in members:
        conditions += [c for c in it["guide"].get("conditions", []) if c not in conditions]
    promised = [it["guide"]["promised_days"] for it in members if "promised_days" in it["guide"]]
    return {
        "package": pkg.code, "name": pkg.name, "business": pkg.business, "lead_department": pkg.lead_department,
        "note": pkg.guide.get("note", ""), "basis": pkg.guide.get("basis", []), "conditions": conditions,
        "items": [{"item": it["code"], "item_name": it["name"], "department": it["guide"].get("department", ""),
                   "promised_days": it["guide"].get("promised_days"),
                   "statutory_days": it["guide"].get("statutory_days"), "fee": it["guide"].get("fee")}
                  for it in members],
        "fields": [{**f, "items": [names[c] for c in src["items"]]}
                   for f, src in zip(public_form(list(pkg.form)), pkg.form)],
        "materials": [{"index": i, "name": m["name"], "form": m["form"], "copies": m["copies"],
                       "required": m["required"], "note": m.get("note", ""), "items": [names[c] for c in m["of"]]}
                      for i, m in enumerate(pkg.materials)],
        "promised_days": max(promised) if promised else None,
        "delivery": ["onsite", "mail"], "mail_free": True,
    }


# -- 一表申请 / 一窗受理: filing ------------------------------------------------------------------------

def file(tx: Tx, code: str, applicant: dict[str, str], fields: dict[str, Any], materials: list[int],
         delivery: str, address: str | None) -> sqlite3.Row:
    """File a package: one row, one tracking number, one 办件 per item, all in this transaction or none."""
    pkg = current(tx.conn, tx.hall.config, code)
    members = [item_row(tx.conn, c) for c in pkg.items]
    person, problems = person_problems(tx, applicant.get("name", ""), applicant.get("id_number", ""),
                                       applicant.get("phone", ""), prefix="applicant.")
    clean, form_problems = check_fields(list(pkg.form), fields, tx.now.date())
    problems += form_problems
    problems += [(f"materials[{j}]", "unknown_material", messages("error.applications.unknown_material", index=i))
                 for j, i in enumerate(materials) if not 0 <= i < len(pkg.materials)]
    address = " ".join((address or "").split())
    if delivery == "mail" and not 5 <= len(address) <= 200:
        problems.append(("address", "address_required", messages("error.applications.address_required")))
    if problems:
        raise invalid(problems, status=400, code="invalid_fields")
    assert person is not None
    provided = sorted(set(materials))
    row = None
    for _ in range(10):  # random numbers clash about once in 10^11 draws
        no = apps.new_tracking_no(tx.now.date())
        if tx.conn.execute("SELECT 1 FROM applications WHERE tracking_no = ?", (no,)).fetchone():
            continue
        try:
            row = tx.row(
                "INSERT INTO package_applications (tracking_no, package, name, applicant_name, name_masked, id_hash, "
                "id_masked, phone_hash, phone_masked, fields, materials, delivery, submitted_at, source) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
                (no, pkg.code, json.dumps(pkg.name, ensure_ascii=False), person.name, person.name_masked,
                 person.id_hash, person.id_masked, person.phone_hash, person.phone_masked,
                 json.dumps(clean, ensure_ascii=False),
                 json.dumps([pkg.materials[i]["name"] for i in provided], ensure_ascii=False), delivery, tx.at,
                 tx.actor.label))
            break
        except sqlite3.IntegrityError as e:
            if "tracking_no" not in str(e):
                raise
    if row is None:
        raise RuntimeError("could not draw an unused tracking number in 10 tries")
    mail_to = {"recipient": person.name, "phone": person.phone, "address": address} if delivery == "mail" else None
    for n, it in enumerate(members, 1):
        own = [pkg.materials[i]["of"][it["code"]] for i in provided if it["code"] in pkg.materials[i]["of"]]
        apps.insert(tx, it, person, _own_fields(it, clean), own, delivery, mail_to, f"{row['tracking_no']}-{n}",
                    package_id=row["id"])
    tx.journal("package_submitted", business=pkg.business,
               data={"tracking_no": row["tracking_no"], "package": pkg.code, "parts": len(members),
                     "delivery": delivery})
    return row


def _own_fields(it: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers an item's own form asks for; an item without a form gets every answer (一表申请)."""
    keys = {f["key"] for f in it["guide"].get("form", [])}
    return {k: v for k, v in answers.items() if k in keys} if keys else dict(answers)


def find(conn: sqlite3.Connection, tracking_no: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM package_applications WHERE tracking_no = ?",
                        (apps.normalise_tracking_no(tracking_no),)).fetchone()


def parts(conn: sqlite3.Connection, pkg_row: sqlite3.Row) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM applications WHERE package_id = ? ORDER BY id", (pkg_row["id"],)).fetchall()


def _find_or_404(conn: sqlite3.Connection, tracking_no: str) -> sqlite3.Row:
    row = find(conn, tracking_no)
    if row is None:
        raise apps.unknown_application()
    return row


# -- pre-reviewed together at the comprehensive window, then split --------------------------------

def review(tx: Tx, tracking_no: str, to: str, reason: str = "", missing: list[str] | None = None) -> sqlite3.Row:
    """The comprehensive window's pre-review of every part at once: accept all, one notice, or refuse all."""
    pkg_row = _find_or_404(tx.conn, tracking_no)
    rows = parts(tx.conn, pkg_row)
    waiting = [r for r in rows if r["status"] in OPEN_FOR_REVIEW]
    if to == "accepted":
        if any(r["status"] == "correction" for r in rows) or not waiting:
            raise Conflict("error.package.not_in_review", code="invalid_transition",
                           detail={"parts": {r["tracking_no"]: r["status"] for r in rows}})
        lacking: list[str] = []
        for r in waiting:
            it = item_row(tx.conn, r["item"], active_only=False)
            lacking += [m["name"] for m in missing_required(it, json.loads(r["materials"])) if m["name"] not in lacking]
        if lacking:
            raise Conflict("error.materials_missing", names="、".join(lacking), code="materials_missing",
                           detail={"missing": lacking})
        for r in waiting:
            apps.transition(tx, r["tracking_no"], "accepted")
    elif to == "correction":
        if any(r["status"] == "correction" for r in rows):  # the notice is out (一次性告知): nothing to add to it
            raise Conflict("error.package.notice_out", code="invalid_transition",
                           detail={"parts": {r["tracking_no"]: r["status"] for r in rows}})
        if not waiting:
            raise Conflict("error.package.not_in_review", code="invalid_transition",
                           detail={"parts": {r["tracking_no"]: r["status"] for r in rows}})
        _one_notice(tx, rows, waiting, missing or [], reason)
    elif to == "rejected":
        open_parts = [r for r in rows if r["status"] in OPEN_FOR_REVIEW + ("correction",)]
        if not open_parts:
            raise Conflict("error.package.not_in_review", code="invalid_transition",
                           detail={"parts": {r["tracking_no"]: r["status"] for r in rows}})
        for r in open_parts:
            apps.transition(tx, r["tracking_no"], "rejected", reason)
    else:
        raise Conflict("error.package.not_in_review", code="invalid_transition", detail={"to": to})
    return pkg_row


def _one_notice(tx: Tx, rows: list[sqlite3.Row], waiting: list[sqlite3.Row], missing: list[str], reason: str) -> None:
    """ONE correction notice for the package (一次性告知), each part getting what concerns it; a part with nothing to
    correct waits in pre-review. The parts' notices together are the package's: a later notice (after a supplement
    still not right) may only repeat, part by part, what the first asked for; anything new for any part (a part the
    first left out included) is refused with every new entry named (409 one_time_notice), and nothing moves."""
    earlier = {r["id"]: json.loads(r["correction"])["keys"] for r in rows if r["correction"]}
    asked = _split_asked(tx.conn, waiting, missing, earlier)
    plan = [(r, notice_entries(r, item_row(tx.conn, r["item"], active_only=False), asked[r["id"]])) for r in waiting]
    if not any(entries for _, entries in plan):
        raise empty_notice()
    if earlier:
        new = {r["tracking_no"]: {k: e for k, e in entries.items() if k not in earlier.get(r["id"], [])}
               for r, entries in plan}
        new = {no: e for no, e in new.items() if e}
        if new:
            merged = {k: e for entries in new.values() for k, e in entries.items()}
            raise one_time_notice(merged, {"parts": {no: list(e) for no, e in new.items()}})
    for r, entries in plan:
        if entries:
            apps.transition(tx, r["tracking_no"], "correction", reason, asked[r["id"]], package_checked=True)
        elif r["status"] == "submitted":  # reviewed with the others, nothing to correct: it waits for them
            apps.transition(tx, r["tracking_no"], "pre_review")


def _split_asked(conn: sqlite3.Connection, waiting: list[sqlite3.Row], asked: list[str],
                 earlier: dict[int, list[str]]) -> dict[int, list[str]]:
    """What the clerk lists, sent to the parts it concerns: a material to the items that ask for it, a field
    to the items whose form has it; anything else (free text) to the part whose ``earlier`` notice said it, else to
    the first part, so it is said once (and said again where it was)."""
    out: dict[int, list[str]] = {r["id"]: [] for r in waiting}
    for a in (" ".join(a.split()) for a in asked):
        if not a:
            continue
        p = plain(a)
        hit = False
        for r in waiting:
            g = item_row(conn, r["item"], active_only=False)["guide"]
            names = {plain(m["name"]) for m in g.get("materials", [])}
            labels = {plain(lab) for f in g.get("form", []) for lab in f["label"].values() if lab}
            keys = {f["key"] for f in g.get("form", [])}
            if p in names or p in labels or a in keys:
                out[r["id"]].append(a)
                hit = True
        if not hit:
            home = next((r for r in waiting if f"other:{scrub_text(a)}" in earlier.get(r["id"], [])), waiting[0])
            out[home["id"]].append(a)
    return out


def supplement(tx: Tx, tracking_no: str, materials: list[int], fields: dict[str, Any],
               id_number: str | None = None) -> sqlite3.Row:
    """补正 for a package: the materials (merged list indexes) and answers go to every part not yet accepted that
    takes them (a material to the items that list it, an answer to the items whose form asks it, every answer to an
    item without a form, as when filing: the departments decide on what the resident supplied), each journaled as
    that part's supplement; every part in correction goes back to pre-review, the others stay in review. The
    resident supplements a package in correction; staff one in review too. One that adds nothing to any part is
    refused (400 nothing_supplied) and writes nothing."""
    pkg_row = _find_or_404(tx.conn, tracking_no)
    # the applicant's proof first, as for one application: what a supplement would add says nothing to anyone else
    if id_number is None and tx.actor.kind != "staff":
        raise Forbidden("error.applications.supplement_needs_id", code="not_yours")
    if id_number is not None and parse_person(tx, None, id_number, None).id_hash != pkg_row["id_hash"]:
        raise Forbidden("error.applications.id_mismatch", code="not_yours")
    pkg = current(tx.conn, tx.hall.config, pkg_row["package"])
    clean, problems = check_fields(list(pkg.form), fields, tx.now.date(), partial=True)
    problems += [(f"materials[{j}]", "unknown_material", messages("error.applications.unknown_material", index=i))
                 for j, i in enumerate(materials) if not 0 <= i < len(pkg.materials)]
    if problems:
        raise invalid(problems, status=400, code="invalid_fields")
    targets = [r for r in parts(tx.conn, pkg_row) if r["status"] in OPEN_FOR_REVIEW + ("correction",)]
    if not targets or tx.actor.kind != "staff" and not any(r["status"] == "correction" for r in targets):
        raise Conflict("error.not_in_correction", code="not_in_correction")
    shares = []  # each part with what it takes of the supplement
    for r in targets:
        own = [pkg.materials[i]["of"][r["item"]] for i in set(materials) if r["item"] in pkg.materials[i]["of"]]
        shares.append((r, own, _own_fields(item_row(tx.conn, r["item"], active_only=False), clean)))
    if not any(apps.adds_anything(r, answers, own) for r, own, answers in shares):
        raise apps.nothing_supplied()  # nothing new for any part: refused, nothing written (docs/privacy.md)
    for r, own, answers in shares:
        # the parts in correction go back to pre-review together (the notice may have asked, in words, for what
        # no material or answer records); a part waiting for pre-review takes what it asks for, staying in review
        if r["status"] == "correction" or apps.adds_anything(r, answers, own):
            apps.supplement(tx, r["tracking_no"], own, answers, id_number, must_add=False, package_share=True)
    handed = sorted(set(json.loads(pkg_row["materials"])) | {pkg.materials[i]["name"] for i in materials})
    return tx.row("UPDATE package_applications SET fields = ?, materials = ? WHERE id = ? RETURNING *",
                  (json.dumps({**json.loads(pkg_row["fields"]), **clean}, ensure_ascii=False),
                   json.dumps(handed, ensure_ascii=False), pkg_row["id"]))


# -- one progress for the resident -----------------------------------------------------------------

def package_view(conn: sqlite3.Connection, pkg_row: sqlite3.Row, today: date, back_office: bool = False
                 ) -> dict[str, Any]:
    """One progress: the package's status, each part's (with its department and result), one timeline."""
    rows = parts(conn, pkg_row)
    name = json.loads(pkg_row["name"])
    part_views, timeline, missing, wanted = [], {}, [], []  # type: ignore[var-annotated]
    forms: list[dict[str, Any]] = []  # the parts' forms: which answers are a name or a phone (masked below)
    for r in rows:
        it = item_row(conn, r["item"], active_only=False)
        forms += it["guide"].get("form", [])
        kind = overdue_kind(r, today)
        part = {"tracking_no": r["tracking_no"], "item": r["item"], "item_name": it["name"],
                "department": it["guide"].get("department", ""), "status": r["status"],
                "status_name": status_name(r["status"]), "promised_by": r["promised_by"],
                "statutory_by": r["statutory_by"], "decision": r["decision"], "overdue": kind is not None,
                "overdue_kind": kind, "delivery": r["delivered_by_method"] or r["delivery"],
                "result_at": r["result_at"], "delivered_at": r["delivered_at"]}
        if back_office:
            part.update(waybill=r["waybill"], handed_to=json.loads(r["handed_to"]) if r["handed_to"] else None)
        part_views.append(part)
        for e in conn.execute("SELECT * FROM application_events WHERE application_id = ? ORDER BY id", (r["id"],)):
            key = (e["at"], e["status"], e["note"])  # the same step for several parts is said once
            entry = timeline.setdefault(key, {"status": e["status"], "status_name": status_name(e["status"]),
                                              "at": e["at"], "note": json.loads(e["note"]), "items": []})
            entry["items"].append(it["name"])
        correction = json.loads(r["correction"]) if r["correction"] and r["status"] == "correction" else None
        for m in (correction or {}).get("missing", []):
            if m["name"] not in [x["name"] for x in missing]:
                missing.append(m)
        wanted += [m["name"] for m in missing_required(it, json.loads(r["materials"])) if m["name"] not in wanted]
    status = package_status([r["status"] for r in rows])
    dates = [r["promised_by"] for r in rows if r["promised_by"]]
    statutory = [r["statutory_by"] for r in rows if r["statutory_by"]]
    view: dict[str, Any] = {
        "tracking_no": pkg_row["tracking_no"], "package": pkg_row["package"], "item": pkg_row["package"],
        "item_name": name, "package_name": name, "status": status, "status_name": package_status_name(status),
        "submitted_at": pkg_row["submitted_at"], "parts": part_views,
        "done": status == "done", "results_ready": sum(r["status"] in ("result_ready", "delivered") for r in rows),
        "timeline": sorted(timeline.values(), key=lambda e: e["at"]),
        "promised_by": max(dates) if dates else None, "statutory_by": max(statutory) if statutory else None,
        "overdue": any(p["overdue"] for p in part_views), "delivery": pkg_row["delivery"],
        "correction": {"missing": missing} if missing else None, "missing_required": wanted,
    }
    if back_office:
        view.update(applicant={"name": pkg_row["name_masked"], "id": pkg_row["id_masked"],
                               "phone": pkg_row["phone_masked"]},
                    fields=mask_held_whole(forms, json.loads(pkg_row["fields"])),
                    materials_provided=json.loads(pkg_row["materials"]),
                    source=pkg_row["source"])
    return view


def package_brief(conn: sqlite3.Connection, pkg_row: sqlite3.Row, today: date) -> dict[str, Any]:
    statuses = [r["status"] for r in parts(conn, pkg_row)]
    status = package_status(statuses)
    name = json.loads(pkg_row["name"])
    return {"tracking_no": pkg_row["tracking_no"], "package": pkg_row["package"], "item": pkg_row["package"],
            "item_name": name, "status": status, "status_name": package_status_name(status),
            "submitted_at": pkg_row["submitted_at"], "parts": len(statuses),
            "overdue": any(overdue_kind(r, today) for r in parts(conn, pkg_row))}


# -- the desk: one transaction per call (QueueService.packages) ---------------------------------------

class PackageDesk:
    """一件事 packages as the API, the kiosk and the back office use them; every change is one transaction."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.hall = service.hall

    def _today(self) -> date:
        return self.hall.now().date()

    def menu(self) -> list[dict[str, Any]]:
        """The packages this hall takes (the kiosk's 一件事 menu)."""
        return [{"package": p.code, "name": p.name, "business": p.business, "items": len(p.items)}
                for p in self.hall.config.packages.values()]

    def guide(self, code: str) -> dict[str, Any]:
        package_config(self.hall.config, code)  # 404 for a package this hall does not take
        with self.service.db.read() as conn:
            return guide(conn, current(conn, self.hall.config, code))

    def file(self, actor: Actor, code: str, applicant: dict[str, str], fields: dict[str, Any],
             materials: list[int], delivery: str, address: str | None = None,
             request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            row = file(tx, code, applicant, fields, materials, delivery, address)
            view = package_view(tx.conn, row, tx.now.date())
            view["applicant"] = {"name": row["name_masked"], "id": row["id_masked"], "phone": row["phone_masked"]}
            return view
        return self.service._run(actor, request, run)

    def get(self, tracking_no: str, back_office: bool = False) -> dict[str, Any]:
        """The one progress of a package, or of an application filed alone: the resident has one number."""
        with self.service.db.read() as conn:
            row = find(conn, tracking_no)
        if row is None:
            return self.service.applications.get(tracking_no, back_office)
        with self.service.db.read() as conn:
            return package_view(conn, row, self._today(), back_office)

    def of_person(self, id_number: str) -> list[dict[str, Any]]:
        """A resident's applications and packages (a package once, not its parts), newest first."""
        from queue_server.domain.people import id_hash_of

        alone = self.service.applications.of_person(id_number)
        id_hash = id_hash_of(self.hall, self._today(), id_number)
        with self.service.db.read() as conn:
            rows = conn.execute("SELECT * FROM package_applications WHERE id_hash = ? ORDER BY submitted_at DESC "
                                "LIMIT 50", (id_hash,)).fetchall()
            both = [package_brief(conn, r, self._today()) for r in rows] + alone
        return sorted(both, key=lambda v: v["submitted_at"], reverse=True)[:50]

    def applicant_name(self, actor: Actor, tracking_no: str) -> dict[str, Any]:
        """The full name of an application's or a package's applicant, for a clerk of the case; journaled."""
        from queue_server.domain import resident_names

        def run(tx: Tx) -> dict[str, Any]:
            pkg = find(tx.conn, tracking_no)
            if pkg is None:
                app = apps.find(tx.conn, tracking_no)
                return resident_names.application_name(tx, app, [app], {app["business"]})
            rows = parts(tx.conn, pkg)
            config = self.hall.config.packages.get(pkg["package"])
            businesses = {r["business"] for r in rows} | ({config.business} if config is not None else set())
            return resident_names.application_name(tx, pkg, rows, businesses)
        return self.service._run(actor, None, run)

    def review(self, actor: Actor, tracking_no: str, to: str, reason: str = "",
               missing: list[str] | None = None) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: package_view(
            tx.conn, review(tx, tracking_no, to, reason, missing), tx.now.date(), back_office=True))

    def collect(self, actor: Actor, tracking_no: str, id_number: str | None,
                request: RequestKey | None = None) -> dict[str, Any]:
        """领取结果: a number for the 出件 window, for the applicant whose result is ready (domain/collection.py)."""
        from queue_server.domain.collection import collect
        from queue_server.domain.estimates import ahead_of_new

        def run(tx: Tx) -> dict[str, Any]:
            row, data = collect(tx, tracking_no, id_number)
            view = self.service._ticket_view(tx, row, ahead_of_new(tx.conn, tx.day, row["business"], row["class"]))
            view["collecting"] = {"tracking_no": data["tracking_no"], "ready": data["ready"]}
            return view
        return self.service._run(actor, request, run)

    def supplement(self, actor: Actor, tracking_no: str, materials: list[int], fields: dict[str, Any],
                   id_number: str | None = None, request: RequestKey | None = None) -> dict[str, Any]:
        return self.service._run(actor, request, lambda tx: package_view(
            tx.conn, supplement(tx, tracking_no, materials, fields, id_number), tx.now.date(),
            back_office=actor.kind == "staff"))

