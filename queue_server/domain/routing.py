"""Routed applications (就近办 across halls): a village station takes an application for an item that a town or
county hall handles, gives the resident a receipt at once, and the handling hall files it as its own.

Seed 000 §22 asks for 就近办 and §26 for one platform across four levels whose halls route an application
accepted near home to the hall that handles it. Two sides, both here (docs/county.md, "Routed applications"):

**At the village** (the hall that accepts):

* ``routed_items``: the items county.toml routes from this hall, each with the handling hall's own definition
  (name, form, materials, department, time limits) as that hall's ``GET /items/{code}/form`` gave it, fetched
  ahead of time through the platform by the outbox (queue_server/routing_outbox.py) and kept, so the kiosk and
  the clerk's 帮办 work with the county network down. A routed item answers ``GET /items/{code}/form`` here
  like a local one, with ``routed_to`` naming the handling hall.
* :func:`submit`: the form checked against that definition (every bad field at once, as for a local item), and
  one transaction: the ``routed_applications`` row (the receipt's tracking number, masked name/ID/phone, what
  to send sealed with AES-256-GCM under a key of secret.key), its journal entry ``application_routed`` (no
  personal data). The receipt never waits for the county.
* the outbox forwards each queued row to the platform and follows each forwarded one's progress there; the
  resident's and the clerk's views read the copy kept here, with the time it was fetched (``routed.as_of``) and
  ``routed.stale`` once it is older than the follow interval allows.

**At the handling hall**: :func:`file_routed` files it through the hall's own :func:`applications.submit`
(the same checks, deadlines, journal), marked with its origin (``origin_site``, ``origin_no``, ``origin_name``;
``source`` ``routed:<village>``), once per (origin site, origin number): a retry answers the application filed
before (``duplicate: true``), so nothing is filed or counted twice. Its clerks then handle it as any other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hallq.clock import iso
from hallq.i18n import texts
from queue_server.domain import applications
from queue_server.domain.context import SYSTEM, Actor, Tx
from queue_server.domain.errors import DomainError, NotFound, messages
from queue_server.domain.forms import check_fields
from queue_server.domain.people import invalid, person_problems
from queue_server.domain.progress import application_view, status_name

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from queue_server.domain.service import QueueService, RequestKey

FINAL = ("delivered", "rejected")  # the handling hall's statuses after which there is nothing more to follow
NONCE = 12
_INFO = b"hallq routed application v1"


# -- sealing what waits in the outbox ---------------------------------------------------------------

def _key(secret: bytes) -> AESGCM:
    # cryptography (~5 MB resident) is imported at the first seal or unseal, not when the server starts
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret))


def seal(secret: bytes, tracking_no: str, payload: dict[str, Any]) -> str:
    nonce = os.urandom(NONCE)
    sealed = _key(secret).encrypt(nonce, json.dumps(payload, ensure_ascii=False).encode(), tracking_no.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(secret: bytes, tracking_no: str, sealed: str) -> dict[str, Any]:
    raw = base64.b64decode(sealed)
    return json.loads(_key(secret).decrypt(raw[:NONCE], raw[NONCE:], tracking_no.encode()))


# -- the village: items and submissions -------------------------------------------------------------

def routed_item(conn: sqlite3.Connection, code: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM routed_items WHERE item = ? AND active", (code,)).fetchone()


def form_of(row: sqlite3.Row) -> dict[str, Any]:
    """A routed item's form as ``GET /items/{code}/form`` answers it, with the handling hall named."""
    definition = json.loads(row["definition"])
    return {**definition, "item": row["item"], "routed_to": {"site": row["target"],
                                                             "name": json.loads(row["target_name"])},
            "definition_fetched_at": row["fetched_at"]}


def submit(tx: Tx, code: str, applicant: dict[str, str], fields: dict[str, Any], materials: list[int],
           delivery: str, address: str | None) -> sqlite3.Row:
    """Take in an application for a routed item: checked against the handling hall's definition, kept, queued."""
    item = routed_item(tx.conn, code)
    if item is None:
        raise NotFound("error.unknown_item", code="unknown_item", detail={"item": code})
    definition = json.loads(item["definition"])
    person, problems = person_problems(tx, applicant.get("name", ""), applicant.get("id_number", ""),
                                       applicant.get("phone", ""), prefix="applicant.")
    _, form_problems = check_fields(definition.get("fields", []), fields, tx.now.date())
    problems += form_problems
    count = len(definition.get("materials", []))
    problems += [(f"materials[{j}]", "unknown_material", messages("error.applications.unknown_material", index=i))
                 for j, i in enumerate(materials) if not 0 <= i < count]
    address = " ".join((address or "").split())
    if delivery == "mail" and not 5 <= len(address) <= 200:
        problems.append(("address", "address_required", messages("error.applications.address_required")))
    if problems:
        raise invalid(problems, status=400, code="invalid_fields")
    assert person is not None
    # what the handling hall needs, as the resident gave it (it checks everything again): sealed at rest
    payload = {"item": code, "applicant": {"name": person.name, "id_number": applicant["id_number"].strip(),
                                           "phone": applicant.get("phone", "")},
               "fields": fields, "materials": sorted(set(materials)), "delivery": delivery,
               **({"address": address} if delivery == "mail" else {}), "submitted_at": tx.at}
    for _ in range(10):
        no = applications.new_tracking_no(tx.now.date())
        if tx.one("SELECT 1 FROM applications WHERE tracking_no = ?", (no,)) is None and \
                tx.one("SELECT 1 FROM routed_applications WHERE tracking_no = ?", (no,)) is None:
            break
    else:  # pragma: no cover - 10 clashes of 8 random characters
        raise RuntimeError("could not draw an unused tracking number in 10 tries")
    row = tx.row(
        "INSERT INTO routed_applications (tracking_no, item, item_name, target, target_name, name_masked, id_hash, "
        "id_masked, phone_masked, payload, delivery, submitted_at, source, next_try_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
        (no, code, json.dumps(definition.get("item_name", {}), ensure_ascii=False), item["target"],
         item["target_name"], person.name_masked, person.id_hash, person.id_masked, person.phone_masked,
         seal(tx.hall.secret, no, payload), delivery, tx.at, tx.actor.label, tx.at))
    tx.journal("application_routed", business=None,
               data={"tracking_no": no, "item": code, "target": item["target"], "delivery": delivery})
    return row


def _note(key: str, **kw: Any) -> dict[str, str]:
    return texts(key, **kw)


def routed_view(row: sqlite3.Row, now: datetime, stale_after: float, back_office: bool = False) -> dict[str, Any]:
    """A routed application as the village shows it: the handling hall's progress as last fetched, and since
    when; before it is forwarded, the receipt's own first step."""
    target_name = json.loads(row["target_name"])
    remote = json.loads(row["remote"]) if row["remote"] else None
    local = [{"status": "submitted", "status_name": texts("routing.received"), "at": row["submitted_at"],
              "note": _note("routing.note.routed", target=target_name.get("zh-Hans", row["target"]))}]
    if row["outbox"] == "refused":
        refusal = json.loads(row["refusal"] or "{}")
        local.append({"status": "submitted", "status_name": texts("routing.state.refused"),
                      "at": row["forwarded_at"] or row["submitted_at"],
                      "note": _note("routing.note.refused", target=target_name.get("zh-Hans", row["target"]),
                                    reason=(refusal.get("messages") or {}).get("zh-Hans", refusal.get("code", "")))})
    status = remote["status"] if remote else "submitted"
    stale = row["remote_at"] is not None and row["remote_at"] < iso(now - timedelta(seconds=stale_after))
    view: dict[str, Any] = {
        "tracking_no": row["tracking_no"], "item": row["item"], "item_name": json.loads(row["item_name"]),
        "status": status, "status_name": status_name(status), "submitted_at": row["submitted_at"],
        "timeline": local + (remote.get("timeline", []) if remote else []),
        "review_by": remote.get("review_by") if remote else None,
        "promised_by": remote.get("promised_by") if remote else None,
        "statutory_by": remote.get("statutory_by") if remote else None,
        "overdue": bool(remote and remote.get("overdue")), "overdue_kind": remote.get("overdue_kind") if remote else None,
        "delivery": (remote or {}).get("delivery", row["delivery"]), "decision": (remote or {}).get("decision"),
        "correction": (remote or {}).get("correction"), "missing_required": (remote or {}).get("missing_required", []),
        "package_no": None,
        "routed": {"target": row["target"], "target_name": target_name, "state": row["outbox"],
                   "state_name": texts(f"routing.state.{row['outbox']}"), "as_of": row["remote_at"], "stale": stale,
                   "ready": status == "result_ready", "remote_no": (remote or {}).get("tracking_no")},
    }
    if back_office:
        view["applicant"] = {"name": row["name_masked"], "id": row["id_masked"], "phone": row["phone_masked"]}
        view["routed"].update(attempts=row["attempts"], last_error=row["last_error"], forwarded_at=row["forwarded_at"],
                              refusal=json.loads(row["refusal"]) if row["refusal"] else None)
        view["source"] = row["source"]
    return view


def brief(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("tracking_no", "item", "item_name", "status", "status_name", "submitted_at", "promised_by", "overdue",
            "overdue_kind", "package_no", "routed")
    return {k: view[k] for k in keys}


# -- the handling hall ------------------------------------------------------------------------------

def file_routed(tx: Tx, body: dict[str, Any]) -> tuple[sqlite3.Row, bool]:
    """File an application routed from a village station; (row, True) when it was filed before (a retry)."""
    origin = body["origin"]
    before = tx.one("SELECT * FROM applications WHERE origin_site = ? AND origin_no = ?",
                    (origin["site"], origin["tracking_no"]))
    if before is not None:
        if before["item"] != body["item"]:
            raise DomainError("error.routing.other_application", code="origin_number_taken", status=409,
                              detail={"origin_no": origin["tracking_no"]})
        return before, True
    row, it = applications.submit(tx, body["item"], body["applicant"], body.get("fields", {}),
                                  body.get("materials", []), body["delivery"], body.get("address"))
    row = tx.row("UPDATE applications SET origin_site = ?, origin_no = ?, origin_name = ?, source = ? WHERE id = ? "
                 "RETURNING *", (origin["site"], origin["tracking_no"],
                                 json.dumps(origin.get("name") or {}, ensure_ascii=False), f"routed:{origin['site']}",
                                 row["id"]))
    tx.journal("application_received_routed", business=it["business"],
               data={"tracking_no": row["tracking_no"], "origin_site": origin["site"],
                     "origin_no": origin["tracking_no"]})
    return row, False


# -- the desk ----------------------------------------------------------------------------------------

class RoutingDesk:
    """Routed applications, both sides; every change one transaction (QueueService.routing)."""

    STALE_SECONDS = 600.0  # the village's copy of the progress is called stale past this age (the outbox sets it)

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.hall = service.hall

    # the village
    def is_routed(self, code: str) -> bool:
        with self.service.db.read() as conn:
            return routed_item(conn, code) is not None

    def items(self) -> list[dict[str, Any]]:
        with self.service.db.read() as conn:
            rows = conn.execute("SELECT * FROM routed_items WHERE active ORDER BY item").fetchall()
        return [{"code": r["item"], "name": json.loads(r["definition"]).get("item_name", {}),
                 "business": json.loads(r["definition"]).get("business"),
                 "routed_to": {"site": r["target"], "name": json.loads(r["target_name"])}} for r in rows]

    def form(self, code: str) -> dict[str, Any]:
        with self.service.db.read() as conn:
            row = routed_item(conn, code)
        if row is None:
            raise NotFound("error.unknown_item", code="unknown_item", detail={"item": code})
        return form_of(row)

    def submit(self, actor: Actor, item: str, applicant: dict[str, str], fields: dict[str, Any],
               materials: list[int], delivery: str, address: str | None = None,
               request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            row = submit(tx, item, applicant, fields, materials, delivery, address)
            view = routed_view(row, tx.now, self.STALE_SECONDS)
            view["applicant"] = {"name": row["name_masked"], "id": row["id_masked"], "phone": row["phone_masked"]}
            return view
        return self.service._run(actor, request, run)

    def get(self, tracking_no: str, back_office: bool = False) -> dict[str, Any] | None:
        with self.service.db.read() as conn:
            row = conn.execute("SELECT * FROM routed_applications WHERE tracking_no = ?",
                               (applications.normalise_tracking_no(tracking_no),)).fetchone()
        return None if row is None else routed_view(row, self.hall.now(), self.STALE_SECONDS, back_office)

    def of_person(self, id_number: str) -> list[dict[str, Any]]:
        """A resident's routed applications, found by the ID card (the kiosk's progress lookup)."""
        from queue_server.domain.people import id_hash_of

        id_hash = id_hash_of(self.hall, self.hall.now().date(), id_number)
        with self.service.db.read() as conn:
            rows = conn.execute("SELECT * FROM routed_applications WHERE id_hash = ? ORDER BY submitted_at DESC "
                                "LIMIT 50", (id_hash,)).fetchall()
        now = self.hall.now()
        return [brief(routed_view(r, now, self.STALE_SECONDS)) for r in rows]

    def find(self, limit: int = 100) -> list[dict[str, Any]]:
        """The clerk's list: every routed application, newest first, with its outbox state."""
        with self.service.db.read() as conn:
            rows = conn.execute("SELECT * FROM routed_applications ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        now = self.hall.now()
        return [routed_view(r, now, self.STALE_SECONDS, back_office=True) for r in rows]

    # the outbox (queue_server/routing_outbox.py)
    def store_items(self, items: list[dict[str, Any]]) -> int:
        """Keep the platform's answer of the routed items: new and changed definitions written (journaled once per
        change), an item no longer routed made inactive; an item the handling hall could not describe now keeps its
        last definition, one it says it no longer takes (404, 409) is dropped. Returns how many changed."""
        def run(tx: Tx) -> int:
            changed = 0
            listed = set()
            for e in items:
                if e.get("definition") is None and str(e.get("error", "")).startswith(("404", "409")):
                    continue  # the handling hall no longer takes it: dropped below, as if not routed
                listed.add(e["item"])
                d = e.get("definition")
                if not isinstance(d, dict):
                    continue
                text = json.dumps(d, ensure_ascii=False, sort_keys=True)
                digest = hashlib.sha256(text.encode()).hexdigest()
                old = tx.one("SELECT digest, target, active FROM routed_items WHERE item = ?", (e["item"],))
                tx.conn.execute(
                    "INSERT INTO routed_items (item, target, target_name, definition, digest, fetched_at, active) "
                    "VALUES (?,?,?,?,?,?,1) ON CONFLICT (item) DO UPDATE SET target = excluded.target, "
                    "target_name = excluded.target_name, definition = excluded.definition, digest = excluded.digest, "
                    "fetched_at = excluded.fetched_at, active = 1",
                    (e["item"], e["target"], json.dumps(e.get("target_name") or {}, ensure_ascii=False), text,
                     digest, tx.at))
                if old is None or old["digest"] != digest or old["target"] != e["target"] or not old["active"]:
                    changed += 1
                    tx.journal("routed_item_updated", data={"item": e["item"], "target": e["target"]})
            for r in tx.all("SELECT item FROM routed_items WHERE active"):
                if r["item"] not in listed:
                    tx.conn.execute("UPDATE routed_items SET active = 0 WHERE item = ?", (r["item"],))
                    tx.journal("routed_item_dropped", data={"item": r["item"]})
                    changed += 1
            return changed
        return self.service._run(SYSTEM, None, run)

    def due(self, limit: int = 20) -> list[tuple[str, dict[str, Any]]]:
        """Queued applications whose next try is due: (tracking number, what to send)."""
        with self.service.db.read() as conn:
            rows = conn.execute("SELECT tracking_no, payload FROM routed_applications WHERE outbox = 'queued' "
                                "AND (next_try_at IS NULL OR next_try_at <= ?) ORDER BY id LIMIT ?",
                                (iso(self.hall.now()), limit)).fetchall()
        return [(r["tracking_no"], {**unseal(self.hall.secret, r["tracking_no"], r["payload"]),
                                    "tracking_no": r["tracking_no"]}) for r in rows]

    # Each outcome of a try is written only while the application is still queued: one that another round (of a
    # second server on the same files) already settled is left as it is, and journaled once. Each returns whether
    # it wrote.
    def forwarded(self, tracking_no: str, answer: dict[str, Any]) -> bool:
        """The handling hall has it: the payload (personal data) is dropped here, its first view kept."""
        def run(tx: Tx) -> bool:
            row = tx.one("UPDATE routed_applications SET outbox = 'forwarded', payload = NULL, forwarded_at = ?, "
                         "attempts = attempts + 1, last_error = NULL, remote = ?, remote_status = ?, remote_at = ? "
                         "WHERE tracking_no = ? AND outbox = 'queued' RETURNING target",
                         (tx.at, json.dumps(answer, ensure_ascii=False), answer.get("status"), tx.at, tracking_no))
            if row is None:
                return False
            tx.journal("application_forwarded", data={"tracking_no": tracking_no, "target": row["target"],
                                                      "remote_no": answer.get("tracking_no"),
                                                      "duplicate": bool(answer.get("duplicate"))})
            return True
        return self.service._run(SYSTEM, None, run)

    def failed(self, tracking_no: str, why: str, retry_in: float) -> bool:
        def run(tx: Tx) -> bool:
            return tx.conn.execute(
                "UPDATE routed_applications SET attempts = attempts + 1, last_error = ?, next_try_at = ? "
                "WHERE tracking_no = ? AND outbox = 'queued'",
                (why[:300], iso(tx.now + timedelta(seconds=retry_in)), tracking_no)).rowcount > 0
        return self.service._run(SYSTEM, None, run)

    def refused(self, tracking_no: str, error: dict[str, Any]) -> bool:
        """The handling hall will not file it (its form changed, the item is gone...): kept, never retried, told."""
        def run(tx: Tx) -> bool:
            row = tx.one("UPDATE routed_applications SET outbox = 'refused', payload = NULL, forwarded_at = ?, "
                         "attempts = attempts + 1, refusal = ?, last_error = ? WHERE tracking_no = ? "
                         "AND outbox = 'queued' RETURNING target",
                         (tx.at, json.dumps(error, ensure_ascii=False), str(error.get("code", ""))[:300], tracking_no))
            if row is None:
                return False
            tx.journal("application_route_refused", data={"tracking_no": tracking_no, "target": row["target"],
                                                          "code": error.get("code"),
                                                          "fields": [f.get("field") for f in error.get("fields", [])
                                                                     if isinstance(f, dict)]})
            return True
        return self.service._run(SYSTEM, None, run)

    def to_follow(self, limit: int = 50) -> list[tuple[str, str]]:
        """Forwarded applications still open at the handling hall, least recently fetched first."""
        with self.service.db.read() as conn:
            rows = conn.execute(
                "SELECT tracking_no, target FROM routed_applications WHERE outbox = 'forwarded' AND "
                f"coalesce(remote_status, '') NOT IN ({','.join('?' * len(FINAL))}) ORDER BY remote_at LIMIT ?",
                (*FINAL, limit)).fetchall()
        return [(r["tracking_no"], r["target"]) for r in rows]

    def progress(self, tracking_no: str, view: dict[str, Any]) -> bool:
        """Keep the handling hall's current view; a new status is journaled (the result ready: the village is
        told). True when the status changed."""
        def run(tx: Tx) -> bool:
            old = tx.row("SELECT remote_status FROM routed_applications WHERE tracking_no = ?", (tracking_no,))
            tx.conn.execute("UPDATE routed_applications SET remote = ?, remote_status = ?, remote_at = ? "
                            "WHERE tracking_no = ?", (json.dumps(view, ensure_ascii=False), view.get("status"), tx.at,
                                                      tracking_no))
            if old["remote_status"] != view.get("status"):
                tx.journal("routed_progress", data={"tracking_no": tracking_no, "status": view.get("status"),
                                                    "ready": view.get("status") == "result_ready"})
                return True
            return False
        return self.service._run(SYSTEM, None, run)

    # the handling hall
    def file(self, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            row, duplicate = file_routed(tx, body)
            view = application_view(tx.conn, row, tx.now.date())
            view["duplicate"] = duplicate
            return view
        return self.service._run(actor, None, run)

    def remote_view(self, origin_site: str, origin_no: str) -> dict[str, Any]:
        """A routed application's progress for the village it came from (no personal data)."""
        with self.service.db.read() as conn:
            row = conn.execute("SELECT * FROM applications WHERE origin_site = ? AND origin_no = ?",
                               (origin_site, applications.normalise_tracking_no(origin_no))).fetchone()
            if row is None:
                raise applications.unknown_application()
            return application_view(conn, row, self.hall.now().date())
