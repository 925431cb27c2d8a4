"""024: the phone a result is mailed to (``applications.mail_to``), kept until now in full, is sealed.

Like the bad-review call-back phone (020), it is encrypted at rest with AES-256-GCM under a key derived
from the installation's secret.key, the 办件's tracking number as associated data; the JSON keeps the
masked phone for the views and ``phone_sealed`` for the clerk who writes the waybill, who asks for it
(显示, journaled: queue_server/domain/resident_names.py). Run once, in the migrations' transaction.
"""

from __future__ import annotations

import json
import sqlite3


def upgrade(conn: sqlite3.Connection, secret: bytes | None) -> None:
    rows = conn.execute("SELECT id, tracking_no, mail_to FROM applications WHERE mail_to IS NOT NULL").fetchall()
    for app_id, tracking_no, mail_to in rows:
        before = json.loads(mail_to)
        if not before.get("phone") or "*" in before["phone"]:
            continue  # no phone, or masked already
        if secret is None:
            raise RuntimeError("migration 024_sealed_mail_phones needs the installation's secret.key")
        # imported here, with a phone to seal: a fresh database does not load cryptography into the process
        # that migrates it (hallq serve's supervising process, whose memory its worker inherits; issue 16)
        from queue_server.domain.contacts import seal_mail_to

        conn.execute("UPDATE applications SET mail_to = ? WHERE id = ?",
                     (json.dumps(seal_mail_to(secret, tracking_no, before), ensure_ascii=False), app_id))
