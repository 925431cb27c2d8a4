"""The real server as the simulator's hall: HTTP with the demo accounts, and the clock.

* :class:`ServerHall` is the engine's backend over HTTP (:class:`hallq.client.HallClient`):
  the kiosk key takes numbers and checks in bookings, each window's clerk signs
  in with their own account, the manager changes allocations, moves the
  virtual clock and closes the day.
* Two ways to keep time: :class:`SteppedClock` moves a ``--virtual-clock``
  server's clock event by event (``PUT /api/v1/clock`` with rate 0), so a day
  runs as fast as the server answers; :class:`PacedClock` waits for the
  server's own clock (the demo: real time, the board and voice come alive).
* :func:`own_server` starts a fresh server for one scenario on its own data
  directory, so scenarios never disturb each other.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from unittest import mock

from hallq.client import ApiError, HallClient, Unreachable
from hallq.clock import iso
from simulation.records import Refused
from simulation.model import Resident
from simulation.scenario import Simulation

log = logging.getLogger("hallq.simulate")


class SimulationError(RuntimeError):
    """The server failed (5xx, unreachable) or refused what a simulation cannot do without."""


class ServerHall:
    """The engine's backend: the real server over HTTP."""

    def __init__(self, base_url: str, sim: Simulation, timeout: float = 10.0) -> None:
        self.url = base_url
        self.sim = sim
        self.timeout = timeout
        self.kiosk = HallClient(base_url, token=sim.kiosk_key, timeout=timeout, retries=2)
        self._manager: HallClient | None = None
        self._clerks: dict[int, HallClient] = {}
        self.requests = 0
        self._time: datetime | None = None
        self.items: dict[str, str] = {}

    # -- accounts -----------------------------------------------------------------------

    def _login(self, job_no: str) -> HallClient:
        c = HallClient(self.url, timeout=self.timeout, retries=1)
        try:
            c.login(job_no, self.sim.password)
        except ApiError as e:
            raise SimulationError(f"cannot sign in as {job_no}: {e.message('en')} (is [simulation] password right "
                                  "and the account in the hall config?)") from None
        self.requests += 1
        return c

    def manager(self) -> HallClient:
        if self._manager is None:
            self._manager = self._login(self.sim.manager)
        return self._manager

    def clerk(self, window: int) -> HallClient:
        if window not in self._clerks:
            self._clerks[window] = self._login(self.sim.staff[window])
        return self._clerks[window]

    def _call(self, who: Callable[[], HallClient], method: str, path: str, body: dict | None = None,
              idempotent: bool = False) -> Any:
        """One request; a refusal becomes :class:`Refused`, an expired session is renewed once."""
        for attempt in (1, 2):
            client = who()
            self.requests += 1
            try:
                if idempotent:
                    return client.post(path, body, idempotent=True)
                return client.request(method, path, body)
            except Unreachable as e:
                raise SimulationError(f"the server at {self.url} does not answer ({e.detail.get('cause')})") from None
            except ApiError as e:
                if e.status == 401 and attempt == 1 and client is not self.kiosk:
                    self._forget(client)  # sessions last 12 hours of the (virtual) clock: sign in again
                    continue
                if e.status >= 500 or e.status == 0:
                    raise SimulationError(f"{method} {path}: the server answered {e.status} {e.code}: "
                                          f"{e.message('en')}") from None
                raise Refused(e.code, e.message("en")) from None
        raise AssertionError("unreachable")

    def _forget(self, client: HallClient) -> None:
        if client is self._manager:
            self._manager = None
        for n, c in list(self._clerks.items()):
            if c is client:
                del self._clerks[n]

    def _window(self, window: int, action: str, body: dict | None = None) -> dict[str, Any]:
        return self._call(lambda: self.clerk(window), "POST", f"/windows/{window}/{action}", body or {})

    # -- the backend ---------------------------------------------------------------------------

    def set_time(self, at: datetime) -> None:
        if at != self._time:
            self._call(self.manager, "PUT", "/clock", {"now": iso(at), "rate": 0})
            self._time = at

    def set_time_rate(self, now: datetime, rate: int) -> None:
        """Let a virtual clock run at ``rate`` times real time (paced mode at another speed)."""
        self._call(self.manager, "PUT", "/clock", {"now": iso(now), "rate": rate})

    def tidal_auto(self, on: bool) -> None:
        try:
            self._call(self.manager, "PUT", "/tidal/auto", {"auto_assign": on})
        except Refused as e:
            if on:
                raise SimulationError(f"this server cannot switch tidal windows automatically ({e.code})") from None
            log.info("the server has no tidal automation to switch off (%s)", e.code)

    def book(self, r: Resident, day: str) -> str:
        item, start = r.appointment
        result = self._call(lambda: self.kiosk, "POST", "/appointments", {
            "item": item, "date": day, "start": start, "name": r.name, "id_number": r.id_number, "phone": r.phone},
            idempotent=True)
        return result["code"]

    def issue(self, r: Resident, ask_id: bool) -> dict[str, Any]:
        b = self.sim.hall.businesses[r.business]
        body: dict[str, Any] = {"business": r.business}
        if ask_id:
            body["id_number"] = r.id_number
        if b.ticket_requires == "phone" or (b.ticket_requires == "id_or_phone" and not ask_id):
            body["phone"] = r.phone
        return self._call(lambda: self.kiosk, "POST", "/tickets", body, idempotent=True)

    def check_in(self, code: str) -> dict[str, Any]:
        return self._call(lambda: self.kiosk, "POST", "/appointments/check-in", {"code": code}, idempotent=True)

    def requeue(self, public_id: str) -> dict[str, Any]:
        return self._call(lambda: self.kiosk, "POST", "/tickets/requeue", {"id": public_id}, idempotent=True)

    def sign_in(self, window: int) -> dict[str, Any]:
        return self._window(window, "sign-in")

    def sign_out(self, window: int) -> dict[str, Any]:
        return self._window(window, "sign-out")

    def pause(self, window: int, reason: str) -> dict[str, Any]:
        return self._window(window, "pause", {"reason": reason})

    def resume(self, window: int) -> dict[str, Any]:
        return self._window(window, "resume")

    def set_allocation(self, window: int, serves: list[str]) -> dict[str, Any]:
        return self._call(self.manager, "PUT", f"/windows/{window}/allocation", {"serves": serves})

    def call_next(self, window: int, complete_current: bool) -> dict[str, Any] | None:
        try:
            return self._call(lambda: self.clerk(window), "POST", f"/windows/{window}/call-next",
                              {"complete_current": complete_current}, idempotent=True)
        except Refused as e:
            if e.code == "nobody_waiting":
                return None
            raise

    def recall(self, window: int) -> dict[str, Any]:
        return self._window(window, "recall")

    def start(self, window: int) -> dict[str, Any]:
        return self._window(window, "start")

    def complete(self, window: int) -> dict[str, Any]:
        return self._window(window, "complete")

    def no_show(self, window: int) -> dict[str, Any]:
        return self._window(window, "no-show")

    def transfer(self, window: int, to_business: str) -> dict[str, Any]:
        return self._window(window, "transfer", {"to_business": to_business})

    def close_day(self) -> dict[str, Any]:
        return self._call(self.manager, "POST", "/day/close", {})

    # -- after the day -----------------------------------------------------------------------

    def journal(self) -> list[dict[str, Any]]:
        """The whole journal (manager), oldest first."""
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self._call(self.manager, "GET", f"/journal?after={after}&limit=1000")
            out += page["entries"]
            if len(page["entries"]) < 1000:
                return out
            after = page["next_after"]


class SteppedClock:
    """Moves a virtual-clock server's time to each event (accelerated mode)."""

    def __init__(self, hall: ServerHall, day_start: datetime) -> None:
        self.hall, self.day_start = hall, day_start

    def __call__(self, ms: int) -> None:
        self.hall.set_time(self.day_start + timedelta(milliseconds=ms))


class PacedClock:
    """Waits until the server's own clock reaches each event (real time, or its virtual rate)."""

    def __init__(self, client: HallClient, day_start: datetime, stop: threading.Event | None = None) -> None:
        self.client, self.day_start = client, day_start
        self.stop = stop or threading.Event()
        self._sync()

    def _sync(self) -> None:
        c = self.client.get("/clock")
        self.rate = float(c.get("rate", 1.0)) if c.get("virtual") else 1.0
        self.synced_at = datetime.fromisoformat(c["now"])
        self.mono = time.monotonic()

    def now(self) -> datetime:
        return self.synced_at + timedelta(seconds=(time.monotonic() - self.mono) * self.rate)

    def now_ms(self) -> int:
        return round((self.now() - self.day_start) / timedelta(milliseconds=1))

    def __call__(self, ms: int) -> None:
        while True:
            self._sync()
            if self.rate <= 0:
                raise SimulationError("the server's virtual clock is stopped (rate 0): nothing would ever happen; "
                                      "use the accelerated mode (--speed max) for such a server")
            left = (self.day_start + timedelta(milliseconds=ms) - self.now()).total_seconds() / self.rate
            if left <= 0:
                return
            if self.stop.wait(min(left, 30.0)):
                raise KeyboardInterrupt  # asked to stop: unwinds the engine like Ctrl-C
            if left <= 30.0:
                return


@contextmanager
def own_server(sim: Simulation, data_dir: Path, start: datetime, mqtt_url: str | None = None) -> Any:
    """A fresh ``hallq serve`` on a virtual clock for one scenario; stopped afterwards.

    Its database is a throwaway, so it commits with ``synchronous=NORMAL``
    (about twice as fast; what is measured is the queue, not the disk).
    """
    from launcher.processes import ServerProcess

    server = ServerProcess(data_dir, config=sim.hall.path, mqtt_url=mqtt_url, clock=iso(start), threads=4)
    with mock.patch.dict(os.environ, {"HALLQ_SQLITE_SYNCHRONOUS": os.environ.get("HALLQ_SQLITE_SYNCHRONOUS",
                                                                               "NORMAL")}):
        server.start(timeout=30)
    try:
        yield server
    finally:
        server.stop()
