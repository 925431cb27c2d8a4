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
ACTIVE_STATES = ("called", "serving", "held")  # a ticket at a window: the partial index tickets_active


def any_of(column: str, values: tuple[str, ...]) -> str:
    """``column IN (values)`` as SQL that SQLite evaluates without building anything: ``(c = 'a' OR c = 'b' …)``.

    For an IN list of three or more constants SQLite builds a temporary B-tree of the list each time the
    statement runs (a page cache, two 4 KiB pages zeroed, then freed), and a CHECK or a partial index's WHERE
    is evaluated on every write: that was 15 of them per call next and a sixth of its instructions (issue 16,
    schema/025). A partial index is used only by a query repeating its predicate's very expression, so the
    indexes of schema/025 and the queries that name them both take their text from here.
    """
    return "(" + " OR ".join(f"{column} = '{v}'" for v in values) + ")"


ACTIVE_SQL = any_of("state", ACTIVE_STATES)  # tickets_active's WHERE (schema/025), for INDEXED BY tickets_active


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
        # not RETURNING: SQLite keeps a RETURNING's rows in a temporary B-tree made per execution (any_of's note)
        self.conn.execute("INSERT INTO counters (name, value) VALUES (?, 1) "
                          "ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
        return int(self.row("SELECT value FROM counters WHERE name = ?", (name,))[0])

    def update_ticket(self, ticket_id: int, assignments: str, params: tuple = (), where: str = "") -> sqlite3.Row:
        """``UPDATE tickets SET <assignments> WHERE id = ?<where>``, then the row as it left it (LookupError when
        nothing matched). Read back by its key, not ``RETURNING *``, which SQLite buffers in a temporary B-tree
        built and dropped at every execution (any_of's note): one primary-key lookup costs less."""
        if self.conn.execute(f"UPDATE tickets SET {assignments} WHERE id = ?{where}",
                             (*params, ticket_id)).rowcount == 0:
            raise LookupError(f"ticket {ticket_id}: no row WHERE id = ?{where}")
        return self.row("SELECT * FROM tickets WHERE id = ?", (ticket_id,))

    def meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
