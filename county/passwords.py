"""An account of the platform changes its own password (等保 2.0: 身份鉴别信息具有复杂度要求并定期更换).

county.toml gives each account's first password, as a hash (county/registry.py keeps the owner's choice until the file
gives another). A session whose password is temporary (``temporary_password`` in the file) or older than
``[security] password_max_age_days`` may do nothing but change it (the API answers 403 ``password_change_required``,
the console shows the form), as a hall's staff sessions (queue_server/domain/accounts.py).

A change asks for the current password, checked as a sign-in is (the same throttle, one attempt per address at a time:
whoever holds a stolen session cannot guess it at full speed, and a wrong one counts); the new one must pass the halls'
rules (hallq/passwords.py) and differ from the current one. It ends every other session of the account (the one it was
made in stays) and is journaled in ``audit`` (``password_changed``; a password is never written anywhere).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from county import sessions, signin
from hallq.hallconfig import SecuritySettings
from hallq.passwords import password_problem

_hasher = PasswordHasher()


# why a new password is refused: the API's detail (a code) from the halls' rules' message key; the console says it
# in the halls' words, but for the account's name, which is a username here, not a job number
REASONS = {"error.password.too_simple": "too_simple", "error.password.common": "common",
           "error.password.job_no": "contains_username", "error.same_password": "same_as_current"}
REASON_TEXTS = {"too_simple": "error.password.too_simple", "common": "error.password.common",
                "contains_username": "county.password.contains_username", "same_as_current": "error.same_password"}


class Refused(Exception):
    """A change refused: the API's status and code; ``reason`` (one of :data:`REASON_TEXTS`) why a password is weak."""

    def __init__(self, status: int, code: str, reason: str | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.reason = status, code, reason


def verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password[:200])
    except (VerificationError, InvalidHashError):
        return False


def change(conn, rules: SecuritySettings, client: str, username: str, token: str, current: str, new: str) -> None:
    """Change ``username``'s password from ``current`` to ``new``, or raise :class:`Refused` (401 ``bad_password``,
    422 ``weak_password``), :class:`county.signin.Throttled` or :class:`county.signin.Busy`."""
    problem = password_problem(new, username)
    if problem is None and new == current:
        problem = "error.same_password"
    if problem is not None:
        raise Refused(422, "weak_password", REASONS[problem])
    with signin.one_at_a_time(conn, client):
        wait = signin.wait_seconds(conn, rules, client, username)
        if wait is not None:
            raise signin.Throttled(wait)
        row = conn.execute("SELECT password_hash FROM accounts WHERE username = %s AND active", (username,)).fetchone()
        if row is None or not verify(row["password_hash"], current):
            signin.failed(conn, rules, client, username)
            signin.audit(conn, username, "password_check_failed", None, {"client": client})
            raise Refused(401, "bad_password")
        signin.succeeded(conn, client, username)
    fresh = _hasher.hash(new)
    with conn.transaction():
        conn.execute("UPDATE accounts SET password_hash = %s, must_change_password = false, password_changed_at = now() "
                     "WHERE username = %s", (fresh, username))
        ended = conn.execute("DELETE FROM sessions WHERE username = %s AND token_sha256 <> %s",
                             (username, sessions.sha(token))).rowcount
        signin.audit(conn, username, "password_changed", None, {"other_sessions_ended": ended})
