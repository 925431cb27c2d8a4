"""What the next resident finds, and what the idle timer does, on the real kiosk app (tests/kiosk/drive_visits.py,
offscreen in its own process, against a real server; docs/kiosk.md, "Age-friendly and accessible" and "When things
go wrong"):

* the end of a visit (完成, 首页) gives the kiosk's language and mode back; so does the home screen after the idle
  timeout when the last resident changed them and walked away; 返回 from a first step keeps them (the same resident);
* while a press is retried (the server unreachable: "您不用再按") the idle timer is held: the number the server
  issued is shown when the network is back, once, even after 返回 and the same request again;
* a ticket the printer could not print stays on screen as long as any other screen, with "还需要更多时间吗？";
* the device poller keeps the ID card reader's error apart from the scanner's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hallq.testing import ROOT


def drive(scenario: str, url: str, tmp_path) -> dict:
    out = tmp_path / f"{scenario}.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk" / "drive_visits.py"), scenario, url, str(out)],
                         env=env, capture_output=True, text=True, timeout=150, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text("utf-8"))
    report["at"] = {e["what"]: e for e in report["log"]}
    return report


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_next_resident_gets_the_kiosks_language_and_elderly_mode_back(village, tmp_path):
    at = drive("defaults", village.url, tmp_path)["at"]

    def mode(what: str) -> tuple[str, bool]:
        return at[what]["lang"], at[what]["elderly"]

    assert mode("start") == ("zh-Hans", True)                  # the village station: 长辈模式 by default
    assert mode("A chose") == ("en", False)
    assert at["A's ticket"]["step"] == "result" and at["A's ticket"]["number"]
    assert mode("after done") == ("zh-Hans", True) and at["after done"]["screen"] == "home"     # 完成
    # B changed them on the home screen and left: kept while B may still be there, the defaults after the timeout
    assert mode("B left 30 s ago") == ("zh-Hant", False)
    assert mode("B left 130 s ago") == ("zh-Hans", True) and at["B left 130 s ago"]["wiped"] == 1
    assert at["long after"]["wiped"] == 1                       # at the defaults: nothing more to do
    assert mode("C went back") == ("en", True)                  # 返回 from the first step: the same resident
    assert mode("C pressed home") == ("zh-Hans", True)          # 首页: the visit is over


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_number_issued_during_an_outage_longer_than_the_idle_timeout_is_shown_once(city, tmp_path):
    report = drive("outage", city.url, tmp_path)
    at = report["at"]
    assert at["confirmed"]["retrying"] and "您不用再按" in at["confirmed"]["notice"]
    # 30 s of retries with an idle timeout of 8 s: still there, still trying, no "need more time?" question
    later = at["30 s later"]
    assert later["screen"] == "take_number" and later["retrying"] and later["wiped"] == 0 and later["warnings"] == 0
    assert "仍在连接服务器" in later["notice"] and "您不用再按" in later["notice"]
    assert at["went back"]["held"]                            # 返回: the press's key kept for the same request
    assert at["confirmed again"]["retrying"] and at["confirmed again"]["wiped"] == 0
    back = at["network back"]
    assert back["step"] == "result" and back["number"] == "B001"
    assert back["keys"] == 1 and back["calls"] >= 4              # every attempt, before and after 返回, one key
    assert report["waiting"] == 1                               # one number on the server, the one shown
    # the ticket then gets its own time on screen (5 s), counted from when it came, not from the last touch
    assert at["3 s on the ticket"]["step"] == "result"
    assert at["8 s on the ticket"]["screen"] == "home"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_ticket_the_printer_did_not_print_stays_with_the_need_more_time_question(city, tmp_path):
    at = drive("unprinted", city.url, tmp_path)["at"]
    # printed: home after result_timeout_seconds (10 s), no question
    assert not at["ticket, paper ok"]["unprinted"]
    assert at["paper ok, +12 s"]["screen"] == "home" and at["paper ok, +12 s"]["warnings"] == 0
    # not printed (paper out): the screen is the number's only record; idle_timeout_seconds (60 s), asked first
    assert at["ticket, paper out"]["unprinted"] and "请记住您的号码" in at["ticket, paper out"]["notice"]
    assert at["paper out, +12 s"]["step"] == "result" and at["paper out, +12 s"]["warnings"] == 0
    assert at["paper out, +36 s"]["step"] == "result" and at["paper out, +36 s"]["warnings"] > 0   # 还需要更多时间吗
    assert at["paper out, +10 s"]["step"] == "result"
    assert at["paper out, +5 s"]["screen"] == "home"            # 63 s without a touch


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_scanners_error_does_not_hide_the_readers(city, tmp_path):
    report = drive("devices", city.url, tmp_path)
    assert report["reads"]["reader"] >= 4
    # told once, on the screen that asked for the card (which then offers typing the number), however the scanner fares
    assert report["events"] == [["card_error", "unplugged"]]
