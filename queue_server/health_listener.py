"""The server's ear on ``hallq/<site>/devices/+/+/health``: each device's latest report, kept for the consoles.

Kiosks and the device gateway publish their devices' health retained, so on
every (re)connect the broker replays the latest report of each; the server
stores it (:func:`queue_server.domain.attention.record_health`) and journals
a change, and the consoles' attention bar shows "kiosk-1-printer: 缺纸" to the
people who can fix it. Only the process that publishes (the MQTT leader)
listens. A report that does not parse is logged (at most once a minute) and
dropped; an empty retained message (a device removed) forgets the device.

A report is its publisher's: the ``<owner>`` of ``devices/<owner>/<device>/health``
is the identity that wrote it (the broker's ACL lets each identity write only
under its own id), and the server keeps it as the report of (owner, device).
A report, or an empty message, from one owner never replaces or forgets what
another owner reported, whatever device it names: ``kiosk-1`` publishing
``devices/kiosk-1/strip-1/health`` cannot hide the gateway's report of its
``strip-1`` (schema/026).

One identity's credentials must not flood the hall (docs/devices.md, "Health and unplugging"):

* **A cap on names.** An owner keeps at most :data:`NAMES_PER_OWNER` device names, plus
  :data:`NAMES_PER_WINDOW` per window of the hall for a gateway (its strips, keypads and rating pads) or an
  identity hall.toml does not list (a gateway named in devices.toml only). A report of a name beyond the
  cap is dropped before it costs anything, with one warning per owner a minute.
* **Flapping is paced.** A device's changes are journalled at most once a minute
  (:class:`queue_server.domain.attention.HealthPace`), and so are their log lines; its row is kept current.
* **Calls first.** The publisher's thread reads the reports (:meth:`HealthListener.offer`: no database, the
  latest report of each (owner, device) only) and stores at most :data:`PER_STEP` of them after each of its
  steps (:meth:`HealthListener.drain`, one transaction per owner), so a flood delays a call by one such
  batch at most. Called directly (``listener(topic, payload, retained)``) a report is stored at once.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import Callable

from hallq import contract
from queue_server.domain import attention
from queue_server.domain.context import Actor

log = logging.getLogger("hallq.health")

NAMES_PER_OWNER = 16  # a kiosk: printer, ID reader, scanner, sound, with room to spare
NAMES_PER_WINDOW = 3  # a gateway's LED strip, call keypad and rating pad at each window
PER_STEP = 8  # reports stored per publisher step: a flood holds a call up by this many at most
WARN_EVERY = 60.0  # seconds between two warnings of one kind (per owner for the cap)


class HealthListener:
    """The subscription's handler; the publisher subscribes :meth:`offer` and calls :meth:`drain` each step."""

    def __init__(self, service, site: str, clock: Callable[[], float] = time.monotonic,
                 per_step: int = PER_STEP) -> None:
        self.service = service
        self.site = site
        self.clock = clock  # for the warnings; the journal's pace goes by the hall's clock
        self.per_step = per_step
        self._match = _topic_matcher(site)
        self.pace = attention.HealthPace()
        self._pending: dict[tuple[str, str], tuple[str, bytes]] = {}  # (owner, device): its latest report
        self._names: dict[str, set[str]] = {}  # per owner: the names it has a row of, or pending
        self._dropped: dict[str, int] = {}  # per owner: reports over the cap since its last warning
        self._warned: dict[str, float] = {}  # "cap <owner>", "bad", "fault": when last warned
        self._retry_at = 0.0  # after a failed transaction, when to try its reports again (self.clock)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __call__(self, topic: str, payload: bytes, retained: bool) -> None:
        """Take the report and store it now (and anything else pending)."""
        self.offer(topic, payload, retained)
        self.drain(everything=True)

    # -- in the MQTT read: cheap, no database but an owner's first sight --------------------------

    def offer(self, topic: str, payload: bytes, retained: bool = False) -> bool:
        """Keep the report for :meth:`drain` (replacing its device's pending one). True if it has new work."""
        found = self._match(topic)
        if found is None:
            return False
        owner, device = found.group("owner", "device")
        key = (owner, device)
        if key in self._pending:
            self._pending[key] = (topic, payload)  # only the latest counts; it keeps its place in line
            return False
        names = self._owner_names(owner)
        if device not in names:
            if not payload:
                return False  # forgetting a device it has no row of: nothing to do
            cap = self.cap(owner)
            if len(names) >= cap:
                self._over_cap(owner, device, cap)
                return False
            names.add(device)
        self._pending[key] = (topic, payload)
        return True

    def cap(self, owner: str) -> int:
        """How many device names ``owner`` may keep."""
        config = self.service.hall.config
        kind = next((d.kind for d in config.devices if d.id == owner), None)
        if kind is None or kind == "gateway":
            return NAMES_PER_OWNER + NAMES_PER_WINDOW * len(config.windows)
        return NAMES_PER_OWNER

    def _owner_names(self, owner: str) -> set[str]:
        names = self._names.get(owner)
        if names is None:
            with self.service.db.read() as conn:
                names = self._names[owner] = attention.health_names(conn, owner)
        return names

    def _over_cap(self, owner: str, device: str, cap: int) -> None:
        self._dropped[owner] = self._dropped.get(owner, 0) + 1
        if self._may_warn(f"cap {owner}"):
            log.warning("dropped a health report of device %r from %s: it already reports %d devices, as many as "
                        "it may (%d reports of new names dropped since the last warning; said at most once a "
                        "minute). A kiosk has a handful of devices, a gateway three per window: an identity "
                        "reporting more is misconfigured or its credentials misused (check that device, "
                        "`hallq status`). Forget a device it no longer has with an empty retained message on "
                        "hallq/%s/devices/%s/<device>/health", device, owner, cap, self._dropped.pop(owner),
                        self.site, owner)

    def _may_warn(self, key: str) -> bool:
        now = self.clock()
        if now - self._warned.get(key, -1e18) < WARN_EVERY:
            return False
        self._warned[key] = now
        return True

    # -- after a publisher step: at most ``limit`` reports, in one transaction ---------------------------

    def drain(self, everything: bool = False) -> bool:
        """Store up to :attr:`per_step` pending reports (``everything``: all) and journal as many held changes
        now due, in one transaction (one fsync). True if work is left for the next step."""
        limit = None if everything else self.per_step
        if not everything and self.clock() < self._retry_at:
            return bool(self._pending)  # the last transaction failed: wait a second before trying again
        reports = []
        for _ in range(len(self._pending) if limit is None else min(limit, len(self._pending))):
            key = next(iter(self._pending))
            reports.append((*key, *self._pending.pop(key)))
        if not reports and not self.pace.any_due(self.service.hall.now()):
            return False  # (no empty transaction: its commit would wake the publisher for nothing)
        said: list[tuple] = []
        due: list[tuple[str, str, int]] = []
        try:
            first = reports[0][0] if reports else self.pace.waiting[0][0]  # (a new day's roll-over says it)
            with self.service.transaction(Actor("device", first)) as tx:
                for owner, device, topic, payload in reports:
                    said += self._guarded(tx, owner, device, topic, payload)
                due = self.pace.due(tx.now, limit)  # after the reports: a change among them carries its count
                for owner, device, held in due:
                    entry = attention.journal_held(replace(tx, actor=Actor("device", owner)), owner, device, held)
                    if entry is not None:
                        said.append(_said(device, owner, entry["kind"], entry["ok"], entry["problems"], held))
        except Exception:  # the transaction failed (the database busy, the disk full): try them again next step
            for owner, device, topic, payload in reports:
                self._pending.setdefault((owner, device), (topic, payload))  # unless a newer one came meanwhile
            self._retry_at = self.clock() + 1.0
            if self._may_warn("fault"):
                log.exception("could not keep %d device health reports, kept for the next step (said at most once "
                              "a minute)", len(reports))
            return True
        for args in said:  # once committed
            log.info(*args)
        return bool(self._pending) or limit is not None and len(due) >= limit

    def _guarded(self, tx, owner: str, device: str, topic: str, payload: bytes) -> list[tuple]:
        """One report in its own savepoint, as its owner (the journal says who reported it)."""
        tx.conn.execute("SAVEPOINT health_report")
        try:
            return self._one(replace(tx, actor=Actor("device", owner)), owner, device, topic, payload)
        except Exception:
            tx.conn.execute("ROLLBACK TO health_report")
            self._settle(owner, device, tx.conn)
            if self._may_warn("fault"):
                log.exception("could not keep a health report on %s (said at most once a minute)", topic)
            return []
        finally:
            tx.conn.execute("RELEASE health_report")

    def _one(self, tx, owner: str, device: str, topic: str, payload: bytes) -> list[tuple]:
        if not payload:  # the owner removed its device: its own report goes, nobody else's
            attention.forget_health(tx, owner, device)
            self.pace.forget(owner, device)
            self._names.get(owner, set()).discard(device)
            return []
        try:
            data = contract.decode(contract.DEVICE_HEALTH, payload)
        except contract.PayloadError as e:
            self._settle(owner, device, tx.conn)
            if self._may_warn("bad"):
                log.warning("ignored a device health report on %s: %s. The device's driver publishes it: "
                            "update that hallq installation (said at most once a minute)", topic, e)
            return []
        if data["device"] != device:  # a report about another device than its topic says: not trusted
            self._settle(owner, device, tx.conn)
            if self._may_warn("bad"):
                log.warning("ignored a health report on %s that names device %r (said at most once a minute)",
                            topic, data["device"])
            return []
        done = attention.record_health(tx, data, owner, self.pace, self.cap(owner))
        if done is None:  # over the cap by the database (another leader kept names meanwhile)
            self._settle(owner, device, tx.conn)
            self._over_cap(owner, device, self.cap(owner))
            return []
        if not done:
            return []
        held = tx.one("SELECT json_extract(data, '$.changes_not_journaled') FROM journal WHERE seq = ?",
                      (tx.journaled[-1],))[0]
        return [_said(data["device"], owner, data["kind"], bool(data["ok"]), data.get("problems") or [], held)]

    def _settle(self, owner: str, device: str, conn=None) -> None:
        """``device`` was not kept: it counts against ``owner``'s cap only if it has a row."""
        names = self._names.get(owner)
        if names is None or device not in names:
            return
        if conn is None:
            with self.service.db.read() as c:
                kept = device in attention.health_names(c, owner)
        else:
            kept = device in attention.health_names(conn, owner)
        if not kept:
            names.discard(device)


def _topic_matcher(site: str) -> Callable[[str], re.Match | None]:
    """``contract.DEVICE_HEALTH.match`` for ``site``, compiled once: ``contract.identify`` builds seven patterns a
    message, nine tenths of what a flooding message cost here."""
    pattern = re.escape(contract.DEVICE_HEALTH.pattern.replace("{site}", site))
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>{contract._SEG})", pattern) + "$").match


def _said(device: str, owner: str, kind: str, ok: bool, problems: list[str], held: int | None) -> tuple:
    state = "ok" if ok and not problems else ", ".join(problems or ["not ok"])
    if held:
        return ("device %s of %s (%s): %s (and %d changes since its last journal entry, not journalled: it is flapping)",
                device, owner, kind, state, held)
    return "device %s of %s (%s): %s", device, owner, kind, state


def health_handler(service, site: str) -> tuple[str, HealthListener]:
    """The topic filter and the handler to subscribe with (the publisher drives its :meth:`~HealthListener.drain`)."""
    return contract.DEVICE_HEALTH.pattern.format(site=site, owner="+", device="+"), HealthListener(service, site)
