"""A way to call a bad review back (回访): the phone a resident may leave with a bad rating.

好差评 asks that a bad review be verified with the resident, fixed and answered
(国办发〔2019〕51号); a ticket's phone, where kept at all, is a keyed hash and a mask, so nobody
could call back. Rules (个人信息保护法 §6, §13-14, §19, §51; docs/privacy.md "Bad-review call-back"):

* optional, only with a bad rating (levels 1-2), only with the resident's consent to the words
  shown beside the field (``web.rate.contact_consent``, version :data:`CONSENT`);
* kept ENCRYPTED at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the installation's
  ``secret.key``, the rating's id as associated data, so a sealed number copied to another row
  does not open; the database file never holds the number in clear;
* shown to managers only, who call residents back (回访核实 is a manager's step,
  :func:`queue_server.domain.followups.verify`): the clerk whose case it was sees that a number
  was left, never the number (least privilege: the clerk records the fix, not the call);
* every view journaled (``followup_contact_viewed``: who, which follow-up, when; never the number);
* deleted when the follow-up closes (reported back, or an appeal upheld) and at the latest
  ``[privacy] followup_contact_days`` after it was given, by the retention job;
* never in a log line, an MQTT payload (the journal is the outbox: it holds the follow-up's id
  only), an export or a list: only ``GET /followups/<id>/contact`` answers it.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from datetime import date, timedelta
from typing import TYPE_CHECKING

from hallq.privacy import mask_phone, normalise_phone
from queue_server.domain.context import Tx
from queue_server.domain.errors import DomainError, Forbidden, Invalid, NotFound

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CONSENT = "v1"  # the wording of web.rate.contact_consent the resident agreed to; a new wording, a new version
_INFO = b"hallq followup contact v1"
NONCE = 12


def _key(secret: bytes) -> AESGCM:
    # cryptography (~5 MB resident) is imported at the first seal or unseal, not when the server starts
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret))


def seal(secret: bytes, rating_id: int, phone: str) -> bytes:
    """The phone encrypted for the row of ``rating_id``: nonce + ciphertext + tag."""
    nonce = os.urandom(NONCE)
    return nonce + _key(secret).encrypt(nonce, phone.encode(), f"rating:{rating_id}".encode())


def unseal(secret: bytes, rating_id: int, sealed: bytes) -> str:
    """The phone of ``rating_id``; raises ``cryptography.exceptions.InvalidTag`` for another key or row."""
    return _key(secret).decrypt(sealed[:NONCE], sealed[NONCE:], f"rating:{rating_id}".encode()).decode()


_MAIL_INFO = b"hallq mail phone v1"


def _mail_key(secret: bytes) -> AESGCM:
    # cryptography (~5 MB resident) is imported at the first seal or unseal, not when the server starts
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAIL_INFO).derive(secret))


def seal_mail_to(secret: bytes, tracking_no: str, mail_to: dict[str, str] | None) -> dict[str, str] | None:
    """Where a result is mailed, as kept at rest: the phone masked, and sealed (AES-256-GCM, a key of its own
    derived from secret.key, the 办件's tracking number as associated data) for the clerk who writes the
    waybill (:func:`queue_server.domain.resident_names.application_name`: on request, journaled)."""
    if not mail_to or not mail_to.get("phone") or "*" in mail_to["phone"]:
        return mail_to
    phone = mail_to["phone"]
    nonce = os.urandom(NONCE)
    sealed = nonce + _mail_key(secret).encrypt(nonce, phone.encode(), f"application:{tracking_no}".encode())
    return {**mail_to, "phone": mask_phone(phone), "phone_sealed": base64.b64encode(sealed).decode()}


def unseal_mail_to(secret: bytes, tracking_no: str, mail_to_json: str | None) -> dict[str, str] | None:
    """The recipient and phone a waybill is written to (the phone opened from its seal)."""
    if not mail_to_json:
        return None
    mail_to = json.loads(mail_to_json)
    sealed = mail_to.pop("phone_sealed", None)
    if sealed:
        raw = base64.b64decode(sealed)
        mail_to["phone"] = _mail_key(secret).decrypt(raw[:NONCE], raw[NONCE:],
                                                     f"application:{tracking_no}".encode()).decode()
    return mail_to


def checked(level: int, contact: str | None, consent: bool) -> str | None:
    """The normalised phone to keep with a rating, or None; refuses a number without consent or with a good rating."""
    if contact is None or not contact.strip():
        return None
    if level > 2:
        raise Invalid("error.contact.bad_reviews_only", code="contact_not_asked")
    if not consent:
        err = DomainError("error.contact.consent_required", code="consent_required", status=400)
        err.fields = [{"field": "contact_consent", "problem": "must be true to leave a phone number"}]
        raise err
    try:
        return normalise_phone(contact)
    except ValueError:
        raise Invalid("error.invalid_phone", code="invalid_phone") from None


def leave(tx: Tx, rating: sqlite3.Row, phone: str) -> None:
    """Keep ``phone`` (from :func:`checked`) sealed with ``rating`` (same transaction as the rating)."""
    tx.conn.execute("INSERT INTO followup_contacts (rating_id, sealed, consent, given_at) VALUES (?, ?, ?, ?)",
                    (rating["id"], seal(tx.hall.secret, rating["id"], phone), CONSENT, tx.at))


def reveal(tx: Tx, followup_id: int) -> dict[str, str]:
    """The phone left with a follow-up's rating, for a manager; the view is journaled."""
    if not tx.actor.is_manager:  # managers call residents back (回访核实)
        raise Forbidden("error.manager_only", code="manager_only")
    f = tx.one("SELECT f.id, f.rating_id, c.sealed, c.given_at FROM followups f "
               "LEFT JOIN followup_contacts c ON c.rating_id = f.rating_id WHERE f.id = ?", (followup_id,))
    if f is None:
        raise NotFound("error.unknown_followup", code="unknown_followup")
    if f["sealed"] is None:
        raise NotFound("error.contact.none", code="no_contact")
    phone = unseal(tx.hall.secret, f["rating_id"], f["sealed"])
    tx.journal("followup_contact_viewed", data={"followup": f["id"]})
    return {"followup": f["id"], "phone": phone, "given_at": f["given_at"]}


def erase_for(tx: Tx, rating_id: int) -> bool:
    """Delete the phone of a closed follow-up's rating; True if there was one."""
    return tx.conn.execute("DELETE FROM followup_contacts WHERE rating_id = ?", (rating_id,)).rowcount > 0


def erase_due(tx: Tx, today: date, limit: int) -> int:
    """Delete phones given ``[privacy] followup_contact_days`` or more days before ``today`` (at most ``limit``)."""
    days = tx.hall.config.privacy.followup_contact_days
    before = (today - timedelta(days=days)).isoformat()
    n = tx.conn.execute("DELETE FROM followup_contacts WHERE rating_id IN (SELECT rating_id FROM followup_contacts "
                        "WHERE given_at < ? LIMIT ?)", (before, limit)).rowcount
    if n:
        tx.journal("followup_contacts_erased", data={"count": n, "before": before, "followup_contact_days": days})
    return n
