"""A guide the manager edits in the browser reaches the kiosk at once (issue 17 item 5): the kiosk keeps the items
it read (5 minutes, and while the server is gone), and reads them again as soon as GET /hall's catalogue moves."""

from __future__ import annotations

import json
import urllib.request

from hallq.demo import DEMO_PASSWORD
from kiosk.presenters.guide import Guide
from tests.kiosk.conftest import make_session

ITEM = "520200-SCJG-XK-0001"


def _call(url: str, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    req = urllib.request.Request(f"{url}/api/v1{path}", method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _materials(guide: Guide) -> list[str]:
    v = guide.view()
    titles = [s.title for s in v.sections]
    return v.sections[titles.index("申请材料")].lines


def test_the_kiosk_shows_an_edited_material_as_soon_as_the_hall_says_the_catalogue_moved(city):
    now = [0.0]
    s = make_session(city.url, clock=lambda: now[0])
    try:
        guide = Guide(s)
        guide.start(item=ITEM)
        assert _materials(guide)[0].startswith("1．公司登记（备案）申请书")

        token = _call(city.url, "POST", "/auth/login", {"job_no": "2001", "password": DEMO_PASSWORD})["token"]
        it = _call(city.url, "GET", f"/items/{ITEM}")
        body = {"business": it["business"], "name": it["name"], **it["guide"]}
        body["materials"] = [{"name": "新版申请书", "form": "原件", "copies": 1}, *body["materials"][1:]]
        assert _call(city.url, "PUT", f"/items/{ITEM}/guide", body, token)["changed"] == ["materials"]

        now[0] += 11  # the hall is read again (10 s); the items would have been kept 5 minutes
        guide.start(item=ITEM)
        assert _materials(guide)[0].startswith("1．新版申请书（原件1份")
    finally:
        s.devices.close()
