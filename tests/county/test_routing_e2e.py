"""就近办 across halls end to end: a village station takes an application for an item only its town handles.

Two real hall servers (each with its own Mosquitto bridged to the county's NATS) and the real platform
(``hallq platform serve`` on PostgreSQL). The village learns the town's definition of the item through the
platform; with the platform down it still takes the application and prints a receipt; when the platform is
back its outbox forwards it and the town files it exactly once (a replayed forward files nothing); the town's
clerk decides it and the village shows the result ready. Nothing personal in any log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import urllib.error
import urllib.request

from datetime import datetime, timedelta

from county.broker import bridge_files
from hallq.client import ApiError, HallClient
from hallq.demo import DEMO_PASSWORD
from hallq.testing import wait_until
from tests.county.conftest import County, sql

KIOSK = "demo-kiosk-1"
ITEM = "T-ROUTE-1"
ID_NUMBER = "11010519491231002X"
NAME = "王秀英"
ROUTING_KEY = "routing-key-town-a"

LABEL = '{ zh-Hans = "户籍所在村（组）", zh-Hant = "戶籍所在村（組）", en = "Village (group)" }'
ROUTED_ITEM = f'''
[[items]]
code = "{ITEM}"
business = "alpha"
name = {{ zh-Hans = "高龄津贴申请", zh-Hant = "高齡津貼申請", en = "Old-age allowance" }}
department = "民政办"
statutory_days = 20
promised_days = 10
materials = [
  {{ name = "高龄津贴申请表", form = "原件", copies = 1, required = true }},
  {{ name = "居民户口簿", form = "复印件", copies = 1, required = false }},
]
form = [
  {{ key = "village_group", type = "text", required = true, max_len = 60, label = {LABEL} }},
]
'''


def routed_county(tmp_path, county_db) -> County:
    """town-a handles ITEM; village-b (its child) routes it there."""
    county = County(tmp_path, county_db, ["town-a", "village-b"])
    town, village = county.halls["town-a"], county.halls["village-b"]
    with open(town.config.parent / "services.toml", "a", encoding="utf-8") as f:
        f.write(ROUTED_ITEM)
    with open(town.config, "a", encoding="utf-8") as f:
        f.write(f'\n[[devices]]\nid = "county-routing"\nkind = "routing"\n'
                f'key_sha256 = "{hashlib.sha256(ROUTING_KEY.encode()).hexdigest()}"\n')
    (tmp_path / "town-a.routing.key").write_text(ROUTING_KEY + "\n")
    text = county.cfg_path.read_text(encoding="utf-8")
    text = text.replace('site = "town-a"\nlevel = "town"\n',
                        f'site = "town-a"\nlevel = "town"\nrouting_credential = "file:{tmp_path / "town-a.routing.key"}"\n')
    text = text.replace('site = "village-b"\nlevel = "town"\n',
                        f'site = "village-b"\nlevel = "village"\nparent = "town-a"\nroutes = [{{ item = "{ITEM}" }}]\n')
    county.cfg_path.write_text(text, encoding="utf-8")
    from county.config import load_county

    county.cfg = load_county(county.cfg_path, database_url=county_db)
    assert county.cfg.halls["village-b"].routes == {ITEM: "town-a"}
    for hall in (town, village):
        toml = bridge_files(county.cfg, county.broker_folder, hall.site, f"127.0.0.1:{hall.link.port}",
                            hall.config.parent, platform_url=county.platform.url)
        toml.write_text(toml.read_text(encoding="utf-8") + "\n[routing]\nrefresh_seconds = 0.5\n", encoding="utf-8")
    return county


def start(county: County) -> None:
    """Start the county with the bridge files written above (County.start would write them without [platform])."""
    try:
        county.broker.start()
        for hall in county.halls.values():
            hall.start()
        county.platform.start()
    except BaseException:
        county.stop()
        raise


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Browser:
    """A browser's session at a hall's console: its cookies kept by hand (they are Secure on loopback, which
    urllib's cookie jar will not send over http), the sign-in form's CSRF token."""

    def __init__(self, url: str, job_no: str = "900") -> None:
        import re
        import urllib.parse

        self.url, self.cookies = url, {}
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get("/console/login")).group(1)
        self.get("/console/login", urllib.parse.urlencode({"csrf_token": token, "job_no": job_no,
                                                           "password": DEMO_PASSWORD}).encode())

    def get(self, path: str, data: bytes | None = None) -> str:
        class Keep(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **kw):
                return None  # the sign-in's 303: its cookie is read here, not followed

        req = urllib.request.Request(self.url + path, data=data, headers={
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())})
        try:
            r = urllib.request.build_opener(Keep).open(req, timeout=5)
        except urllib.error.HTTPError as e:
            if e.code not in (302, 303):
                raise
            r = e
        for header in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return r.read().decode()


def staff(url: str) -> HallClient:
    c = HallClient(url)
    c.login("900", DEMO_PASSWORD)
    return c


def test_routed_application_platform_down_then_filed_once_and_ready_at_the_village(county_db, tmp_path):
    county = routed_county(tmp_path, county_db)
    town, village = county.halls["town-a"], county.halls["village-b"]
    try:
        county.broker.start()
        town.start()
        village.start()
        county.platform.start()

        # the village learns the town's definition ahead of time
        wait_until(lambda: [i["code"] for i in get(f"{village.url}/api/v1/routed-items")] == [ITEM], 60,
                   "the village lists the routed item")
        form = get(f"{village.url}/api/v1/items/{ITEM}/form")
        assert form["routed_to"]["site"] == "town-a" and [f["key"] for f in form["fields"]] == ["village_group"]
        assert form["item_name"]["zh-Hans"] == "高龄津贴申请"

        county.platform.stop()  # the county network is down: the village works on
        kiosk = HallClient(village.url, token=KIOSK)
        body = {"item": ITEM, "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": "13800138000"},
                "fields": {"village_group": "周家村三组"}, "materials": [0], "delivery": "onsite"}
        with_bad = {**body, "fields": {}}
        try:
            kiosk.post("/applications", with_bad)
            raise AssertionError("a required field missing must be refused at the village")
        except ApiError as e:
            assert e.status == 400 and e.code == "invalid_fields"
        receipt = kiosk.post("/applications", body, idempotent=True)
        no = receipt["tracking_no"]
        assert receipt["routed"]["state"] == "queued" and receipt["routed"]["target"] == "town-a"
        assert receipt["applicant"]["id"] != ID_NUMBER and NAME not in json.dumps(receipt, ensure_ascii=False)
        progress = get(f"{village.url}/api/v1/applications/{no}")
        assert progress["status"] == "submitted" and progress["routed"]["state"] == "queued"
        mine = kiosk.request("GET", "/applications", headers={"X-Id-Number": ID_NUMBER})
        assert [a["tracking_no"] for a in mine] == [no]

        manager = staff(town.url)
        assert manager.get("/applications") == []  # nothing reached the town

        county.platform.start()  # back: the outbox forwards it
        wait_until(lambda: get(f"{village.url}/api/v1/applications/{no}")["routed"]["state"] == "forwarded", 60,
                   "the village's outbox forwards the application")
        filed = manager.get("/applications")
        assert len(filed) == 1
        here = manager.get(f"/applications/{filed[0]['tracking_no']}")
        assert here["source"] == "routed:village-b" and here["origin"]["tracking_no"] == no
        assert here["origin"]["label"]["zh-Hans"] == "来自village-b"

        # a forward replayed (the village's retry after a lost answer) files nothing twice
        routing = HallClient(town.url, token=ROUTING_KEY)
        again = routing.post("/routed-applications", {**body, "origin": {"site": "village-b", "tracking_no": no}})
        assert again["duplicate"] is True and again["tracking_no"] == filed[0]["tracking_no"]
        relay = HallClient(county.platform.url, token=village.key)
        through = relay.post("/routing/applications?site=village-b", {**body, "tracking_no": no})
        assert through["duplicate"] is True
        assert len(manager.get("/applications")) == 1
        # the routing key does nothing else at the town; the village's county key reaches only its own routes
        for call in (lambda: routing.get("/applications"), lambda: routing.get("/journal?after=0")):
            try:
                call()
                raise AssertionError("the routing key must reach nothing else")
            except ApiError as e:
                assert e.status == 403
        try:
            HallClient(county.platform.url, token=village.key).post("/routing/applications?site=town-a",
                                                                     {**body, "tracking_no": no})
            raise AssertionError("a hall's key must not forward as another hall")
        except ApiError as e:
            assert e.status == 401

        # the town's clerk decides; the village shows the result ready
        tn = filed[0]["tracking_no"]
        manager.post(f"/applications/{tn}/transition", {"to": "accepted"})
        manager.post(f"/applications/{tn}/transition", {"to": "result_ready", "decision": "approved"})
        wait_until(lambda: get(f"{village.url}/api/v1/applications/{no}")["status"] == "result_ready", 60,
                   "the village shows the town's result")
        shown = get(f"{village.url}/api/v1/applications/{no}")
        assert shown["routed"]["ready"] and shown["routed"]["as_of"] and not shown["routed"]["stale"]
        assert [e["status"] for e in shown["timeline"]][-2:] == ["accepted", "result_ready"]
        clerk = staff(village.url)
        listed = clerk.get("/routed-applications")
        assert [(a["tracking_no"], a["status"], a["routed"]["state"]) for a in listed] == \
            [(no, "result_ready", "forwarded")]

        # the clerks' consoles: the village's list of what it took for other halls, the town's 来自 mark
        desk = Browser(village.url)
        listing = desk.get("/console/backoffice?lang=zh-Hans")
        assert 'id="routed"' in listing and no in listing and "转办申请" in listing and "由村" not in listing
        one = desk.get(f"/console/backoffice/{no}?lang=zh-Hans")
        assert "由town-a办理" in one and "办理结果已出" in one and ID_NUMBER not in one and NAME not in one
        assert 'data-field="village_group"' in desk.get(f"/console/backoffice/routed/{ITEM}")
        town_desk = Browser(town.url)
        assert "来自village-b" in town_desk.get("/console/backoffice?lang=zh-Hans")
        assert 'id="origin"' in town_desk.get(f"/console/backoffice/{tn}?lang=zh-Hans")
        with urllib.request.urlopen(f"{village.url}/a/{no}?lang=zh-Hans", timeout=5) as r:
            public = r.read().decode()
        assert 'id="routed"' in public and "办理结果已出" in public and NAME not in public

        county.platform.stop()  # the county is gone: the last progress stays, and says since when
        clerk.request("PUT", "/clock", {"now": (datetime.fromisoformat(clerk.get("/clock")["now"])
                                                + timedelta(minutes=30)).isoformat()})
        wait_until(lambda: get(f"{village.url}/api/v1/applications/{no}")["routed"]["stale"], 30,
                   "the village says its copy of the progress is old")
        stale = get(f"{village.url}/api/v1/applications/{no}")
        assert stale["status"] == "result_ready" and stale["routed"]["as_of"] < clerk.get("/clock")["now"]
        with urllib.request.urlopen(f"{village.url}/a/{no}?lang=zh-Hans", timeout=5) as r:
            assert "暂时无法连接办理单位" in r.read().decode()

        for log in (village.server.log, town.server.log, county.platform.log):
            text = log.read_text(encoding="utf-8", errors="replace")
            assert ID_NUMBER not in text and NAME not in text, log
        assert "cannot be reached" in village.server.log.read_text(errors="replace")
    finally:
        county.stop()


def test_an_application_the_town_refuses_after_its_form_changed_is_kept_and_told(county_db, tmp_path):
    """The town adds a required field while the county is unreachable: the village, on its old copy of the form,
    still gives a receipt; when the county is back the town refuses it. Kept, marked refused with the town's
    reason, never retried, nothing filed at the town; the resident reads it, the log says cause and fix."""
    county = routed_county(tmp_path, county_db)
    town, village = county.halls["town-a"], county.halls["village-b"]
    try:
        start(county)
        wait_until(lambda: [i["code"] for i in get(f"{village.url}/api/v1/routed-items")] == [ITEM], 60,
                   "the village lists the routed item")
        county.platform.stop()
        manager = staff(town.url)
        item = manager.get(f"/items/{ITEM}")
        guide = get(f"{town.url}/api/v1/items/{ITEM}/form")
        edited = {"name": item["name"], "business": "alpha", "department": "民政办", "statutory_days": 20,
                  "promised_days": 10, "materials": [{k: m[k] for k in ("name", "form", "copies", "required")}
                                                     for m in guide["materials"]],
                  "form": [{"key": "village_group", "type": "text", "required": True, "max_len": 60,
                            "label": guide["fields"][0]["label"]},
                           {"key": "household_no", "type": "text", "required": True, "max_len": 20,
                            "label": {"zh-Hans": "户号", "zh-Hant": "戶號", "en": "Household number"}}]}
        manager.request("PUT", f"/items/{ITEM}/guide", edited)

        kiosk = HallClient(village.url, token=KIOSK)
        receipt = kiosk.post("/applications", {
            "item": ITEM, "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": "13800138000"},
            "fields": {"village_group": "周家村三组"}, "materials": [0], "delivery": "onsite"}, idempotent=True)
        no = receipt["tracking_no"]

        county.platform.start()
        wait_until(lambda: get(f"{village.url}/api/v1/applications/{no}")["routed"]["state"] == "refused", 60,
                   "the town's refusal reaches the village")
        shown = get(f"{village.url}/api/v1/applications/{no}")
        assert shown["timeline"][-1]["status_name"]["zh-Hans"] == "未被接收"
        assert "town-a未能接收此申请" in shown["timeline"][-1]["note"]["zh-Hans"]
        assert "户号" in shown["timeline"][-1]["note"]["zh-Hans"]  # the town's own words: what is missing
        # the village's copy of the form is the town's new one now: the next resident is asked for the field
        assert [f["key"] for f in get(f"{village.url}/api/v1/items/{ITEM}/form")["fields"]] == \
            ["village_group", "household_no"]
        clerk = staff(village.url)
        listed = clerk.get("/routed-applications")
        assert listed[0]["routed"]["refusal"]["code"] == "invalid_fields"
        assert [f["field"] for f in listed[0]["routed"]["refusal"]["fields"]] == ["fields.household_no"]
        assert manager.get("/applications") == []  # nothing filed at the town
        journal = HallClient(village.url, token=village.key).get("/journal?after=0&limit=1000")["entries"]
        assert [e["action"] for e in journal].count("application_route_refused") == 1
        log = village.server.log.read_text(encoding="utf-8", errors="replace")
        assert f"routed application {no}: the handling hall refused it (invalid_fields)" in log
        assert ID_NUMBER not in log and NAME not in log
        # the supervision office sees it: one open alert for the station, with the cause
        alerts = sql(county_db, "SELECT site, kind, detail FROM alerts WHERE cleared_at IS NULL AND kind LIKE %s",
                     ("routing%",))
        assert [(a["site"], a["kind"]) for a in alerts] == [("village-b", "routing_refused")]
        assert no in alerts[0]["detail"] and NAME not in alerts[0]["detail"]
    finally:
        county.stop()


def test_a_receipt_survives_kill_9_of_the_village_and_is_filed_once(county_db, tmp_path):
    """The village's server is killed (SIGKILL) right after giving receipts with the county down; restarted, its
    outbox forwards every one, each filed exactly once at the town."""
    county = routed_county(tmp_path, county_db)
    town, village = county.halls["town-a"], county.halls["village-b"]
    try:
        start(county)
        wait_until(lambda: [i["code"] for i in get(f"{village.url}/api/v1/routed-items")] == [ITEM], 60,
                   "the village lists the routed item")
        county.platform.stop()
        kiosk = HallClient(village.url, token=KIOSK)
        numbers = [kiosk.post("/applications", {
            "item": ITEM, "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": "13800138000"},
            "fields": {"village_group": f"周家村{n}组"}, "materials": [0], "delivery": "onsite"},
            idempotent=True)["tracking_no"] for n in range(3)]
        kiosk.close()
        village.server.kill9()  # the server dies; its own Mosquitto (a session of its own) with it, by its pid
        pids = re.findall(r"hall broker \(Mosquitto, pid (\d+)\)", village.server.log.read_text(errors="replace"))
        os.kill(int(pids[-1]), signal.SIGKILL)
        village.start()
        county.platform.start()
        manager = staff(town.url)
        wait_until(lambda: len(manager.get("/applications")) == 3, 60, "the three applications reach the town")
        filed = manager.get("/applications")
        assert sorted(a["origin"]["tracking_no"] for a in filed) == sorted(numbers)
        wait_until(lambda: all(get(f"{village.url}/api/v1/applications/{no}")["routed"]["state"] == "forwarded"
                               for no in numbers), 60, "the village marks them forwarded")
        assert len(manager.get("/applications")) == 3
    finally:
        county.stop()
