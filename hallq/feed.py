"""What every subscriber hears from the hall: decoded, validated, in order.

The one subscriber of the hall's MQTT events, shared by the display board,
the voice announcer and the device gateway (reconnects and re-subscribing
are :class:`hallq.mqtt.Connection`'s).

:class:`HallFeed` subscribes to the contract topics a subscriber needs,
decodes every message with :func:`hallq.contract.decode` (which only ever
raises ``PayloadError``) and hands good ones on; bad ones (garbage, truncated
JSON, huge, wrong types, a newer version) are logged with the reason and
dropped. Logging is rate-limited (:class:`BadInputLog`) so a misbehaving
publisher cannot fill the disk of a board that runs for months.

:class:`SeqTracker` reads the ``seq`` of call events: a QoS 1 repeat is
recognised and dropped, a gap is reported (the next board snapshot fills
it), and a numbering that restarted (a new server database) is noticed
instead of silencing the subscriber until the numbers catch up.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hallq import contract

log = logging.getLogger("hallq.feed")

NEW, DUPLICATE, GAP, LATE, RESTART = "new", "duplicate", "gap", "late", "restart"


def call_key(call: dict[str, Any]) -> tuple:
    """What makes two deliveries the same call: a QoS 1 repeat is byte-identical."""
    return (call.get("ticket"), call.get("window"), call.get("kind"), call.get("at"))


class SeqTracker:
    """Classifies each call by its ``seq``: new, duplicate, gap, late (a gap filled) or restart."""

    def __init__(self, memory: int = 512) -> None:
        self.memory = memory
        self.last = 0
        self._seen: OrderedDict[int, tuple] = OrderedDict()  # in arrival order
        self._missing: set[int] = set()  # seqs skipped by gaps (bounded)
        self.duplicates = 0
        self.gaps = 0
        self.missing = 0
        self.restarts = 0

    def classify(self, call: dict[str, Any]) -> tuple[str, int]:
        """``(verdict, missing)``; ``missing`` is how many seqs a gap skipped. Remembers the call."""
        seq, key = call["seq"], call_key(call)
        seen = self._seen.get(seq)
        if seen is not None:
            if seen == key:
                self.duplicates += 1
                return DUPLICATE, 0
            return self._restart(call, "a different call")
        if seq > self.last:
            missing = seq - self.last - 1 if self.last else 0
            self.last = seq
            self._remember(seq, key)
            if missing:
                if missing <= self.memory:
                    self._missing.update(range(seq - missing, seq))
                    while len(self._missing) > self.memory:
                        self._missing.discard(min(self._missing))
                self.gaps += 1
                self.missing += missing
                return GAP, missing
            return NEW, 0
        if seq in self._missing:
            self._missing.discard(seq)  # a seq we had missed arrives late
            self._remember(seq, key)
            return LATE, 0
        return self._restart(call, "lower than the last and never missed")

    def _restart(self, call: dict[str, Any], why: str) -> tuple[str, int]:
        log.warning("call numbering restarted (seq %d after %d is %s): the server's database was replaced; "
                    "starting again from it", call["seq"], self.last, why)
        self.restarts += 1
        self.reset(call["seq"])
        self._remember(call["seq"], call_key(call))
        return RESTART, 0

    def remember(self, call: dict[str, Any]) -> None:
        """Mark a call as seen (from a snapshot) so a later repeat of it is a duplicate."""
        seq = call["seq"]
        if seq not in self._seen:
            self._missing.discard(seq)
            self._remember(seq, call_key(call))
        self.last = max(self.last, seq)

    def reset(self, last: int) -> None:
        """Start again after ``last`` (a new business day, a restarted numbering)."""
        self._seen.clear()
        self._missing.clear()
        self.last = last

    def _remember(self, seq: int, key: tuple) -> None:
        self._seen[seq] = key
        while len(self._seen) > self.memory:
            self._seen.popitem(last=False)  # forget the first remembered


class BadInputLog:
    """Logs rejected messages: the first of each kind at once, then a count at most once a minute."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self.rejected = 0
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def __call__(self, topic: str, reason: str) -> None:
        self.rejected += 1
        kind = topic.rsplit("/", 1)[-1] if "/" in topic else topic
        now = time.monotonic()
        last = self._last.get(kind)
        if last is None or now - last >= self.interval:
            quiet = self._quiet.pop(kind, 0)
            more = f" ({quiet} more like it since the last report)" if quiet else ""
            self.logger.warning("ignored a message on %s: %s%s", topic[:200], reason[:300], more)
            self._last[kind] = now
            if len(self._last) > 256:  # bounded: topics are attacker-controlled
                self._last.clear()
                self._quiet.clear()
        else:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1


Deliver = Callable[[contract.Topic, dict[str, str], dict[str, Any]], None]


class HallFeed:
    """Subscribes ``connection`` to ``topics`` of the hall and delivers valid payloads.

    ``deliver(topic, params, payload)`` and ``on_link(connected)`` are called
    in the MQTT network thread; a Kivy app wraps them with ``mainthread``.
    """

    def __init__(self, connection, site: str, topics: tuple[contract.Topic, ...], deliver: Deliver,
                 on_link: Callable[[bool], None] | None = None, narrow: dict[str, dict[str, str]] | None = None) -> None:
        self.connection = connection
        self.site = site
        self.topics = topics
        self.narrow = narrow or {}  # topic family -> parameters fixed in its subscription (what else is not read)
        self._names = {t.name for t in topics}
        self.deliver = deliver
        self.on_link = on_link
        self.bad = BadInputLog(log)
        self.received = 0
        self._identified: dict[str, tuple | None] = {}  # topic → contract topic (a hall has a few dozen)

    def start(self) -> None:
        for t in self.topics:
            self.connection.subscribe(t.subscription(self.site, **self.narrow.get(t.name, {})), self.handle,
                                      qos=1 if t.qos else 0)
        if self.on_link is not None:
            self.connection.on_connect(lambda: self.on_link(True))
            self.connection.on_disconnect(lambda: self.on_link(False))

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """One raw message; never raises."""
        self.received += 1
        try:
            found = self._identified.get(topic, False)
            if found is False:
                found = contract.identify(self.site, topic)
                if len(self._identified) >= 1024:  # bounded: topic names come from outside
                    self._identified.clear()
                self._identified[topic] = found
            if found is None or found[0].name not in self._names:
                return  # a foreign topic (amqtt delivers retained messages of other topics)
            topic_def, params = found
            try:
                value = contract.decode(topic_def, payload)
            except contract.PayloadError as e:
                self.bad(topic, str(e))
                return
            self.deliver(topic_def, params, value)
        except Exception:  # a bug in a subscriber must not stop the board, the announcer or the gateway
            log.exception("could not handle a message on %s (%d bytes)", topic[:200], len(payload))
