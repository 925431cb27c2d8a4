"""Staff accounts (工作人员账号): create, reset a password, change a role, deactivate.

Rules:

* roles are ``staff`` (window clerk), ``manager`` (hall manager) and
  ``admin`` (administrator); a manager manages clerk accounts, only an
  administrator creates, changes or resets manager and administrator ones;
* nobody changes their own role or deactivates themselves (a hall must not
  lock its last administrator out by a slip);
* passwords are argon2id hashes (:mod:`queue_server.auth`); a password set by
  someone else (a new account, a reset) is good for one sign-in, and that
  session may do nothing but choose a new one (and sign out, read its own
  account), in the consoles and through the API alike;
* a reset ends every session of the account, a change by its owner every
  other session (the one it was made in stays); deactivating an account ends
  its sessions at once and signs it out of its window; a reset also lifts a
  sign-in lock;
* every change is journaled with who did it; passwords never are.

Hashing (~50 ms by design) is done before the write transaction: the rules
take the hash, :class:`AccountDesk` makes it (:func:`queue_server.auth.hash_password`).
"""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING, Any

from hallq.passwords import MIN_PASSWORD, password_problem
from hallq.privacy import mask_name
from queue_server import auth
from queue_server.domain import throttles
from queue_server.domain import windows as window_rules
from queue_server.domain.context import ACTIVE_STATES, Actor, Tx, any_of
from queue_server.domain.errors import Conflict, Forbidden, Invalid, NotFound

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

ROLES = ("staff", "manager", "admin")
JOB_NO = re.compile(r"[A-Za-z0-9]{2,16}")
def check_password_strength(password: str, job_no: str | None = None) -> None:
    """Refuse a weak password (see :func:`password_problem`) with its reason (422 ``weak_password``)."""
    problem = password_problem(password, job_no)
    if problem is not None:
        raise Invalid(problem, job_no=job_no, min_length=MIN_PASSWORD, code="weak_password")


def _account(tx: Tx, job_no: str) -> sqlite3.Row:
    row = tx.one("SELECT * FROM staff WHERE job_no = ?", (job_no,))
    if row is None:
        raise NotFound("error.unknown_account", job_no=job_no, code="unknown_account")
    return row


def _may_manage(tx: Tx, role: str) -> None:
    a = tx.actor
    if a.role == "admin" or (a.role == "manager" and role == "staff"):
        return
    raise Forbidden("error.admin_only.accounts", code="admin_only")


def _not_self(tx: Tx, row: sqlite3.Row) -> None:
    if row["id"] == tx.actor.staff_id:
        raise Conflict("error.own_account", code="own_account")


def create_account(tx: Tx, job_no: str, name: str, role: str, password_hash: str) -> sqlite3.Row:
    if not JOB_NO.fullmatch(job_no or ""):
        raise Invalid("error.invalid_job_no", code="invalid_job_no")
    if role not in ROLES:
        raise Invalid("error.invalid_role", role=role, code="invalid_role")
    name = (name or "").strip()
    if not 1 <= len(name) <= 40:
        raise Invalid("error.invalid_name", code="invalid_name")
    _may_manage(tx, role)
    if tx.one("SELECT 1 FROM staff WHERE job_no = ?", (job_no,)):
        raise Conflict("error.job_no_taken", job_no=job_no, code="job_no_taken")
    row = tx.row("INSERT INTO staff (job_no, name, role, password_hash) VALUES (?, ?, ?, ?) RETURNING *",
                 (job_no, name, role, password_hash))
    tx.conn.execute("INSERT INTO staff_accounts (staff_id, created_at, created_by, password_changed_at, "
                    "must_change_password) VALUES (?, ?, ?, ?, 1)", (row["id"], tx.at, tx.actor.label, tx.at))
    tx.journal("account_created", data={"job_no": job_no, "role": role})
    return row


def reset_password(tx: Tx, job_no: str, password_hash: str) -> sqlite3.Row:
    """Set a temporary password (good for one sign-in), end the account's sessions, lift a lock."""
    row = _account(tx, job_no)
    _not_self(tx, row)
    _may_manage(tx, row["role"])
    tx.conn.execute("UPDATE staff SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
                    (password_hash, row["id"]))
    _mark_password(tx, row["id"], must_change=True)
    tx.conn.execute("DELETE FROM sessions WHERE staff_id = ?", (row["id"],))
    tx.journal("password_reset", data={"job_no": job_no})
    throttles.lift_account(tx, job_no, "password_reset")
    return _account(tx, job_no)


def change_own_password(tx: Tx, password_hash: str, keep_session: str | None = None) -> int:
    """The signed-in member's new password (the old one was checked by the caller).

    Every other session of the account ends: whoever knew the old password and signed in with it
    is out. ``keep_session`` (the SHA-256 of the token this change was made with) stays, so the
    person who changed it goes on working. Returns how many sessions ended.
    """
    assert tx.actor.staff_id is not None  # a signed-in member
    tx.conn.execute("UPDATE staff SET password_hash = ? WHERE id = ?", (password_hash, tx.actor.staff_id))
    _mark_password(tx, tx.actor.staff_id, must_change=False)
    ended = tx.conn.execute("DELETE FROM sessions WHERE staff_id = ? AND token_sha256 IS NOT ?",
                            (tx.actor.staff_id, keep_session)).rowcount
    tx.journal("password_changed", data={"job_no": tx.actor.id, "sessions_ended": ended})
    return ended


def must_change_password(conn: sqlite3.Connection, staff_id: int | None) -> bool:
    """Whether the account's password was set by someone else and not yet replaced by its owner.

    Such a session may only change the password, sign out and read its own account (the API's
    door, ``queue_server.api._authenticate``, and the console pages both ask here).
    """
    if staff_id is None:
        return False
    row = conn.execute("SELECT must_change_password FROM staff_accounts WHERE staff_id = ?", (staff_id,)).fetchone()
    return bool(row and row[0])


def _mark_password(tx: Tx, staff_id: int, must_change: bool) -> None:
    tx.conn.execute("INSERT INTO staff_accounts (staff_id, password_changed_at, must_change_password) VALUES (?,?,?) "
                    "ON CONFLICT(staff_id) DO UPDATE SET password_changed_at = excluded.password_changed_at, "
                    "must_change_password = excluded.must_change_password", (staff_id, tx.at, int(must_change)))


def set_role(tx: Tx, job_no: str, role: str) -> sqlite3.Row:
    if role not in ROLES:
        raise Invalid("error.invalid_role", role=role, code="invalid_role")
    row = _account(tx, job_no)
    if tx.actor.role != "admin":
        _may_manage(tx, "admin")
    _not_self(tx, row)
    tx.conn.execute("UPDATE staff SET role = ? WHERE id = ?", (role, row["id"]))
    tx.journal("role_changed", data={"job_no": job_no, "from": row["role"], "to": role})
    return _account(tx, job_no)


def set_active(tx: Tx, job_no: str, active: bool) -> sqlite3.Row:
    """Deactivate (sessions end, the window is signed out) or reactivate an account."""
    row = _account(tx, job_no)
    _not_self(tx, row)
    _may_manage(tx, row["role"])
    if not active:
        busy = tx.one("SELECT t.label, t.window FROM tickets t JOIN windows w ON w.number = t.window "
                      f"WHERE w.staff_id = ? AND {any_of('t.state', ACTIVE_STATES)}", (row["id"],))
        if busy:
            raise Conflict("error.window_busy.account", window=busy["window"], label=busy["label"],
                           code="window_busy")
        window_rules.sign_out_account(tx, row["id"], "account_deactivated")
        tx.conn.execute("DELETE FROM sessions WHERE staff_id = ?", (row["id"],))
    tx.conn.execute("UPDATE staff SET active = ? WHERE id = ?", (int(active), row["id"]))
    tx.journal("account_activated" if active else "account_deactivated", data={"job_no": job_no})
    return _account(tx, job_no)


def list_accounts(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT s.*, a.created_at, a.created_by, a.password_changed_at, a.must_change_password, "
        "(SELECT number FROM windows w WHERE w.staff_id = s.id) AS window "
        "FROM staff s LEFT JOIN staff_accounts a ON a.staff_id = s.id ORDER BY s.active DESC, s.role, s.job_no"
    ).fetchall()
    return [account_view(r) for r in rows]


def account_view(r: sqlite3.Row) -> dict[str, Any]:
    keys = r.keys()
    return {
        "job_no": r["job_no"], "name": r["name"], "name_masked": mask_name(r["name"]), "role": r["role"],
        "active": bool(r["active"]), "locked_until": r["locked_until"],
        "window": r["window"] if "window" in keys else None,
        "created_at": r["created_at"] if "created_at" in keys else None,
        "password_changed_at": r["password_changed_at"] if "password_changed_at" in keys else None,
        "must_change_password": bool(r["must_change_password"]) if "must_change_password" in keys else False,
    }


def end_session(tx: Tx, token_sha256: str, journaled: bool = False) -> None:
    """Sign out: the session whose token has this SHA-256 ends; a console's sign-out is journaled."""
    tx.conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (token_sha256,))
    if journaled:
        tx.journal("logout", data={"job_no": tx.actor.id})


# -- the desk: one transaction per change (QueueService.accounts) ---------------------------------

class AccountDesk:
    """Accounts and sign-ins as the API and the consoles use them.

    Every change is one transaction. The slow parts stay outside it: a password is hashed
    (~50 ms) before, and checked as a sign-in checks it (:mod:`queue_server.auth`), throttled and
    one at a time, with its failure committed on its own before the refusal.
    """

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.hall = service.hall

    def login(self, job_no: str, password: str, client: str = "-", console: bool = False) -> dict[str, Any]:
        """A session token and the staff member, or a refusal (:func:`queue_server.auth.login`)."""
        return auth.login(self.service.db, self.hall, job_no, password, client=client, console=console)

    def sign_out(self, actor: Actor, token: str, journaled: bool = False) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            end_session(tx, auth.sha256(token), journaled)
            return {"signed_out": True}
        return self.service._run(actor, None, run)

    def create(self, actor: Actor, job_no: str, name: str, role: str, password: str) -> dict[str, Any]:
        """Create an account (the password is good for one sign-in)."""
        check_password_strength(password, job_no)
        digest = auth.hash_password(password)
        return self.service._run(actor, None, lambda tx: account_view(create_account(tx, job_no, name, role, digest)))

    def reset_password(self, actor: Actor, job_no: str, password: str) -> dict[str, Any]:
        check_password_strength(password, job_no)
        digest = auth.hash_password(password)
        return self.service._run(actor, None, lambda tx: account_view(reset_password(tx, job_no, digest)))

    def change_own_password(self, actor: Actor, current: str, new: str, session_token: str | None = None,
                            client: str = "-") -> dict[str, Any]:
        """Check the current password like a sign-in, then store the new one.

        The account's other sessions end; the one whose token is ``session_token`` (where the
        change was made) stays signed in.
        """
        auth.check_current_password(self.service.db, self.hall, actor, current, client)
        if current == new:
            raise Invalid("error.same_password", code="same_password")
        check_password_strength(new, actor.id)
        digest = auth.hash_password(new)
        keep = auth.sha256(session_token) if session_token else None
        return self.service._run(actor, None, lambda tx: {
            "changed": True, "other_sessions_ended": change_own_password(tx, digest, keep_session=keep)})

    def set_role(self, actor: Actor, job_no: str, role: str) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: account_view(set_role(tx, job_no, role)))

    def set_active(self, actor: Actor, job_no: str, active: bool) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: account_view(set_active(tx, job_no, active)))

    def lift_throttle(self, actor: Actor, client: str, job_no: str | None = None) -> dict[str, Any]:
        """End a sign-in throttle now: of (client, account), or of the client over every account."""
        return self.service._run(actor, None, lambda tx: throttles.lift(tx, client, job_no or throttles.ALL_ACCOUNTS))
