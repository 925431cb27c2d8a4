"""How a screen, a ticket or a voice shows an estimated wait: one number, or a range where it is unsure.

The server sends ``est_wait_minutes`` and ``est_wait_range`` ([low, high],
docs/dispatch.md "Wait estimates"). A resident is better served by "约 20–35
分钟" than by a precise-looking "27" when the real wait could be either; when
the range is narrow, one number says it. Every part that shows a wait (kiosk,
printed ticket, board, phone page) decides with :func:`shown`, so they never
disagree; ``queue_server/web/static/ticket/ticket.js`` mirrors it for live
updates.
"""

from __future__ import annotations

WIDE_MINUTES = 10  # a range wider than this is shown as a range


def shown(minutes: int | None, rng: list[int] | tuple[int, int] | None) -> tuple[int, int] | None:
    """``(low, high)`` to show, equal when one number says enough; None when there is no estimate."""
    if minutes is None:
        return None
    if rng and rng[1] - rng[0] > WIDE_MINUTES:
        return int(rng[0]), int(rng[1])
    return int(minutes), int(minutes)
