"""The sign-in throttle's rules, whatever keeps the counters: a hall's SQLite and the county's PostgreSQL.

One policy, written once (docs/security.md, "Throttling sign-ins"): wrong passwords are counted per
(client, account) and per client over every account (:data:`ALL_ACCOUNTS`); after the free failures of
a counter, further attempts from that client wait, doubling from ``sign_in_first_delay_seconds`` up to
``sign_in_max_delay_minutes``; a client that signed in as an account within :data:`KNOWN_DAYS` is not
held back by its counter over every account; a counter quiet for :data:`QUIET_HOURS` starts again.

The stores (``queue_server.domain.throttles`` for a hall, ``county.signin`` for the county) read and
write their rows and journal the starts and ends; the decisions are the functions here. Times are
compared as the store keeps them (ISO text in SQLite, ``datetime`` in PostgreSQL): ``now`` and the
limits passed in must be of the same kind as the rows' values.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

ALL_ACCOUNTS = ""  # the account of a client's counter over every account
QUIET_HOURS = 24  # a counter without failures this long starts again from zero
KNOWN_DAYS = 90  # a good sign-in keeps a (client, account) pair known this long


class Rules(Protocol):
    """What the rules read of a ``[security]`` section (hallq.hallconfig.SecuritySettings)."""

    @property
    def sign_in_free_failures(self) -> int: ...
    @property
    def sign_in_free_failures_per_client(self) -> int: ...
    @property
    def sign_in_first_delay_seconds(self) -> int: ...
    @property
    def sign_in_max_delay_minutes(self) -> int: ...


def delay(failures: int, free: int, rules: Rules) -> timedelta | None:
    """How long attempts wait after ``failures`` wrong passwords, with ``free`` of them free.

    >>> from hallq.hallconfig import SecuritySettings
    >>> rules = SecuritySettings(sign_in_first_delay_seconds=60, sign_in_max_delay_minutes=30)
    >>> [delay(f, 5, rules) for f in (4, 5, 6)]
    [None, datetime.timedelta(seconds=60), datetime.timedelta(seconds=120)]
    >>> delay(20, 5, rules)
    datetime.timedelta(seconds=1800)
    """
    if failures < free:
        return None
    cap = rules.sign_in_max_delay_minutes * 60
    doublings = failures - free
    seconds = cap if doublings >= 32 else min(cap, rules.sign_in_first_delay_seconds * 2 ** doublings)
    return timedelta(seconds=seconds)


def counter_key(account: str, is_account: bool, secret: bytes) -> str:
    """The name a (client, name) counter is kept under. An account's own name as it is; a name that is no account's
    (it may be a password typed in the wrong box) only as a keyed hash, ``?`` and 32 hex digits, which no account name
    can be: what was typed is written nowhere, and the same typing still meets the same counter, as a real name would
    (an unknown name is throttled exactly as a known one, so the throttle does not tell which names exist)."""
    if is_account or account == ALL_ACCOUNTS:
        return account
    return "?" + hmac.new(secret, b"hallq sign-in throttle name v1\0" + account.encode(), hashlib.sha256).hexdigest()[:32]


def counters(rules: Rules, account: str) -> list[tuple[str, int]]:
    """The counters a wrong password for ``account`` adds to, each with its free failures."""
    out = [(ALL_ACCOUNTS, rules.sign_in_free_failures_per_client)]
    if account != ALL_ACCOUNTS:
        out.insert(0, (account, rules.sign_in_free_failures))
    return out


def refused_until(pair: Any, whole: Any, now: Any, known_after: Any) -> Any:
    """Until when an attempt must wait, from its (client, account) row and its client's row (each None when there
    is none; a row is anything indexed by column name); None: go on.

    ``known_after``: a good sign-in of the pair later than this makes the client known for the account, and
    then the client's counter over every account does not hold it back."""
    until = None
    if pair is not None and pair["refused_until"] and pair["refused_until"] > now:
        until = pair["refused_until"]
    known = pair is not None and bool(pair["last_success_at"]) and pair["last_success_at"] > known_after
    if whole is not None and whole["refused_until"] and whole["refused_until"] > now and not known:
        until = whole["refused_until"] if until is None else max(until, whole["refused_until"])
    return until


@dataclass(frozen=True)
class Failure:
    """A counter after one more wrong password."""

    failures: int
    wait: timedelta | None      # how long attempts now wait (None: still free)
    since: Any                  # when its throttle started (None: not throttled)
    started: bool               # its throttle starts with this failure: journal it
    ended_quiet: bool           # its previous throttle had gone quiet: journal its end first


def after_failure(row: Any, free: int, rules: Rules, now: Any, quiet_before: Any) -> Failure:
    """One more wrong password on a counter (``row`` None: none yet); ``quiet_before``: now less QUIET_HOURS."""
    failures, since, ended = 1, None, False
    if row is not None:
        quiet = not row["last_failure_at"] or row["last_failure_at"] < quiet_before
        ended = quiet and bool(row["throttled_since"])
        if not quiet:
            failures, since = row["failures"] + 1, row["throttled_since"]
    wait = delay(failures, free, rules)
    started = wait is not None and since is None
    return Failure(failures, wait, now if started else since, started, ended)
