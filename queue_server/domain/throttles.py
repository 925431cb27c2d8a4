"""Sign-in throttling: a guesser is slowed down, and nobody can lock a clerk out.

The rules are hallq/throttle.py's (the county platform's sign-in uses them too); this module keeps a
hall's counters in SQLite and journals them.

Wrong passwords are counted in ``sign_in_throttles`` twice:

* per client and account (``(client, job_no)``): after ``[security] sign_in_free_failures``
  of them, every further attempt from that client for that account must wait, first
  ``sign_in_first_delay_seconds``, then twice as long after each further failure, up to
  ``sign_in_max_delay_minutes``;
* per client, whichever account it tries (``(client, '')``): the same after
  ``sign_in_free_failures_per_client``, against a sweep across every clerk from one machine.
  A client that has signed in as an account before (within ``KNOWN_DAYS``) is not held back
  by this counter for that account, so an address many people share (a NAT, a proxy left out
  of ``trusted_proxies``) does not lock out its regular users.

Nothing is counted per account alone: a correct password from another client is never refused
because of someone else's failures. An attempt during a wait is refused before the password is
checked (429 with ``Retry-After``) and is neither counted nor journaled, so a flood costs one
indexed read per request and takes no write lock from the windows.

A throttle starts when a counter reaches its free failures (journal ``sign_in_throttled``) and
ends (``sign_in_throttle_ended``, with the reason) at a good sign-in of its pair, when a manager
lifts it or a password reset does, or after ``QUIET_HOURS`` without a failure, which the
housekeeping notices (:func:`forget_quiet`).
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from hallq import throttle
from hallq.clock import iso
from hallq.hallconfig import SecuritySettings
from hallq.throttle import ALL_ACCOUNTS, KNOWN_DAYS, QUIET_HOURS
from queue_server.domain.context import Tx
from queue_server.domain.errors import DomainError, Forbidden, NotFound


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"


def refusal(conn: sqlite3.Connection, rules: SecuritySettings, client: str, job_no: str,
            now: datetime) -> TooManyAttempts | None:
    """The refusal for an attempt from ``client`` as ``job_no`` that must still wait, or None. Only reads."""
    at = iso(now)
    rows = {r["job_no"]: r for r in conn.execute(
        "SELECT job_no, refused_until, last_success_at FROM sign_in_throttles WHERE client = ? AND job_no IN (?, ?)",
        (client, job_no, ALL_ACCOUNTS))}
    pair, whole = rows.get(job_no) if job_no != ALL_ACCOUNTS else None, rows.get(ALL_ACCOUNTS)
    until = throttle.refused_until(pair, whole, at, iso(now - timedelta(days=KNOWN_DAYS)))
    if until is None:
        return None
    return too_many_attempts(math.ceil((datetime.fromisoformat(until) - now).total_seconds()))


def too_many_attempts(seconds: int) -> TooManyAttempts:
    seconds = max(1, seconds)
    if seconds < 120:
        return TooManyAttempts("error.too_many_attempts.seconds", seconds=seconds,
                               detail={"retry_after_seconds": seconds})
    return TooManyAttempts("error.too_many_attempts.minutes", minutes=math.ceil(seconds / 60),
                           detail={"retry_after_seconds": seconds})


def record_failure(tx: Tx, client: str, job_no: str) -> None:
    """Count a wrong password from ``client`` for ``job_no`` in both counters; start their delays when due."""
    rules = tx.hall.config.security
    quiet_before = iso(tx.now - timedelta(hours=QUIET_HOURS))
    for key, free in throttle.counters(rules, job_no):
        row = tx.one("SELECT * FROM sign_in_throttles WHERE client = ? AND job_no = ?", (client, key))
        f = throttle.after_failure(row, free, rules, tx.at, quiet_before)
        if f.ended_quiet and row is not None:
            _ended(tx, row, "quiet")
        until = iso(tx.now + f.wait) if f.wait is not None else None
        tx.conn.execute(
            "INSERT INTO sign_in_throttles (client, job_no, failures, last_failure_at, refused_until, throttled_since) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client, job_no) DO UPDATE SET failures = excluded.failures, "
            "last_failure_at = excluded.last_failure_at, refused_until = excluded.refused_until, "
            "throttled_since = excluded.throttled_since", (client, key, f.failures, tx.at, until, f.since))
        if f.started and f.wait is not None:  # started: a wait began
            tx.journal("sign_in_throttled", data={"client": client, **_account(tx.conn, key), "failures": f.failures,
                                                  "wait_seconds": int(f.wait.total_seconds())})


def record_success(tx: Tx, client: str, job_no: str) -> None:
    """A good sign-in: the pair's counter starts again and the pair is known. The client's counter stays."""
    row = tx.one("SELECT * FROM sign_in_throttles WHERE client = ? AND job_no = ?", (client, job_no))
    if row is not None and row["throttled_since"]:
        _ended(tx, row, "signed_in")
    tx.conn.execute(
        "INSERT INTO sign_in_throttles (client, job_no, failures, last_success_at) VALUES (?, ?, 0, ?) "
        "ON CONFLICT (client, job_no) DO UPDATE SET failures = 0, refused_until = NULL, throttled_since = NULL, "
        "last_success_at = excluded.last_success_at", (client, job_no, tx.at))


def lift(tx: Tx, client: str, job_no: str) -> dict[str, Any]:
    """A manager ends a throttle; a manager may lift a clerk's, only an administrator any other."""
    row = tx.one("SELECT * FROM sign_in_throttles WHERE client = ? AND job_no = ? AND throttled_since IS NOT NULL",
                 (client, job_no))
    if row is None:
        raise NotFound("error.unknown_throttle", code="unknown_throttle")
    if tx.actor.role != "admin":
        role = tx.one("SELECT role FROM staff WHERE job_no = ?", (job_no,)) if job_no else None
        if role is None or role["role"] != "staff":
            raise Forbidden("error.admin_only.throttle", code="admin_only")
    _ended(tx, row, "lifted")
    _reset(tx, client, job_no)
    return {"client": client, "job_no": job_no or None, "lifted": True}


def lift_account(tx: Tx, job_no: str, reason: str) -> int:
    """End every throttle of an account (its password was reset); return how many."""
    rows = tx.all("SELECT * FROM sign_in_throttles WHERE job_no = ? AND throttled_since IS NOT NULL", (job_no,))
    for row in rows:
        _ended(tx, row, reason)
        _reset(tx, row["client"], job_no)
    return len(rows)


def quiet_due(conn: sqlite3.Connection, now: datetime) -> bool:
    """Whether :func:`forget_quiet` has anything to do (a look without the write lock)."""
    quiet = iso(now - timedelta(hours=QUIET_HOURS))
    return conn.execute("SELECT 1 FROM sign_in_throttles WHERE COALESCE(last_failure_at, '') < ? "
                        "AND COALESCE(last_success_at, '') < ? LIMIT 1",
                        (quiet, iso(now - timedelta(days=KNOWN_DAYS)))).fetchone() is not None or \
        conn.execute("SELECT 1 FROM sign_in_throttles WHERE throttled_since IS NOT NULL AND last_failure_at < ? "
                     "LIMIT 1", (quiet,)).fetchone() is not None


def forget_quiet(tx: Tx) -> int:
    """Housekeeping: end throttles quiet for ``QUIET_HOURS`` and drop rows that no longer matter."""
    quiet = iso(tx.now - timedelta(hours=QUIET_HOURS))
    rows = tx.all("SELECT * FROM sign_in_throttles WHERE throttled_since IS NOT NULL AND last_failure_at < ?",
                  (quiet,))
    for row in rows:
        _ended(tx, row, "quiet")
        _reset(tx, row["client"], row["job_no"])
    tx.conn.execute("DELETE FROM sign_in_throttles WHERE throttled_since IS NULL AND COALESCE(last_failure_at, '') < ? "
                    "AND COALESCE(last_success_at, '') < ?", (quiet, iso(tx.now - timedelta(days=KNOWN_DAYS))))
    return len(rows)


def active(conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
    """Throttles in force (refusing now, or ready to double at the next failure), newest first."""
    at = iso(now)
    # a pair whose job number is no account's holds back no one who could sign in, and what was typed may be a
    # password typed in the wrong box: not listed (the client's counter over every account still is)
    rows = conn.execute("SELECT * FROM sign_in_throttles t WHERE throttled_since IS NOT NULL AND last_failure_at >= ? "
                        "AND (job_no = '' OR EXISTS (SELECT 1 FROM staff s WHERE s.job_no = t.job_no)) "
                        "ORDER BY last_failure_at DESC, client, job_no",
                        (iso(now - timedelta(hours=QUIET_HOURS)),)).fetchall()
    return [{"client": r["client"], "job_no": r["job_no"] or None, "failures": r["failures"],
             "since": r["throttled_since"], "last_failure_at": r["last_failure_at"],
             "refused_until": r["refused_until"], "refusing": bool(r["refused_until"] and r["refused_until"] > at)}
            for r in rows]


def _ended(tx: Tx, row: sqlite3.Row, reason: str) -> None:
    tx.journal("sign_in_throttle_ended", data={"client": row["client"], **_account(tx.conn, row["job_no"]),
                                               "failures": row["failures"], "since": row["throttled_since"],
                                               "reason": reason})


def _account(conn: sqlite3.Connection, key: str) -> dict[str, Any]:
    """A counter's account as the journal names it: ``job_no`` None for the client's counter over every account;
    for a job number that is no account's, None too and ``unknown_account`` (what was typed is not written down:
    it may be a password typed in the wrong box, and the journal goes to the county)."""
    if key == throttle.ALL_ACCOUNTS:
        return {"job_no": None}
    if conn.execute("SELECT 1 FROM staff WHERE job_no = ?", (key,)).fetchone() is None:
        return {"job_no": None, "unknown_account": True}
    return {"job_no": key}


def key_of(conn: sqlite3.Connection, secret: bytes, job_no: str) -> str:
    """The counter of what was typed as the job number: itself for an account, else a keyed hash (hallq/throttle.py:
    it may be a password typed in the wrong box)."""
    known = conn.execute("SELECT 1 FROM staff WHERE job_no = ?", (job_no,)).fetchone() is not None
    return throttle.counter_key(job_no, known, secret)


def _reset(tx: Tx, client: str, job_no: str) -> None:
    tx.conn.execute("UPDATE sign_in_throttles SET failures = 0, refused_until = NULL, throttled_since = NULL "
                    "WHERE client = ? AND job_no = ?", (client, job_no))
