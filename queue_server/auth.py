"""Who is calling the API: staff sessions and device keys.

* Staff sign in with their job number (工号) and password; passwords are
  argon2id hashes. Wrong passwords slow down further attempts from the same
  client (:mod:`queue_server.domain.throttles`: per client and account, and
  per client), never an account for everyone; every sign-in, failure and
  throttle is journaled. A password older than ``[security]
  password_max_age_days`` signs in with the must-change flag set, as a reset
  does, so the session can do nothing but change it.
* A successful login returns a random bearer token; only its SHA-256 is
  stored, so a copy of the database does not let anyone act as staff. A
  console (browser) session also ends after ``[security]
  session_idle_minutes`` without a request of the person's own (the pages'
  background refreshes send ``X-Hallq-Background`` and do not count).
* Kiosks, call keypads (through the device gateway), boards and rating
  tablets authenticate with their own key (``Authorization: Bearer <key>``),
  also stored only as a SHA-256, and act as themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from datetime import timedelta

from argon2 import PasswordHasher

from hallq.clock import iso
from queue_server import password_checks
from queue_server.db import Database
from queue_server.domain import throttles
from queue_server.domain.context import Actor, Hall, Tx
from queue_server.domain.errors import DomainError

SESSION_HOURS = 12
TOUCH_SECONDS = 60  # a console session's last request is written at most once a minute

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


UNKNOWN_ACCOUNT = "?"  # the journal's actor of a failed sign-in that named no active account


def login(db: Database, hall: Hall, job_no: str, password: str, client: str = "-", console: bool = False) -> dict:
    """Check a password; return a session token and the staff member, or raise.

    ``client``: the caller's address (:mod:`queue_server.clients`), whose failures are counted;
    ``console``: a browser session, which ends after ``session_idle_minutes`` unused.

    Raises :class:`Unauthorized` (401) for a wrong job number or password,
    :class:`~queue_server.domain.throttles.TooManyAttempts` (429, with the seconds to wait in
    ``detail``) while this client must wait, :class:`~queue_server.password_checks.SignInBusy`
    (503) when this client already has a sign-in in progress or too many are.

    An attempt that must wait is refused before the password is checked, with one read and no
    write. The argon2 check runs before the write transaction, one at a time at the lowest CPU
    priority (:mod:`queue_server.password_checks`), so a flood of sign-ins never holds up the
    windows. A failure is committed (counted and journaled) before it is refused: throttling
    that rolled back with the refusal would never slow anyone down.
    """
    rules = hall.config.security
    now = hall.now()
    conn = db.connection()
    counter = throttles.key_of(conn, hall.secret, job_no)  # a name that is no account's is kept only as a hash
    refused = throttles.refusal(conn, rules, client, counter, now)
    if refused is not None:
        raise refused
    with password_checks.one_check(client):
        now = hall.now()
        refused = throttles.refusal(conn, rules, client, counter, now)  # a parallel attempt may have started a delay
        if refused is not None:
            raise refused
        s = conn.execute("SELECT s.*, a.password_changed_at, a.must_change_password FROM staff s "
                         "LEFT JOIN staff_accounts a ON a.staff_id = s.id WHERE s.job_no = ? AND s.active",
                         (job_no,)).fetchone()
        # an unknown job number takes as long as a known one: which ones exist is not revealed
        good = password_checks.check(s["password_hash"] if s is not None else None, password)
        with db.write() as conn_w:
            # what was typed as the job number is not an account's: it may be a password typed in the wrong
            # box, and the journal goes to the county (MQTT): it is not written down, only that it named no one
            known = s is not None
            tx = Tx(conn_w, hall, Actor("staff", job_no if known else UNKNOWN_ACCOUNT), now)
            if not good:
                throttles.record_failure(tx, client, job_no if known else counter)
                tx.journal("login_failed", data={"job_no": job_no if known else None, "client": client,
                                                 "reason": "password" if known else "unknown"})
            else:
                throttles.record_success(tx, client, job_no)
                must_change = bool(s["must_change_password"]) or _expired(tx, s, rules.password_max_age_days)
                token = secrets.token_urlsafe(32)
                expires = now + timedelta(hours=SESSION_HOURS)
                conn_w.execute("DELETE FROM sessions WHERE expires_at < ?", (tx.at,))
                conn_w.execute("INSERT INTO sessions (token_sha256, staff_id, created_at, expires_at, last_seen_at) "
                               "VALUES (?, ?, ?, ?, ?)", (sha256(token), s["id"], tx.at, iso(expires),
                                                          tx.at if console else None))
                tx.journal("login", data={"job_no": job_no, "client": client, "console": console})
                result = {"token": token, "expires_at": iso(expires), "must_change_password": must_change,
                          "staff": {"job_no": s["job_no"], "role": s["role"], "name": s["name"]}}
    if not good:
        raise _bad_login()
    return result


def check_current_password(db: Database, hall: Hall, actor: Actor, password: str, client: str = "-") -> None:
    """Raise unless ``password`` is ``actor``'s current one, checked exactly as a sign-in is.

    A password change asks for the current password; without the sign-in's throttle and slow,
    one-at-a-time check, whoever held a stolen session could guess it at full speed. A wrong one
    counts towards the same (client, account) delay and is journaled (``password_check_failed``).
    """
    rules = hall.config.security
    conn = db.connection()
    refused = throttles.refusal(conn, rules, client, actor.id, hall.now())
    if refused is not None:
        raise refused
    with password_checks.one_check(client):
        row = conn.execute("SELECT password_hash FROM staff WHERE id = ? AND active", (actor.staff_id,)).fetchone()
        good = password_checks.check(row["password_hash"] if row is not None else None, password)
        with db.write() as conn_w:
            tx = Tx(conn_w, hall, actor, hall.now())
            if good:
                throttles.record_success(tx, client, actor.id)
            else:
                throttles.record_failure(tx, client, actor.id)
                tx.journal("password_check_failed", data={"job_no": actor.id, "client": client})
    if not good:
        raise Unauthorized("error.bad_password", code="bad_password")


def _expired(tx: Tx, s: sqlite3.Row, max_age_days: int) -> bool:
    """Set the must-change flag (the one a reset sets) when the password is older than the limit.

    An account from hall.toml that never signed in has no date yet: its age counts from now.
    """
    if s["password_changed_at"] is None:
        tx.conn.execute("INSERT INTO staff_accounts (staff_id, password_changed_at) VALUES (?, ?) ON CONFLICT(staff_id) "
                        "DO UPDATE SET password_changed_at = excluded.password_changed_at", (s["id"], tx.at))
        return False
    if not max_age_days or s["password_changed_at"] > iso(tx.now - timedelta(days=max_age_days)):
        return False
    tx.conn.execute("UPDATE staff_accounts SET must_change_password = 1 WHERE staff_id = ?", (s["id"],))
    tx.journal("password_expired", data={"job_no": s["job_no"], "changed_at": s["password_changed_at"],
                                         "max_age_days": max_age_days})
    return True


# Device keys, cached in memory: a kiosk presses on every request, and its key was a sha256 and two SELECTs
# (the sessions first, always missing for a device). The cache is exact: the devices change only when a hall
# config is applied (queue_server/hallsync.py), which then calls :func:`devices_changed`; that replaces a
# small file beside the database, and every process sees the file's identity change (a stat, ~1 µs) on its
# next request and forgets its cached keys, so a revoked key is refused at once by every worker, not after a
# timeout. The timeout stays as a belt for a devices table edited by hand.
_devices: dict[tuple[str, str], tuple[Actor, float]] = {}
_devices_seen: dict[str, tuple[int, int]] = {}  # database path -> identity of its devices-changed.stamp file
_devices_lock = threading.Lock()
DEVICE_CACHE_SECONDS = 30.0
DEVICES_CHANGED = "devices-changed.stamp"
_signal_paths: dict[str, str] = {}  # database path (absolute) -> its devices-changed.stamp


def forget_devices() -> None:
    """Drop cached device keys (this process only; :func:`devices_changed` tells every process)."""
    with _devices_lock:
        _devices.clear()


def devices_changed(db: Database) -> None:
    """The devices table of ``db`` changed: every process drops its cached keys before its next request."""
    forget_devices()
    if db.path == ":memory:":
        return  # no other process can open it
    path = _signal_path(db)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(secrets.token_hex(8))
    os.replace(tmp, path)  # a new file (inode): seen by every process's stat


def _signal_path(db: Database) -> str:
    path = _signal_paths.get(db.path)  # asked on every device request: abspath is a getcwd and four string steps
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(db.path)), DEVICES_CHANGED)
        if os.path.isabs(db.path):  # a relative one follows the working directory
            _signal_paths[db.path] = path
    return path


def _devices_generation(db: Database) -> tuple[int, int]:
    try:
        st = os.stat(_signal_path(db))
    except OSError:
        return (0, 0)
    return (st.st_ino, st.st_mtime_ns)


def _cached_device(db: Database, digest: str) -> Actor | None:
    generation = _devices_generation(db)
    with _devices_lock:
        if _devices_seen.get(db.path) != generation:
            for key in [k for k in _devices if k[0] == db.path]:
                del _devices[key]
            _devices_seen[db.path] = generation
            return None
        hit = _devices.get((db.path, digest))
    return hit[0] if hit is not None and hit[1] > time.monotonic() else None


def actor_for_token(db: Database, hall: Hall, token: str, activity: bool = True) -> Actor | None:
    """The staff member or device behind a bearer token, or None.

    Device keys are cached in memory, invalidated in every process the moment a config changes the
    devices (:func:`devices_changed`); staff sessions are looked up every time, so a logout takes
    effect at once. A console session unused for ``session_idle_minutes`` ends here;
    ``activity=False`` (a page's background refresh) does not count as use.
    """
    digest = sha256(token)
    cached = _cached_device(db, digest)
    if cached is not None:
        return cached
    conn = db.connection()
    row = conn.execute(
        "SELECT s.id, s.job_no, s.role, x.expires_at, x.last_seen_at, a.must_change_password FROM sessions x "
        "JOIN staff s ON s.id = x.staff_id LEFT JOIN staff_accounts a ON a.staff_id = s.id "
        "WHERE x.token_sha256 = ? AND s.active", (digest,)).fetchone()
    if row is not None:
        now = hall.now()
        if row["expires_at"] <= iso(now):
            return None
        if row["last_seen_at"] is not None and not _still_in_use(db, hall, digest, row, now, activity):
            return None
        return Actor("staff", row["job_no"], role=row["role"], staff_id=row["id"],
                     must_change_password=bool(row["must_change_password"]))
    d = conn.execute("SELECT id, kind, windows FROM devices WHERE key_sha256 = ? AND active", (digest,)).fetchone()
    if d is not None:
        # a rating tablet is not a kiosk: it rates, it does not issue numbers; the county platform only reads
        # the journal (docs/county.md); the platform's routing key only files and follows routed applications
        kind = {"kiosk": "kiosk", "tablet": "tablet", "county": "county", "routing": "routing"}.get(d["kind"], "device")
        actor = Actor(kind, d["id"], role=d["kind"], windows=tuple(json.loads(d["windows"])))
        with _devices_lock:
            _devices[(db.path, digest)] = (actor, time.monotonic() + DEVICE_CACHE_SECONDS)
        return actor
    return None


def _still_in_use(db: Database, hall: Hall, digest: str, row: sqlite3.Row, now, activity: bool) -> bool:
    """End a console session idle too long (journaled); note the last use of one that is not."""
    idle = timedelta(minutes=hall.config.security.session_idle_minutes)
    if row["last_seen_at"] < iso(now - idle):
        with db.write() as conn:
            if conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest,)).rowcount:
                Tx(conn, hall, Actor("staff", row["job_no"]), now).journal(
                    "session_ended", data={"job_no": row["job_no"], "reason": "idle",
                                           "last_seen_at": row["last_seen_at"]})
        return False
    if activity and row["last_seen_at"] < iso(now - timedelta(seconds=TOUCH_SECONDS)):
        with db.write() as conn:
            conn.execute("UPDATE sessions SET last_seen_at = ? WHERE token_sha256 = ?", (iso(now), digest))
    return True


def _bad_login() -> Unauthorized:
    return Unauthorized("error.bad_login", code="bad_login")
