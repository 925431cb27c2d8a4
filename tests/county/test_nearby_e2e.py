"""就近办 end to end: a real hall asks a real platform (``hallq platform serve``) for its neighbours' waits.

Two tiny halls of a county (their own servers and Mosquitto bridged to the county's NATS) and the platform
as processes. Hall B's tickets reach the platform over the bridge; hall A's cache, refreshed in the
background every second with its own county key, then shows them (GET /api/v1/nearby and its phone page).
With the platform stopped, hall A goes on answering: no nearby halls, no error, one warning in its log
for the whole outage; when it is back, hall A shows its neighbours again.
"""

from __future__ import annotations

import json
import urllib.request

from county.broker import bridge_files
from hallq.client import HallClient
from hallq.testing import wait_until
from tests.county.conftest import County

KIOSK = "demo-kiosk-1"


def nearby(url: str, business: str = "alpha") -> dict:
    with urllib.request.urlopen(f"{url}/api/v1/nearby?business={business}", timeout=5) as r:
        return json.loads(r.read())


def test_a_hall_shows_its_neighbours_waits_and_nothing_when_the_platform_is_down(county_db, tmp_path):
    county = County(tmp_path, county_db, ["hall-a", "hall-b"])
    a, b = county.halls["hall-a"], county.halls["hall-b"]
    try:
        county.broker.start()
        for hall in (a, b):  # what hallq platform bridge-config --platform-url writes, refreshed every second
            toml = bridge_files(county.cfg, county.broker_folder, hall.site, f"127.0.0.1:{hall.link.port}",
                                hall.config.parent, platform_url=county.platform.url)
            assert (hall.config.parent / "county-platform.key").read_text().strip() == hall.key
            text = toml.read_text(encoding="utf-8")
            toml.write_text(text.replace("refresh_seconds = 45", "refresh_seconds = 1")
                            .replace("show_after_minutes = 20", "show_after_minutes = 0"), encoding="utf-8")
            hall.start()
        county.platform.start()

        b.issue(3)

        def b_seen_from_a():
            body = nearby(a.url)
            return body["available"] and [(h["site"], h["waiting"]) for h in body["halls"]] == [("hall-b", 3)]

        wait_until(b_seen_from_a, 60, "hall A's nearby answer shows hall B's 3 waiting tickets")
        seen = nearby(a.url)["halls"][0]
        assert seen["name"] == {"zh-Hans": "hall-b"} and seen["level"] == "town" and seen["distance_km"] == 1.0

        kiosk = HallClient(a.url, token=KIOSK)
        mine = kiosk.issue_ticket("alpha")
        kiosk.close()
        with urllib.request.urlopen(f"{a.url}/t/{mine['id']}", timeout=5) as r:
            page = r.read().decode()
        assert 'id="nearby"' in page and "附近办事点" in page and "等候 3 人" in page

        county.platform.stop()
        wait_until(lambda: not nearby(a.url)["available"], 30, "hall A's cache ages out with the platform down")
        assert nearby(a.url)["halls"] == []
        with urllib.request.urlopen(f"{a.url}/t/{mine['id']}", timeout=5) as r:
            assert r.status == 200 and 'id="nearby"' not in r.read().decode()
        warned = a.server.log.read_text(errors="replace").count("cannot be reached")
        assert warned >= 1
        for _ in range(5):  # requests while it is down: answered from the (empty) cache, nothing logged per request
            assert nearby(a.url)["available"] is False

        county.platform.start()  # seconds of failed refreshes (every 1 s) before it is back
        wait_until(b_seen_from_a, 60, "hall A shows hall B again once the platform is back")
        log = a.server.log.read_text(errors="replace")
        assert log.count("cannot be reached") == warned  # one warning per outage, not per refresh or request
        assert "answers again" in log
    finally:
        county.stop()
