"""The platform's sessions: a random token of which only the SHA-256 is stored, ended by sign-out, by its
12 hours, by its account made inactive, and, for a console (browser) session, by
``[security] session_idle_minutes`` without a request (等保 2.0: 登录连接超时自动退出), as a hall's console
sessions are (queue_server/auth.py). A bearer token from ``POST /api/v1/auth/login`` (a script) keeps only the
12-hour limit: its ``last_seen_at`` is NULL. An idle end is journaled in ``audit`` (``session_ended``, reason
``idle``); the last use is written at most once a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from county.signin import audit
from hallq.hallconfig import SecuritySettings

SESSION_HOURS = 12
TOUCH_SECONDS = 60  # the last use is written at most this often, not at every page


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn, username: str, console: bool) -> tuple[str, datetime]:
    """A new session of ``username``: its token (given once, never stored) and its expiry."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(timezone.utc) + timedelta(hours=SESSION_HOURS)
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    conn.execute("INSERT INTO sessions (token_sha256, username, expires_at, last_seen_at) "
                 "VALUES (%s, %s, %s, CASE WHEN %s THEN now() END)", (sha(token), username, expires, console))
    return token, expires


def account(conn, token: str, rules: SecuritySettings) -> dict | None:
    """The account (username, role, site, must_change_password) behind a live session's token, or None; a console
    session unused for ``session_idle_minutes`` is ended here, and a request on one that is not counts as its use.
    ``must_change_password``: a temporary password, or one older than ``password_max_age_days`` (0: never)."""
    row = conn.execute(
        "SELECT a.username, a.role, a.site, s.last_seen_at, "
        "s.last_seen_at < now() - make_interval(mins => %s) AS idle, "
        "s.last_seen_at < now() - make_interval(secs => %s) AS stale, "
        "a.must_change_password OR (%s > 0 AND a.password_changed_at < now() - make_interval(days => %s)) "
        "AS must_change_password "
        "FROM sessions s JOIN accounts a USING (username) "
        "WHERE s.token_sha256 = %s AND s.expires_at > now() AND a.active",
        (rules.session_idle_minutes, TOUCH_SECONDS, rules.password_max_age_days, rules.password_max_age_days,
         sha(token))).fetchone()
    if row is None:
        return None
    if row["idle"]:
        if conn.execute("DELETE FROM sessions WHERE token_sha256 = %s", (sha(token),)).rowcount:
            audit(conn, row["username"], "session_ended", None,
                  {"reason": "idle", "last_seen_at": row["last_seen_at"].isoformat()})
        return None
    if row["stale"]:
        conn.execute("UPDATE sessions SET last_seen_at = now() WHERE token_sha256 = %s", (sha(token),))
    return {k: row[k] for k in ("username", "role", "site", "must_change_password")}


def end(conn, token: str) -> None:
    """Sign out: the session is deleted on the platform, not only forgotten by the browser."""
    conn.execute("DELETE FROM sessions WHERE token_sha256 = %s", (sha(token),))
