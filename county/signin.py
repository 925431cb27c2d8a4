"""The platform's sign-in throttle over PostgreSQL, and the platform's audit journal.

The rules are a hall's (hallq/throttle.py, docs/security.md "Throttling sign-ins"), with the same
``sign_in_*`` keys in county.toml's ``[security]``: wrong passwords are counted per (client address,
username) and per client address over every username; past the free ones, further attempts from that
address wait, doubling, and are refused (429 ``too_many_attempts`` / the sign-in page says how long)
*before* the password is checked: a flood costs one indexed read per attempt and no argon2. Nothing is
counted per username alone, so a supervisor signing in from their own machine is never refused because
of someone else's guesses. A throttle's start and end (``signed_in``, ``quiet``) go in ``audit``.
"""

from __future__ import annotations

import json
import math
import secrets
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from hallq import throttle
from hallq.throttle import ALL_ACCOUNTS, KNOWN_DAYS, QUIET_HOURS


class Throttled(Exception):
    """An attempt that must wait ``seconds`` more: refused before its password is checked."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"throttled for {seconds} s")
        self.seconds = seconds


class Busy(Exception):
    """Another sign-in from the same client is being checked (in this process or another): refused at once, before
    any password is checked (503 ``sign_in_busy``, ``Retry-After: 1``)."""


@contextmanager
def one_at_a_time(conn, client: str):
    """Hold the client's sign-in lock (a PostgreSQL advisory lock on this connection, so every process of the
    platform sees it) while an attempt is checked, or raise :class:`Busy`. Without it, attempts sent together all
    passed the throttle's check before any failure was counted: more guesses than ``sign_in_free_failures``."""
    key = conn.execute("SELECT hashtextextended(%s, 0) AS key", (f"hallq-county-sign-in:{client}",)).fetchone()["key"]
    if not conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (key,)).fetchone()["taken"]:
        raise Busy()
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def audit(conn, actor: str, action: str, site: str | None = None, data: dict[str, Any] | None = None) -> None:
    """Append one entry to the platform's own journal (append-only: a trigger refuses UPDATE and DELETE)."""
    conn.execute("INSERT INTO audit (actor, action, site, data) VALUES (%s, %s, %s, %s)",
                 (actor, action, site, json.dumps(data or {}, ensure_ascii=False)))


def key_of(conn, username: str) -> str:
    """The counter of what was typed as the username: itself for an account, else a keyed hash under the platform's
    own key (hallq/throttle.py: it may be a password typed in the wrong box, and is written nowhere)."""
    known = conn.execute("SELECT 1 FROM accounts WHERE username = %s", (username,)).fetchone() is not None
    if known:
        return username
    conn.execute("INSERT INTO platform_secrets (name, value) VALUES ('throttle', %s) ON CONFLICT DO NOTHING",
                 (secrets.token_bytes(32),))
    key = bytes(conn.execute("SELECT value FROM platform_secrets WHERE name = 'throttle'").fetchone()["value"])
    return throttle.counter_key(username, False, key)


def wait_seconds(conn, rules: throttle.Rules, client: str, username: str) -> int | None:
    """How many seconds an attempt from ``client`` as ``username`` must still wait; None: it may try. Only reads."""
    now = datetime.now(timezone.utc)
    rows = {r["username"]: r for r in conn.execute(
        "SELECT username, refused_until, last_success_at FROM sign_in_throttles WHERE client = %s "
        "AND username IN (%s, %s)", (client, username, ALL_ACCOUNTS))}
    pair = rows.get(username) if username != ALL_ACCOUNTS else None
    until = throttle.refused_until(pair, rows.get(ALL_ACCOUNTS), now, now - timedelta(days=KNOWN_DAYS))
    return None if until is None else max(1, math.ceil((until - now).total_seconds()))


def failed(conn, rules: throttle.Rules, client: str, username: str) -> None:
    """Count a wrong password in both counters, in one transaction; start (and journal) their delays when due."""
    now = datetime.now(timezone.utc)
    with conn.transaction():
        for key, free in throttle.counters(rules, username):
            conn.execute("INSERT INTO sign_in_throttles (client, username) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (client, key))
            row = conn.execute("SELECT * FROM sign_in_throttles WHERE client = %s AND username = %s FOR UPDATE",
                               (client, key)).fetchone()
            f = throttle.after_failure(row, free, rules, now, now - timedelta(hours=QUIET_HOURS))
            if f.ended_quiet:
                _ended(conn, row, "quiet")
            conn.execute("UPDATE sign_in_throttles SET failures = %s, last_failure_at = %s, refused_until = %s, "
                         "throttled_since = %s WHERE client = %s AND username = %s",
                         (f.failures, now, now + f.wait if f.wait is not None else None, f.since, client, key))
            if f.started and f.wait is not None:
                audit(conn, "platform", "sign_in_throttled",
                      data={"client": client, **_account(conn, key), "failures": f.failures,
                            "wait_seconds": int(f.wait.total_seconds())})


def succeeded(conn, client: str, username: str) -> None:
    """A good sign-in: the pair's counter starts again and the client is known for the account."""
    with conn.transaction():
        row = conn.execute("SELECT * FROM sign_in_throttles WHERE client = %s AND username = %s FOR UPDATE",
                           (client, username)).fetchone()
        if row is not None and row["throttled_since"] is not None:
            _ended(conn, row, "signed_in")
        conn.execute("INSERT INTO sign_in_throttles (client, username, last_success_at) VALUES (%s, %s, now()) "
                     "ON CONFLICT (client, username) DO UPDATE SET failures = 0, refused_until = NULL, "
                     "throttled_since = NULL, last_success_at = now()", (client, username))


def forget_quiet(conn) -> int:
    """Housekeeping: end throttles quiet for QUIET_HOURS and drop rows that no longer matter; how many ended."""
    now = datetime.now(timezone.utc)
    quiet, known = now - timedelta(hours=QUIET_HOURS), now - timedelta(days=KNOWN_DAYS)
    with conn.transaction():
        rows = conn.execute("SELECT * FROM sign_in_throttles WHERE throttled_since IS NOT NULL "
                            "AND last_failure_at < %s FOR UPDATE", (quiet,)).fetchall()
        for row in rows:
            _ended(conn, row, "quiet")
        conn.execute("UPDATE sign_in_throttles SET failures = 0, refused_until = NULL, throttled_since = NULL "
                     "WHERE throttled_since IS NOT NULL AND last_failure_at < %s", (quiet,))
        conn.execute("DELETE FROM sign_in_throttles WHERE throttled_since IS NULL "
                     "AND COALESCE(last_failure_at, '-infinity') < %s AND COALESCE(last_success_at, '-infinity') < %s",
                     (quiet, known))
    return len(rows)


def active(conn) -> list[dict[str, Any]]:
    """The throttles in force (refusing now, or ready to double at the next failure), newest first: what the
    console's sign-in page lists for a supervisor, as a hall's accounts page does for its manager."""
    now = datetime.now(timezone.utc)
    # a pair whose name is no account's holds back no one who could sign in, and what was typed may be a password
    # typed in the wrong box: not listed (the client's counter over every account still is)
    rows = conn.execute("SELECT client, username, failures, throttled_since, refused_until FROM sign_in_throttles t "
                        "WHERE throttled_since IS NOT NULL AND last_failure_at >= %s AND (username = '' OR EXISTS "
                        "(SELECT 1 FROM accounts a WHERE a.username = t.username)) "
                        "ORDER BY last_failure_at DESC, client, username", (now - timedelta(hours=QUIET_HOURS),))
    return [{"client": r["client"], "username": r["username"] or None, "failures": r["failures"],
             "since": r["throttled_since"], "refused_until": r["refused_until"],
             "refusing": r["refused_until"] is not None and r["refused_until"] > now} for r in rows]


def lift(conn, client: str, username: str, by: str) -> bool:
    """A supervisor ends a throttle (the owner called: it is them at that address); its counter starts again.
    Journaled in ``audit`` with who lifted it. False when no throttle of that pair is in force."""
    with conn.transaction():
        row = conn.execute("SELECT * FROM sign_in_throttles WHERE client = %s AND username = %s "
                           "AND throttled_since IS NOT NULL FOR UPDATE", (client, username)).fetchone()
        if row is None:
            return False
        _ended(conn, row, "lifted", actor=by)
        conn.execute("UPDATE sign_in_throttles SET failures = 0, refused_until = NULL, throttled_since = NULL "
                     "WHERE client = %s AND username = %s", (client, username))
    return True


def _ended(conn, row: dict, reason: str, actor: str = "platform") -> None:
    since = row["throttled_since"]
    audit(conn, actor, "sign_in_throttle_ended",
          data={"client": row["client"], **_account(conn, row["username"]), "failures": row["failures"],
                "since": since.isoformat() if since else None, "reason": reason})


def _account(conn, key: str) -> dict[str, Any]:
    """A counter's account as the audit journal names it: None for the client's counter over every account; for a
    name that is no account's, None too and ``unknown_account`` (what was typed may be a password typed in the
    wrong box: it is not written down)."""
    if key == throttle.ALL_ACCOUNTS:
        return {"username": None}
    if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (key,)).fetchone() is None:
        return {"username": None, "unknown_account": True}
    return {"username": key}
