"""No screen shows a full ID number (docs/privacy.md): one typed with a wrong check digit stays in the keypad for
⌫, but the screen that says why draws it masked, 520201 ******** 1230 (tests/kiosk/drive_masked_entry.py, the real
screen offscreen; a kiosk without a display writes that screen as its screenshot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hallq.privacy import mask_id_number
from hallq.testing import ROOT
from kiosk.presenters.take_number import NO_ITEM, TakeNumber
from kiosk.ui.form_step import grouped
from tests.conftest import make_id


def wrong_check_digit() -> str:
    good = make_id()
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def test_the_presenter_asks_for_the_refused_number_masked(session):
    bad = wrong_check_digit()
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "social")
    flow.handle("choose", NO_ITEM)
    flow.handle("action", "type_id")
    flow.handle("submit", bad)
    v = flow.view()
    assert v.entry["value"] == bad and "校验位" in v.entry["error"]     # kept for ⌫
    assert v.entry["shown"] == mask_id_number(bad)
    flow.handle("submit", bad[:4])                                      # too short to be anyone's: as typed
    assert flow.view().entry["shown"] == ""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_screen_draws_a_refused_id_number_masked_until_the_resident_types(city, tmp_path):
    bad = wrong_check_digit()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk" / "drive_masked_entry.py"), city.url, bad,
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=100, cwd=ROOT)
    assert (tmp_path / "report.json").exists(), run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    refused = report["refused"]
    assert "出错了：身份证号码有误：校验位不正确，请核对" in refused["texts"]
    flat = "".join(refused["texts"]).replace(" ", "")
    assert bad not in flat and bad[6:14] not in flat                  # not whole, and not its birth date
    assert grouped(mask_id_number(bad), "id") in refused["texts"]
    assert "take_number-identity.png" in refused["screenshots"]         # that screen, as written without a display
    assert report["keypad"] == bad                                       # whole in the keypad, for ⌫
    # ⌫: what the resident types from there is shown as typed (17 characters: not a whole number)
    assert grouped(bad[:-1], "id") in report["corrected"]["texts"]
