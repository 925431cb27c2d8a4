"""How far the announcer's machine's clock is from the queue server's, learnt from the calls' ``at``
(display_board/announcer.py judges a re-sent or recovered call's age with it)."""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger("hallq.announcer")

MAX_LAGS = 1000  # at most this many recent lags kept (a flood of calls must not grow it)
LATE_SECONDS = 5.0  # a clock difference smaller than this is not worth a warning
REPLAY_HORIZON = 150.0  # the server re-sends calls at most 120 s old (replay_max_age): an older one means the clocks differ
CLOCK_MEMORY = 600.0  # the calls of the last 10 minutes tell how far this clock is from the server's ...
CLOCK_SPAN = 60.0  # ... once they came at least a minute apart: one burst (a re-sent backlog) proves nothing
CLOCK_WARN_EVERY = 600.0  # seconds between warnings about a changed clock difference


class ClockGap:
    """How far this machine's hall clock is ahead of the server's, which stamps each call's ``at``: taken as 0
    (NTP keeps both right) until the calls show otherwise: once the live calls of the last ``CLOCK_MEMORY`` s
    came ``CLOCK_SPAN`` apart, the smallest lag is the difference; a call from the future, or older than the
    server ever re-sends one (``REPLAY_HORIZON``), sets it at once (a demo on a virtual clock)."""

    def __init__(self) -> None:
        self.ahead = 0.0  # seconds this clock is ahead of the server's
        self._lags: deque[tuple[float, float]] = deque(maxlen=MAX_LAGS)  # (arrival, monotonic; lag)
        self._warned: tuple[float, float] | None = None  # (when, difference) of the last warning

    def age(self, lag: float, arrived: float) -> float:
        """How old a live call was when it arrived at ``arrived`` (monotonic), ``lag`` s after its ``at``."""
        lags = self._lags
        lags.append((arrived, lag))
        while arrived - lags[0][0] > CLOCK_MEMORY:
            lags.popleft()
        if arrived - lags[0][0] >= CLOCK_SPAN:
            self._set(min(x for _, x in lags), arrived)
        age = lag - self.ahead
        if age < 0 or age > REPLAY_HORIZON:
            self._set(lag, arrived)
            if age > 0:  # the clocks changed: what was learnt before no longer holds
                lags.clear()
                lags.append((arrived, lag))
            age = 0.0
        return age

    @property
    def measured(self) -> bool:
        """A live call has been heard since this process started: the difference is known, not assumed."""
        return bool(self._lags)

    def estimate(self, lag: float) -> float:
        """How old a re-sent or recovered call is, by the difference learnt so far (it teaches nothing: it was held)."""
        return lag - self.ahead

    def _set(self, ahead: float, now: float) -> None:
        self.ahead = ahead
        if abs(ahead) < LATE_SECONDS:
            return
        if self._warned is None or (abs(ahead - self._warned[1]) >= LATE_SECONDS
                                    and now - self._warned[0] >= CLOCK_WARN_EVERY):
            self._warned = (now, ahead)
            log.warning("this machine's clock is %.0f s %s the queue server's (as the calls' times show): the age "
                        "of a call is measured with that difference; keep both clocks synchronised (NTP)",
                        abs(ahead), "ahead of" if ahead > 0 else "behind")
