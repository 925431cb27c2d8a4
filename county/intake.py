"""What arrives, checked before anything is stored: a hall's journal event, or why it is refused.

Pure functions, no database: :func:`live` reads one MQTT message (topic and raw bytes), :func:`fetched`
one entry of a hall's ``GET /journal`` page. Each returns an :class:`Event` ready to store, or a
:class:`Refused` with the reason (a quarantine code) and a detail an operator can act on:

* ``malformed``: the topic is not a hall's journal topic, the bytes are not UTF-8 JSON, or the payload
  does not match the contract (hallq/contract.py ``JOURNAL``);
* ``oversized``: more bytes than ``[ingest] max_payload_bytes`` (looked at before parsing);
* ``unknown_hall``: the site is not in the county's registry;
* ``site_mismatch``: the payload claims another hall than the topic it came on (the county broker lets
  a hall's account publish under its own site only, so the topic is the authenticated one);
* ``clock_skew``: the entry's time is further ahead of the platform's clock than
  ``max_clock_ahead_seconds``, or older than ``max_age_days``: the hall's clock is wrong, and its
  numbers would land on the wrong day.

Beyond the contract's shape, an event must hold what county-wide code reads from it, so that one hall's event
can never break the console, the alerts or the provincial hand-off of every hall (``malformed``, or
``bad_catchup`` from a journal page): its business ``day`` is a real date within ``DAY_SLACK_DAYS`` of its own
time (the hall writes the local date of that time), and the few ``data`` fields the platform reads have the
types the hall writes (:func:`data_problem`; an integer is never a boolean). A rating's ``reasons``, when it
carries any, are the official 差评 reason codes (:data:`RATING_REASONS`): a made-up text is refused with the
event, never folded into the county's figures or handed to the province.

A stored event is :func:`hallq.contract.journal_event` of what arrived, whichever way it came, and its
digest is the SHA-256 of its canonical JSON: the same entry heard live and fetched over HTTP is the same
event with the same digest; a different entry under a number already used (a hall replaying with a
reset sequence) has another digest, which is how the store tells a duplicate from a conflict.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from county.config import Ingest
from hallq import contract

_TOPIC = re.compile(r"hallq/([a-z0-9][a-z0-9-]{0,39})/journal")
_STATUS = re.compile(r"hallq/([a-z0-9][a-z0-9-]{0,39})/status/server/queue")
KEEP = 4096  # bytes of a refused payload kept in the quarantine
DAY_SLACK_DAYS = 2  # how far an event's business day may be from the date of its own time (the hall's: none)
RATING_LEVELS = range(1, 6)  # 5 非常满意 ... 1 非常不满意 (queue_server/domain/ratings.py)
# the official 差评 reason categories, the only reasons a hall stores (queue_server/domain/ratings.py REASONS; a
# test keeps the two lists the same): a rating that carries another is refused, never folded
RATING_REASONS = frozenset({"slow", "attitude", "unclear_guide", "repeated_visits", "not_solved", "other"})


def _bigint(value: Any) -> bool:
    """Whether PostgreSQL's bigint holds ``value`` (events.seq, quarantine.seq, hall_progress); a boolean is not
    an integer here (JSON's ``true`` is not a number)."""
    return type(value) is int and -2**63 <= value < 2**63


def _real_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and bool(date.fromisoformat(value))
    except ValueError:
        return False


def data_problem(action: str, data: dict[str, Any]) -> str | None:
    """Why the ``data`` of an event of ``action`` cannot be read by the console or the provincial hand-off (the
    fields they read, with the types the hall writes them with), or None.

    >>> data_problem("followup_closed", {"followup": True}), data_problem("rate", {"level": 5, "bad": False})
    ('followup_closed: followup True is not a positive integer', None)
    >>> data_problem("rate", {"level": 1, "reasons": ["slow"]}), data_problem("rate", {"reasons": ["x"]})[:13]
    (None, 'rate: reasons')
    """
    def bad(key: str, what: str) -> str:
        return f"{action}: {key} {str(data[key])[:30]} is not {what}"

    if action == "rate" and "level" in data and not (type(data["level"]) is int and data["level"] in RATING_LEVELS):
        return bad("level", "an integer from 1 to 5")
    if action == "rate" and "reasons" in data and not (
            isinstance(data["reasons"], list) and all(isinstance(r, str) and r in RATING_REASONS
                                                      for r in data["reasons"])):
        return bad("reasons", "a list of the official reason codes (" + ", ".join(sorted(RATING_REASONS)) + ")")
    if action == "followup_closed" and "followup" in data and not (_bigint(data["followup"]) and data["followup"] > 0):
        return bad("followup", "a positive integer")
    if action == "followup_opened" and data.get("due") is not None and not _real_date(data["due"]):
        return bad("due", "a real date (YYYY-MM-DD)")
    if action.startswith("application_"):
        for key in ("tracking_no", "decision"):  # the provincial hand-off looks them up
            if data.get(key) is not None and not isinstance(data[key], str):
                return bad(key, "a text")
    return None


@dataclass(frozen=True)
class Event:
    site: str
    seq: int
    at: datetime
    event: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class Refused:
    reason: str
    detail: str
    site: str | None = None
    seq: int | None = None
    digest: str | None = None
    payload: bytes = b""


def canonical(event: dict[str, Any]) -> bytes:
    """Raises ValueError for what is not valid JSON text: NaN or infinity, a lone surrogate (UnicodeEncodeError)."""
    return json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def digest(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def _has_nul(value: Any) -> bool:
    return any("\x00" in t for t in contract.texts_in(value))


def site_of_status(topic: str) -> str | None:
    m = _STATUS.fullmatch(topic)
    return m.group(1) if m else None


def live(topic: str, payload: bytes, known: set[str] | frozenset[str], rules: Ingest, now: datetime) -> Event | Refused:
    """One MQTT message from the county broker."""
    m = _TOPIC.fullmatch(topic)
    if m is None:
        return Refused("malformed", f"not a hall's journal topic: {topic[:120]!r}", payload=payload[:KEEP])
    site = m.group(1)
    if len(payload) > rules.max_payload_bytes:
        return Refused("oversized", f"{len(payload)} bytes, over max_payload_bytes {rules.max_payload_bytes}",
                       site=site, payload=payload[:KEEP])
    if site not in known:
        return Refused("unknown_hall", f"hall {site!r} is not in the county's registry (county.toml [[halls]])",
                       site=site, payload=payload[:KEEP])
    try:
        value = contract.decode(contract.JOURNAL, payload)
    except ValueError as e:  # a PayloadError, or Python's own limit on an integer's digits (over 4,300)
        return Refused("malformed", str(e)[:500], site=site, payload=payload[:KEEP])
    return _checked(site, value, rules, now, payload)


def fetched(site: str, entry: Any, rules: Ingest, now: datetime) -> Event | Refused:
    """One entry of the hall's ``GET /api/v1/journal`` page (the county's key reads them as events)."""
    raw = json.dumps(entry, ensure_ascii=False, default=str).encode(errors="backslashreplace")[:KEEP]
    if not isinstance(entry, dict):
        return Refused("bad_catchup", "a journal entry that is not a JSON object", site=site, payload=raw)
    value = {"version": contract.VERSION, "site": site, **entry}
    problems = contract.JOURNAL.schema.validate(value)
    if problems:
        from hallq.schema import format_problems

        return Refused("bad_catchup", f"journal entry: {format_problems(problems[:5])}"[:500], site=site,
                       seq=entry.get("seq") if _bigint(entry.get("seq")) else None, payload=raw)
    return _checked(site, value, rules, now, raw, source="catchup")


def _checked(site: str, value: dict[str, Any], rules: Ingest, now: datetime, payload: bytes,
             source: str = "live") -> Event | Refused:
    if value["site"] != site:
        return Refused("site_mismatch", f"the payload says hall {value['site'][:40]!r}, its topic {site!r}",
                       site=site, payload=payload[:KEEP])
    bad = "malformed" if source == "live" else "bad_catchup"
    # what PostgreSQL (or the digest) would refuse fails the whole batch: refused here, like any malformed input
    try:
        event = contract.journal_event(site, value)
        d = digest(event)
    except ValueError as e:
        what = ("a lone surrogate (\\ud800-\\udfff) in a text: not Unicode" if isinstance(e, UnicodeError) else
                "NaN or infinity in data: not JSON")
        return Refused(bad, what, site=site, seq=value["seq"] if _bigint(value["seq"]) else None,
                       payload=payload[:KEEP])
    if not _bigint(event["seq"]):
        return Refused(bad, f"seq {str(event['seq'])[:30]} is beyond what PostgreSQL's bigint holds", site=site,
                       digest=d, payload=payload[:KEEP])
    # PostgreSQL's text and jsonb hold no NUL: it would fail the batch. JSON can carry one only as the escape
    # \u0000 (a raw NUL byte is not valid JSON), so a live message (its whole text at hand) is walked only when
    # its text has that escape; a fetched entry's text here is cut at 4 KB: always walked
    if (source != "live" or b"\\u0000" in payload) and _has_nul(event):
        return Refused(bad, "a NUL character in a text",
                       site=site, seq=event["seq"], digest=d, payload=payload[:KEEP])
    try:
        at = datetime.fromisoformat(event["at"])
        date.fromisoformat(event["day"])
    except ValueError:
        # the shape was right (2026-13-45): a value PostgreSQL would refuse, failing the whole batch
        return Refused(bad, f"at {event['at']!r} or day {event['day']!r} is not a real date and time", site=site,
                       seq=event["seq"], digest=d, payload=payload[:KEEP])
    if at > now + timedelta(seconds=rules.max_clock_ahead_seconds):
        return Refused("clock_skew", f"entry time {event['at']} is {(at - now).total_seconds():.0f} s ahead of the "
                       f"platform's clock (max_clock_ahead_seconds {rules.max_clock_ahead_seconds}): the hall's "
                       "clock is wrong", site=site, seq=event["seq"], digest=d, payload=payload[:KEEP])
    if at < now - timedelta(days=rules.max_age_days):
        return Refused("clock_skew", f"entry time {event['at']} is older than max_age_days {rules.max_age_days}: "
                       "the hall's clock is wrong", site=site, seq=event["seq"], digest=d, payload=payload[:KEEP])
    # the hall writes the local date of the entry's own time: a day far from it (0001-01-01) would put the entry's
    # numbers on a day no report shows, and break the date arithmetic of the county's fold
    if abs((date.fromisoformat(event["day"]) - at.date()).days) > DAY_SLACK_DAYS:
        return Refused(bad, f"day {event['day']} is more than {DAY_SLACK_DAYS} days from the entry's time "
                       f"{event['at']}", site=site, seq=event["seq"], digest=d, payload=payload[:KEEP])
    problem = data_problem(event["action"], event["data"])
    if problem is not None:
        return Refused(bad, problem, site=site, seq=event["seq"], digest=d, payload=payload[:KEEP])
    return Event(site=site, seq=event["seq"], at=at, event=event, digest=d)
