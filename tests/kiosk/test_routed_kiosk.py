"""就近办 across halls at the village station's kiosk: an item its town handles, applied for at the village.

A real county (two hall servers, NATS, the platform on PostgreSQL: tests/county/conftest.py). The kiosk's
presenters list the routed item with the hall that handles it, take the application and print the receipt; the
progress lookup shows where it is handled and since when. Then the real Kivy screens draw those steps offscreen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from device_drivers.sim_id_reader import demo_card
from hallq.client import HallClient
from hallq.testing import ROOT, wait_until
from kiosk.presenters.application import SubmitApplication
from kiosk.presenters.progress import Progress
from tests.county.conftest import county_db, pg  # noqa: F401 (the county's PostgreSQL fixtures)
from tests.county.test_routing_e2e import ITEM, get, routed_county, start
from tests.kiosk.conftest import make_session

HANDLED = "由town-a办理，本站代为受理"


@pytest.fixture
def county(county_db, tmp_path):  # noqa: F811
    county = routed_county(tmp_path, county_db)
    start(county)
    village = county.halls["village-b"]
    wait_until(lambda: [i["code"] for i in get(f"{village.url}/api/v1/routed-items")] == [ITEM], 60,
               "the village lists the routed item")
    yield county
    county.stop()


def test_the_kiosk_takes_an_application_for_the_town_and_shows_where_it_is(county):
    village = county.halls["village-b"]
    session = make_session(village.url)
    try:
        flow = SubmitApplication(session)
        flow.start()
        v = flow.view()
        option = next(o for o in v.options if o.key == ITEM)
        assert option.label == "高龄津贴申请" and option.detail == HANDLED
        flow.handle("choose", ITEM)
        v = flow.view()
        assert v.step == "form" and [f.key for f in v.fields] == ["village_group"]
        flow.handle("action", "next")
        assert flow.view().fields[0].error  # required, checked on the kiosk from the town's definition
        flow.handle("field", ("village_group", "周家村三组"))
        flow.handle("action", "next")
        assert flow.view().step == "materials"
        flow.handle("toggle", "0")
        flow.handle("action", "next")
        card = demo_card()
        flow.handle("card", card)
        flow.handle("field", ("phone", "13987654321"))
        flow.handle("action", "next")
        flow.handle("action", "submit")
        v = flow.view()
        assert v.step == "result" and v.result["number"].startswith("SQ") and HANDLED in v.result["lines"]
        tracking = v.result["number"]
        printed = session.devices.printer.last
        assert printed.find(tracking) and card.id_number not in printed.text and card.name not in printed.text

        wait_until(lambda: get(f"{village.url}/api/v1/applications/{tracking}")["routed"]["state"] == "forwarded",
                   60, "the application is forwarded to the town")
        progress = Progress(session)
        progress.start()
        progress.handle("scan", tracking)
        v = progress.view()
        routed = next(s for s in v.sections if s.title == HANDLED)
        assert routed.lines[0] == "已转送" and routed.lines[-1].startswith("进度更新于 ")
        assert not [o for o in v.actions if o.key in ("collect", "supplement")]  # nothing the village cannot do

        town = HallClient(county.halls["town-a"].url)
        town.login("900", "hallq-demo")
        filed = town.get("/applications")
        assert len(filed) == 1 and filed[0]["origin"]["tracking_no"] == tracking
    finally:
        session.devices.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_routed_screens_drawn_offscreen(county, tmp_path):
    village = county.halls["village-b"]
    out = tmp_path / "shots"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk" / "drive_routed.py"), village.url, str(out),
                          ITEM, "village_group=周家村三组"], env=env, capture_output=True, text=True, timeout=150,
                         cwd=ROOT)
    assert (out / "report.json").exists(), run.stderr[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    screens = report["screens"]
    assert list(screens) == ["apply-items", "apply-form", "apply-result", "progress-detail"], screens
    for name, shot in screens.items():
        assert "error" not in shot, (name, shot)
        assert shot["problems"] == [], (name, shot["problems"])
        assert (out / os.path.basename(shot["png"])).stat().st_size > 10_000
    assert any(HANDLED in t for t in screens["apply-items"]["texts"])
    assert HANDLED in screens["apply-result"]["texts"] and screens["apply-result"]["number"].startswith("SQ")
    assert HANDLED in screens["progress-detail"]["texts"]
    assert demo_card().id_number not in report["printed"]
