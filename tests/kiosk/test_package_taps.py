"""Issue 12's target on the real kiosk app, offscreen: a 一件事 package of four items is taken in ≤ 12 screen taps
with an ID card read, and produces four 办件 under one tracking number.

tests/kiosk/drive_package.py drives the real KioskApp (its worker, device poller, screens) by touches on the
widgets drawn, and counts them: a **screen tap** is a touch that moves the flow (the 办事申请 tile, the package,
print the notice, start, each choice, next, 材料都带齐了, submit); typing a value only the resident knows (names,
the hospital, a date, the mother's ID number, the phone) on the on-screen keyboard or keypad is counted apart,
field by field (opening the field, its keys, its 确定); reading the ID card is no tap. A tap that went unanswered
and was tapped again counts once.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hallq.client import HallClient
from hallq.testing import ROOT
from tests.kiosk.test_app import _env

FLOW_TAPS = ["apply", "pkg:newborn", "print_notice", "start", "female", "mother", "next", "all", "next", "next",
             "submit"]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_package_of_four_items_in_at_most_12_screen_taps_on_the_real_app(city, tmp_path):
    out = tmp_path / "package.json"
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk" / "drive_package.py"), city.url, str(out)],
                         env=_env(), capture_output=True, text=True, timeout=220, cwd=ROOT)
    assert out.exists(), run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["done"] == {"package": 1} and not result["failed"], (result, run.stderr[-3000:])
    assert len(result["taps"]) <= 12, result["taps"]
    assert result["taps"] == FLOW_TAPS
    # five typed text fields, the mother's ID number and the phone: each opened, typed and confirmed
    assert result["typed"].count("ok") == 5 and result["typed"].count("pad:ok") == 2, result["typed"]
    assert result["printed"] == 2  # the combined notice (一次告知) and the receipt

    tracking = result["tracking_no"]
    assert tracking and result["parts"] == 4
    staff = HallClient(city.url)
    staff.login("1007", "hallq-demo")
    pkg = staff.request("GET", f"/applications/{tracking}")
    assert [p["tracking_no"] for p in pkg["parts"]] == [f"{tracking}-{n}" for n in range(1, 5)]
    assert len({p["department"] for p in pkg["parts"]}) == 4
