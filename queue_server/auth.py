"""Who is calling the API: staff sessions and device keys.

* Staff sign in with their job number (工号) and password; passwords are
  argon2id hashes. Five wrong passwords lock the account for five minutes
  (login throttling), and every sign-in, failure and lock is journaled.
* A successful login returns a random bearer token; only its SHA-256 is
  stored, so a copy of the database does not let anyone act as staff.
* Kiosks, call keypads (through the device gateway), boards and rating
  tablets authenticate with their own key (``Authorization: Bearer <key>``),
  also stored only as a SHA-256, and act as themselves.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hallq.clock import iso
from queue_server.db import Database
from queue_server.domain.context import Actor, Hall, Tx
from queue_server.domain.errors import DomainError

SESSION_HOURS = 12
MAX_FAILED = 5
LOCK_MINUTES = 5

_hasher = PasswordHasher()


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_device_key() -> tuple[str, str]:
    """A fresh device key and the SHA-256 to put in the hall config."""
    key = secrets.token_urlsafe(24)
    return key, sha256(key)


def login(db: Database, hall: Hall, job_no: str, password: str) -> dict:
    """Check a password; return a session token and the staff member, or raise Unauthorized.

    The argon2 check (~50 ms by design) runs before the write transaction, so
    a login never holds up the windows. A failure is committed (counted and
    journaled) before it is refused: throttling that rolled back with the
    refusal would never lock anyone out.
    """
    now = hall.now()
    at = iso(now)
    s = db.connection().execute("SELECT * FROM staff WHERE job_no = ? AND active", (job_no,)).fetchone()
    locked = s is not None and bool(s["locked_until"]) and s["locked_until"] > at
    if s is None:
        _hasher.hash(password)  # same time as a real check: don't reveal which job numbers exist
        good = False
    else:
        good = not locked and _verify(s["password_hash"], password)
    refusal: Unauthorized | None = None
    with db.write() as conn:
        tx = Tx(conn, hall, Actor("staff", job_no), now)
        if s is None:
            tx.journal("login_failed", data={"job_no": job_no, "reason": "unknown"})
            refusal = _bad_login()
        elif locked:
            tx.journal("login_refused", data={"job_no": job_no, "reason": "locked"})
            refusal = Unauthorized("密码错误次数过多，请5分钟后再试。", "密碼錯誤次數過多，請5分鐘後再試。",
                                   "Too many wrong passwords; try again in 5 minutes.", code="account_locked")
        elif not good:
            failed = tx.one("UPDATE staff SET failed_logins = failed_logins + 1 WHERE id = ? RETURNING failed_logins",
                            (s["id"],))[0]
            if failed >= MAX_FAILED:
                conn.execute("UPDATE staff SET failed_logins = 0, locked_until = ? WHERE id = ?",
                             (iso(now + timedelta(minutes=LOCK_MINUTES)), s["id"]))
            tx.journal("login_failed", data={"job_no": job_no, "locked": failed >= MAX_FAILED})
            refusal = _bad_login()
        else:
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(hours=SESSION_HOURS)
            conn.execute("UPDATE staff SET failed_logins = 0, locked_until = NULL WHERE id = ?", (s["id"],))
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (tx.at,))
            conn.execute("INSERT INTO sessions (token_sha256, staff_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                         (sha256(token), s["id"], tx.at, iso(expires)))
            tx.journal("login", data={"job_no": job_no})
            result = {"token": token, "expires_at": iso(expires),
                      "staff": {"job_no": s["job_no"], "role": s["role"], "name": s["name"]}}
    if refusal is not None:
        raise refusal
    return result


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def logout(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (sha256(token),))


_devices: dict[str, tuple[Actor, float]] = {}
_devices_lock = threading.Lock()
DEVICE_CACHE_SECONDS = 30.0


def forget_devices() -> None:
    """Drop cached device keys (after the devices table changed)."""
    with _devices_lock:
        _devices.clear()


def actor_for_token(db: Database, hall: Hall, token: str) -> Actor | None:
    """The staff member or device behind a bearer token, or None.

    Device keys change only with the configuration, so they are cached for
    a short while (kiosks call on every press); staff sessions are looked up
    every time, so a logout takes effect at once.
    """
    digest = sha256(token)
    with _devices_lock:
        hit = _devices.get(digest)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    conn = db.connection()
    row = conn.execute(
        "SELECT s.id, s.job_no, s.role, x.expires_at FROM sessions x JOIN staff s ON s.id = x.staff_id "
        "WHERE x.token_sha256 = ? AND s.active", (digest,)).fetchone()
    if row is not None:
        if row["expires_at"] <= iso(hall.now()):
            return None
        return Actor("staff", row["job_no"], role=row["role"], staff_id=row["id"])
    d = conn.execute("SELECT id, kind, windows FROM devices WHERE key_sha256 = ? AND active", (digest,)).fetchone()
    if d is not None:
        # a rating tablet is not a kiosk: it rates, it does not issue numbers
        kind = {"kiosk": "kiosk", "tablet": "tablet"}.get(d["kind"], "device")
        actor = Actor(kind, d["id"], role=d["kind"], windows=tuple(json.loads(d["windows"])))
        with _devices_lock:
            _devices[digest] = (actor, time.monotonic() + DEVICE_CACHE_SECONDS)
        return actor
    return None


def _bad_login() -> Unauthorized:
    return Unauthorized("工号或密码错误。", "工號或密碼錯誤。", "Wrong job number or password.", code="bad_login")
