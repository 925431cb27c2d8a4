"""What every domain action works with: the hall, the actor, one transaction.

A :class:`Tx` is one open ``BEGIN IMMEDIATE`` transaction plus the moment it
happens (one ``now`` for the whole transaction, so every timestamp written
by one action is the same) and who is acting. Domain functions take a
``Tx`` and raise :class:`~queue_server.domain.errors.DomainError`; the
transaction is rolled back on any exception, so nothing is half-written.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hallq.clock import Clock, iso
from hallq.hallconfig import HallConfig, QueueRules

GREEN, APPOINTMENT, ORDINARY = 0, 1, 2
CLASS_NAMES = {GREEN: "green", APPOINTMENT: "appointment", ORDINARY: "ordinary"}
OPEN_STATES = ("waiting", "called", "serving", "held")


@dataclass(frozen=True)
class Actor:
    """Who does something: a staff member, a kiosk, a device, or the system itself."""

    kind: str  # "staff", "kiosk", "device", "system"
    id: str  # job number or device id
    role: str = ""  # staff role: staff / manager / admin
    staff_id: int | None = None
    windows: tuple[int, ...] = ()  # windows a device may act for
    # a staff session's must-change-password flag as read with the session row at the API's door (one SELECT
    # for both, queue_server.auth.actor_for_token); None: not read, the door asks the database
    must_change_password: bool | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.kind != "system" else "system"

    @property
    def is_manager(self) -> bool:
        return self.kind == "staff" and self.role in ("manager", "admin")


SYSTEM = Actor("system", "system")


@dataclass
class Hall:
    """The hall's runtime: its configuration, clock and secret."""

    config: HallConfig
    clock: Clock
    secret: bytes
    # the hall file's own calendar, hours and appointment rules (queue_server.domain.hall_settings keeps them)
    _file_settings: Any = field(default=None, init=False, repr=False, compare=False)

    def now(self) -> datetime:
        return self.clock.now()


@dataclass
class Tx:
    conn: sqlite3.Connection
    hall: Hall
    actor: Actor
    now: datetime
    journaled: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    # ``now`` as text (at, day), formatted once: an action asks for them ten times and more
    _texts: tuple[datetime, str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def _format(self) -> tuple[datetime, str, str]:
        texts = self._texts = (self.now, iso(self.now), self.now.date().isoformat())
        return texts

    @property
    def at(self) -> str:
        texts = self._texts
        return (texts if texts is not None and texts[0] is self.now else self._format())[1]

    @property
    def day(self) -> str:
        texts = self._texts
        return (texts if texts is not None and texts[0] is self.now else self._format())[2]

    @property
    def rules(self) -> QueueRules:
        return self.hall.config.queue

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def row(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row:
        """The row a statement always gives: ``INSERT … RETURNING``, an aggregate, a row known to exist."""
        row = self.conn.execute(sql, params).fetchone()
        if row is None:
            raise LookupError(f"no row from {sql!r}")
        return row

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def journal(self, action: str, *, ticket: sqlite3.Row | dict | None = None, window: int | None = None,
                business: str | None = None, data: dict[str, Any] | None = None) -> int:
        """Append one entry to the journal (the audit trail and MQTT outbox)."""
        cur = self.conn.execute(
            "INSERT INTO journal (at, business_day, actor, action, ticket_id, ticket, business, window, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.at, self.day, self.actor.label, action,
             ticket["id"] if ticket is not None else None,
             ticket["label"] if ticket is not None else None,
             business or (ticket["business"] if ticket is not None else None),
             window, json.dumps(data or {}, ensure_ascii=False, separators=(",", ":"))),
        )
        entry = cur.lastrowid
        assert entry is not None  # an INSERT sets it
        self.journaled.append(entry)
        self.actions.append(action)
        return entry

    def next_counter(self, name: str) -> int:
        row = self.row("INSERT INTO counters (name, value) VALUES (?, 1) "
                       "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value", (name,))
        return int(row[0])

    def meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
