"""就近办 across halls: the current wait at the halls near one hall that serve the same business.

``GET /api/v1/nearby?site=<hall>&business=<code>[,<code>...]`` (county/app.py) answers, for each business
asked, the other active halls of the registry that list it in their ``businesses``, nearest first (great-circle
distance between the registry's coordinates), each with its name, level, address, how many wait for that
business now, an estimated wait, whether it is open now, and the distance. The numbers are the supervision
console's (county/console.py): the tickets of each hall's latest business day, folded from its events, on the
hall's own clock, so a hall not open yet today has no one waiting and is not open.

* **waiting**: that business's tickets still waiting at that hall;
* **estimated wait** (minutes): 0 when no one waits; otherwise the average wait (issue to first call) of that
  business's tickets called there today; ``None`` when people wait and no one was called yet today (the
  longest current wait is given beside it);
* **open now**: its server says it is online, it has a window open, and its latest business day is today.

A hall without coordinates in the registry is listed after those with, without a distance. The caller is a
hall (its county key, the same one the platform reads its journal with): it sees the county's halls near
itself only, and nothing else of the platform.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from county.config import CountyConfig
from county.console import HALL_OFFSET, hall_now

EARTH_KM = 6371.0088
MAX_BUSINESSES = 32
MAX_LIMIT = 20


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle (haversine) distance in kilometres.

    >>> round(distance_km(26.5928, 104.8304, 26.6353, 104.8842), 1)  # 六盘水 centre to 大河镇
    7.1
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def nearby(conn, cfg: CountyConfig, site: str, businesses: list[str], limit: int = 5) -> dict[str, list[dict]]:
    """For each of ``businesses``: up to ``limit`` other halls serving it, nearest first (see the module)."""
    origin = conn.execute("SELECT latitude, longitude FROM halls WHERE site = %s", (site,)).fetchone()
    rows = conn.execute(
        "SELECT h.site, h.level, h.name, h.address, h.latitude, h.longitude, b.code AS business, "
        "p.server_state, c.day, "
        "(SELECT count(*) FROM console_windows w WHERE w.site = h.site AND w.open) AS open_windows, "
        "(SELECT count(*) FROM console_tickets t WHERE t.site = h.site AND t.day = c.day AND t.state = 'waiting' "
        " AND t.business = b.code) AS waiting, "
        "(SELECT min(issued_at) FROM console_tickets t WHERE t.site = h.site AND t.day = c.day "
        " AND t.state = 'waiting' AND t.business = b.code) AS oldest, "
        "(SELECT sum(d.wait_seconds) / NULLIF(sum(d.called), 0) FROM console_daily d WHERE d.site = h.site "
        " AND d.day = c.day AND d.business = b.code) AS average_wait, "
        f"{HALL_OFFSET} AS offset_seconds "
        "FROM unnest(%s::text[]) AS b(code) JOIN halls h ON b.code = ANY(h.businesses) "
        "LEFT JOIN hall_progress p USING (site) LEFT JOIN console_cursor c USING (site) "
        "WHERE h.active AND h.site <> %s", (businesses, site)).fetchall()
    now = datetime.now(timezone.utc)
    zone = ZoneInfo(cfg.timezone)
    out: dict[str, list[dict]] = {b: [] for b in businesses}
    for r in rows:
        here = hall_now(now, r["offset_seconds"])
        today = r["day"] is not None and r["day"] >= here.astimezone(zone).date()
        waiting = int(r["waiting"]) if today else 0
        longest = max(int((here - r["oldest"]).total_seconds() // 60), 0) if today and r["oldest"] else 0
        average = float(r["average_wait"]) / 60 if today and r["average_wait"] is not None else None
        estimate = 0 if waiting == 0 else None if average is None else round(average)
        known = origin is not None and None not in (origin["latitude"], origin["longitude"], r["latitude"],
                                                    r["longitude"])
        out[r["business"]].append({
            "site": r["site"], "name": r["name"], "level": r["level"], "address": r["address"],
            "waiting": waiting, "est_wait_minutes": estimate, "longest_wait_minutes": longest,
            "open_now": bool(today and r["server_state"] == "online" and r["open_windows"]),
            "distance_km": round(distance_km(origin["latitude"], origin["longitude"], r["latitude"],
                                             r["longitude"]), 1) if known else None})
    for halls in out.values():
        halls.sort(key=lambda h: (h["distance_km"] is None, h["distance_km"] or 0, h["site"]))
        del halls[limit:]
    return out
