"""The MQTT contract: every topic and payload of hallq, defined once.

Topics live under ``hallq/<site>/`` (one site = one hall). The server is the
only publisher of hall state; devices publish only their own availability and
health. Payloads are UTF-8 JSON objects with snake_case keys, ISO-8601 times
and a ``version`` field; a subscriber accepts the major version it knows and
ignores unknown extra keys, so the server can add fields without breaking a
board already on the wall.

Each topic is documented once, with an example payload, in docs/mqtt.md; a
test fails when a topic here has no section there or its example does not
validate against the schema below.

Retained snapshots are published at QoS 0, on purpose: the publisher sends
every snapshot again after each reconnect, and a QoS 1 client re-sends its
unacknowledged messages on reconnect, which could put an older snapshot back
over a newer one at the broker. Events (``calls``) are QoS 1 with a sequence
number: a re-sent event is a duplicate the subscriber recognises.

Use :func:`decode` for everything that arrives: it never raises anything but
:class:`PayloadError`, whatever the bytes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hallq.schema import Arr, Bool, Int, Obj, Schema, Str, Texts, Time, format_problems

VERSION = 1
MAX_PAYLOAD = 256 * 1024  # a board snapshot of a 300-window hall is ~60 KB

_SEG = r"[A-Za-z0-9_-]{1,64}"


@dataclass(frozen=True)
class Topic:
    """One topic family: its pattern, delivery and payload schema."""

    name: str
    pattern: str  # e.g. "hallq/{site}/windows/{number}"
    retained: bool
    qos: int
    publisher: str  # "server" or "device"
    schema: Obj
    summary: str

    def topic(self, site: str, **params: Any) -> str:
        return self.pattern.format(site=site, **params)

    def subscription(self, site: str, **fixed: str) -> str:
        """The subscription filter for every topic of this family (``+`` for each parameter not ``fixed``)."""
        return re.sub(r"\{(\w+)\}", lambda m: fixed.get(m.group(1), "+"), self.pattern.replace("{site}", site))

    def match(self, topic: str) -> dict[str, str] | None:
        """The parameters if ``topic`` belongs to this family, else None."""
        regex = "^" + re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>{_SEG})", re.escape(self.pattern)) + "$"
        m = re.match(regex, topic)
        return m.groupdict() if m else None


class PayloadError(ValueError):
    """A payload that is not what the contract says (logged and ignored by subscribers)."""


def _payload(fields: dict[str, Schema], required: list[str]) -> Obj:
    return Obj({"version": Int(min=1, max=VERSION), **fields}, required=["version", *required], extra=True)


CALL = Obj({
    "seq": Int(min=1, description="call sequence number, +1 per call in the hall; a gap means a missed call"),
    "kind": Str(enum=["call", "recall", "call_back"]),
    "ticket": Str(pattern=r"[A-Z]{1,2}[0-9]{3,4}", description="ticket number as printed, e.g. A001"),
    "business": Str(pattern=r"[a-z][a-z0-9_]{0,31}"),
    "business_name": Texts(),
    "window": Int(min=1, max=999),
    "window_name": Texts(),
    "area": Str(max_len=40),
    "at": Time(),
    "recalls": Int(min=0, description="how many times this ticket has been recalled"),
    "replayed": Bool(description="true on a call the server re-sends after it (re)connected to the broker (committed "
                                 "before that); absent on a live call. Only the announcer reads it"),
}, required=["seq", "kind", "ticket", "business", "window", "at"], extra=True)

QUEUE_SUMMARY = Obj({
    "business": Str(pattern=r"[a-z][a-z0-9_]{0,31}"),
    "name": Texts(),
    "prefix": Str(pattern=r"[A-Z]{1,2}"),
    "waiting": Int(min=0),
    "est_wait_minutes": Int(min=0, nullable=True, description="null when no open window serves it"),
    "est_wait_range": Arr(Int(min=0), min_items=2, max_items=2, nullable=True,
                          description="[low, high] minutes: the real wait falls inside for about 80 % of tickets"),
    "windows_serving": Int(min=0),
    "last_called": Str(max_len=8, nullable=True),
}, required=["business", "waiting", "est_wait_minutes"], extra=True)

CURRENT = Obj({
    "ticket": Str(pattern=r"[A-Z]{1,2}[0-9]{3,4}"),
    "business": Str(max_len=32),
    "state": Str(enum=["called", "serving"]),
    "called_at": Time(),
    "recalls": Int(min=0),
}, required=["ticket", "state"], extra=True)

WINDOW_SUMMARY = Obj({
    "number": Int(min=1, max=999),
    "name": Texts(),
    "area": Str(max_len=40),
    "state": Str(enum=["open", "paused", "closed"]),
    "current": Str(max_len=8, nullable=True, description="ticket being called or served"),
}, required=["number", "state"], extra=True)

STATUS = Topic(
    "status", "hallq/{site}/status/{kind}/{id}", retained=True, qos=1, publisher="any",
    schema=_payload({
        "state": Str(enum=["online", "offline", "stopped"]),
        "at": Time(),
        "software": Str(max_len=40),
    }, ["state"]),
    summary="Availability of each process (server, board, announcer, gateway, kiosk). Retained; "
            "last will \"offline\"; \"online\" on every connect; \"stopped\" on a clean shutdown.",
)

CALLS = Topic(
    "calls", "hallq/{site}/calls", retained=False, qos=1, publisher="server",
    schema=_payload(CALL.fields, CALL.required),
    summary="One event per call, recall and call-back, after it is committed. QoS 1: a subscriber "
            "may see one twice (same seq) and must tolerate it.",
)

BOARD = Topic(
    "board", "hallq/{site}/board", retained=True, qos=0, publisher="server",
    schema=_payload({
        "site": Str(max_len=40),
        "hall_name": Texts(),
        "business_day": Str(pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
        "serving": Bool(description="whether the hall is inside its opening hours now"),
        "issuing": Bool(description="whether numbers can be taken now"),
        "last_seq": Int(min=0, description="seq of the newest call included"),
        "recent_calls": Arr(CALL, max_items=50),
        "queues": Arr(QUEUE_SUMMARY, max_items=26),
        "windows": Arr(WINDOW_SUMMARY, max_items=300),
        "updated_at": Time(),
    }, ["site", "business_day", "recent_calls", "queues", "windows", "updated_at"]),
    summary="Everything a display board shows, newest call first. Retained, so a board switched on "
            "at any time shows the right state at once.",
)

WINDOW = Topic(
    "window", "hallq/{site}/windows/{number}", retained=True, qos=0, publisher="server",
    schema=_payload({
        "number": Int(min=1, max=999),
        "name": Texts(),
        "kind": Str(enum=["acceptance", "tidal", "dedicated", "delivery", "consult"]),
        "area": Str(max_len=40),
        "state": Str(enum=["open", "paused", "closed"]),
        "pause_reason": Str(max_len=200, nullable=True),
        "staff": Obj({"job_no": Str(max_len=16), "name": Str(max_len=40, description="masked: 张*三")},
                     required=["job_no"], nullable=True, extra=True),
        "current": Obj(CURRENT.fields, CURRENT.required, extra=True, nullable=True),
        "held": Int(min=0, description="tickets on hold at this window"),
        "serves": Arr(Str(max_len=32), max_items=26, description="ranked: first is the primary business"),
        "updated_at": Time(),
    }, ["number", "state", "current", "updated_at"]),
    summary="One window's state for its LED strip and the consoles. Retained.",
)

QUEUE = Topic(
    "queue", "hallq/{site}/queues/{business}", retained=True, qos=0, publisher="server",
    schema=_payload({
        **QUEUE_SUMMARY.fields,
        "green_waiting": Int(min=0),
        "issued": Int(min=0),
        "daily_limit": Int(min=0),
        "issuing": Bool(),
        "updated_at": Time(),
    }, ["business", "waiting", "est_wait_minutes", "updated_at"]),
    summary="One business queue: waiting count and estimated wait. Retained.",
)

NOTICES = Topic(
    "notices", "hallq/{site}/notices", retained=True, qos=0, publisher="server",
    schema=_payload({
        "notices": Arr(Obj({
            "id": Int(min=1),
            "text": Texts(),
            "level": Str(enum=["info", "warning", "urgent"]),
            "until": Time(nullable=True),
        }, required=["id", "text", "level"], extra=True), max_items=50),
        "updated_at": Time(),
    }, ["notices", "updated_at"]),
    summary="Notices scrolling on the boards (公告). Retained; an empty list clears them.",
)

DEVICE_HEALTH = Topic(
    "device_health", "hallq/{site}/devices/{owner}/{device}/health", retained=True, qos=0, publisher="device",
    schema=_payload({
        "device": Str(max_len=64),
        "kind": Str(max_len=32, description="printer, id_reader, scanner, led_strip, keypad, rating_pad, audio"),
        "ok": Bool(),
        "problems": Arr(Str(max_len=64), max_items=20, description="codes, e.g. paper_out, unplugged"),
        "detail": Obj({}, extra=True),
        "at": Time(),
    }, ["device", "kind", "ok", "at"]),
    summary="Health of one device (printer paper, reader present, strip unplugged). Published by the "
            "process that drives it (its identity's id is {owner}, which the broker's ACL lets write only "
            "there); retained.",
)

JOURNAL_DATA_MAX = 4096  # bytes of an entry's data an event carries; more is replaced by {"omitted_bytes": n}
JOURNAL_PRIVATE_KEYS = frozenset({"client"})  # a caller's network address stays in the hall's own journal
# a booking's code checks its holder in at a kiosk: it stays in the hall's own journal, not in what goes out
BOOKING_CODE_ACTIONS = frozenset({"appointment_booked", "appointment_cancelled", "appointment_checked_in",
                                  "appointment_no_show", "appointment_no_show_undone", "resident_name_viewed"})

JOURNAL = Topic(
    "journal", "hallq/{site}/journal", retained=False, qos=1, publisher="server",
    schema=_payload({
        "site": Str(pattern=r"[a-z0-9][a-z0-9-]{0,39}", description="the hall: the same as in the topic"),
        "seq": Int(min=1, description="the journal's own sequence number: +1 per entry, never reused"),
        "at": Time(),
        "day": Str(pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}", description="the hall's business day"),
        "actor": Str(max_len=80, description="system, staff:<job no>, kiosk:<id>, device:<id>..."),
        "action": Str(pattern=r"[a-z][a-z0-9_]{0,63}"),
        "ticket": Str(max_len=16, nullable=True),
        "business": Str(max_len=32, nullable=True),
        "window": Int(min=1, max=999, nullable=True),
        "data": Obj({}, extra=True, description="the entry's details as journaled, less the callers' "
                                                "addresses; {\"omitted_bytes\": n} when over 4 KB"),
    }, ["site", "seq", "at", "day", "actor", "action", "data"]),
    summary="Every journal entry of the hall, once committed, for the county platform (bridged by the hall's "
            "broker). QoS 1: a subscriber may see one twice and must tolerate it; a missed one is fetched "
            "from GET /api/v1/journal.",
)

TOPICS: tuple[Topic, ...] = (STATUS, CALLS, BOARD, WINDOW, QUEUE, NOTICES, DEVICE_HEALTH, JOURNAL)


def journal_event(site: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The event of one journal entry (a row of the journal, or an entry of ``GET /journal``), as the hall
    publishes it on ``journal`` and as the county stores it: the same function on both paths, so an entry
    heard live and the same entry fetched over HTTP are the same event, byte for byte. Idempotent."""
    data = entry.get("data") or {}
    # a journal row's text (compact JSON, as Tx.journal writes it) within the limit cannot grow when its
    # private keys are dropped and it is written compactly again: then it need not be measured (the
    # publisher does this for every entry it sends)
    short = isinstance(data, str) and len(data.encode()) <= JOURNAL_DATA_MAX
    if isinstance(data, str):
        data = json.loads(data)
    code_private = entry["action"] in BOOKING_CODE_ACTIONS
    data = {k: v for k, v in data.items() if k not in JOURNAL_PRIVATE_KEYS and not (code_private and k == "code")}
    if not short:
        size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        if size > JOURNAL_DATA_MAX:
            data = {"omitted_bytes": size}
    return {"site": site, "seq": entry["seq"], "at": entry["at"],
            "day": entry.get("day") or entry.get("business_day") or str(entry["at"])[:10],
            "actor": entry["actor"], "action": entry["action"], "ticket": entry.get("ticket"),
            "business": entry.get("business"), "window": entry.get("window"), "data": data}


def encode(topic: Topic, payload: dict[str, Any]) -> bytes:
    """Serialise a payload (adding ``version``); the server validates in tests, not per message."""
    body = {"version": VERSION, **payload}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode(topic: Topic, data: bytes | bytearray | str) -> dict[str, Any]:
    """Parse and validate a payload of ``topic``; raise :class:`PayloadError` saying why.

    Accepts any input without raising anything else: huge, truncated, binary,
    wrong types, future versions.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_PAYLOAD:
        raise PayloadError(f"{topic.name}: payload of {len(data)} bytes exceeds {MAX_PAYLOAD}")
    try:
        # ValueError: not UTF-8, not JSON, NaN or infinity (_finite), an integer of over 4,300 digits (Python's limit)
        value = json.loads(bytes(data).decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as e:
        raise PayloadError(f"{topic.name}: not UTF-8 JSON ({e.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise PayloadError(f"{topic.name}: payload must be a JSON object")
    if (b"\\ud" in data or b"\\uD" in data) and not _encodable(value):
        # JSON's escape \ud800 decodes to a lone surrogate, which has no UTF-8: SQLite, PostgreSQL and any
        # re-encoding refuse it
        raise PayloadError(f"{topic.name}: a text holds a lone surrogate (not Unicode)")
    version = value.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise PayloadError(f"{topic.name}: payload version {version} is newer than {VERSION}; upgrade this device")
    try:
        problems = topic.schema.validate(value)
    except RecursionError:
        raise PayloadError(f"{topic.name}: payload nested too deeply") from None
    if problems:
        raise PayloadError(f"{topic.name}: {format_problems(problems[:5])}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999
        raise ValueError(f"{text[:20]} is not a finite number")
    return number


def texts_in(value: Any) -> Iterator[str]:
    """Every string of a JSON value, keys too, walked without recursion (a value nested thousands deep is fine)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)


def has_utf8(text: str) -> bool:
    """False for a string with a lone surrogate (JSON's ``\\ud800`` decodes to one): no store or encoder takes it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encodable(value: Any) -> bool:
    return all(map(has_utf8, texts_in(value)))


def identify(site: str, topic: str) -> tuple[Topic, dict[str, str]] | None:
    """Which contract topic ``topic`` is (and its parameters), or None for foreign topics.

    Some brokers (amqtt) deliver retained messages of topics a client never
    subscribed to: subscribers filter through this.
    """
    prefix = f"hallq/{site}/"
    if not topic.startswith(prefix):
        return None
    for t in TOPICS:
        params = _match(t, site, topic)
        if params is not None:
            return t, params
    return None


def _match(t: Topic, site: str, topic: str) -> dict[str, str] | None:
    params = t.match(topic)
    if params is None or params.get("site") != site:
        return None
    params.pop("site")
    return params

