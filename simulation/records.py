"""What the engine works with: the hall it acts on (a backend), and what it records of the day.

:class:`Backend` is the engine's view of a hall, in the server's JSON shapes;
the real server (:mod:`simulation.driver`) and the in-memory hall
(:mod:`simulation.memory`) implement it. A refusal is :class:`Refused`
with the server's error code. The records are what the report is made of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from simulation.model import Resident
from simulation.scenario import Scenario


class Refused(Exception):
    """The hall refused an action (an API error answer): the code says why."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Backend(Protocol):
    """What the engine needs of a hall. Views are the server's JSON shapes."""

    def set_time(self, at: datetime) -> None: ...
    def tidal_auto(self, on: bool) -> None: ...
    def book(self, r: Resident, day: str) -> str: ...
    def issue(self, r: Resident, ask_id: bool) -> dict[str, Any]: ...
    def check_in(self, code: str) -> dict[str, Any]: ...
    def sign_in(self, window: int) -> dict[str, Any]: ...
    def sign_out(self, window: int) -> dict[str, Any]: ...
    def pause(self, window: int, reason: str) -> dict[str, Any]: ...
    def resume(self, window: int) -> dict[str, Any]: ...
    def set_allocation(self, window: int, serves: list[str]) -> dict[str, Any]: ...
    def call_next(self, window: int, complete_current: bool) -> dict[str, Any] | None: ...
    def recall(self, window: int) -> dict[str, Any]: ...
    def start(self, window: int) -> dict[str, Any]: ...
    def complete(self, window: int) -> dict[str, Any]: ...
    def no_show(self, window: int) -> dict[str, Any]: ...
    def transfer(self, window: int, to_business: str) -> dict[str, Any]: ...
    def requeue(self, public_id: str) -> dict[str, Any]: ...
    def close_day(self) -> dict[str, Any]: ...


@dataclass
class TicketRecord:
    """One ticket's life as the simulator saw it (times from the hall's answers)."""

    resident: Resident
    public_id: str
    label: str
    business: str  # where it was issued
    klass: str
    issued_ms: int
    business_now: str = ""
    first_call_ms: int | None = None
    first_window: int | None = None
    start_ms: int | None = None
    done_ms: int | None = None
    outcome: str = "waiting"  # waiting, called, serving, done, no_show, unserved
    present: bool = True
    recalls: int = 0
    transferred: bool = False
    requeues: int = 0
    requeue_refused: str | None = None
    promise_ms: int | None = None  # where its class's promise starts (an appointment: its slot, if later)
    estimate: int | None = None  # the wait the hall gave when the number was taken (minutes)
    estimate_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class CallRecord:
    """One call (not a recall) as the hall made it: what the bound check replays."""

    ms: int
    window: int
    serves: tuple[str, ...]  # the window's businesses at that moment
    ticket: str  # public id
    business: str
    klass: str
    promise_ms: int


@dataclass
class WindowRecord:
    number: int
    serves: list[str]
    mode: str = "off"  # off, ready (before opening), idle, busy, paused, break
    since: int = 0
    time: dict[str, int] = field(default_factory=dict)
    current: TicketRecord | None = None
    pending: list[tuple[str, int]] = field(default_factory=list)  # after the current one: pause/break/leave
    served: int = 0
    lost: str | None = None  # refused by the hall (paced mode: someone else took the window)


@dataclass
class DayResult:
    """Everything a report needs."""

    scenario: Scenario
    tickets: list[TicketRecord]
    windows: list[WindowRecord]
    turned_away: list[tuple[Resident, str]]
    booked: int
    booking_refused: list[tuple[Resident, str]]
    start_ms: int
    end_ms: int
    closed_ms: int
    expired_at_close: int | None
    events: int
    notes: list[str]
    came_back: int = 0
    calls: list[CallRecord] = field(default_factory=list)
    day_start: datetime | None = None  # the simulated day's local midnight: ms count from it
