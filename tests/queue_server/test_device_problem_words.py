"""A device's problem reaches a person as a sentence in their language naming the device, never as its code.

The codes come from the device drivers: the window devices the gateway drives (LED strip, keypad, rating pad:
``no_answer``, ``refused``, ``wrong_device``, ``unplugged``...) and the kiosk's printer, ID reader, scanner and
sound. They reach people on the consoles' attention bar (``problem_texts`` of GET /attention, picked by
common.js) and on the manager's journal page (``device_health`` entries). Every code the drivers can report has
a catalogue sentence (domain.device_problem.<code>); any other is the generic sentence with the code in it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hallq import contract, i18n
from hallq.testing import ROOT
from queue_server.domain.attention import KINDS, PROBLEMS, device_name, problem_texts
from queue_server.health_listener import health_handler
from queue_server.web import journal_names
from tests.web.test_roles import Browser

LANGS = ("zh-Hans", "zh-Hant", "en")
# the gateway and the window devices' drivers: every problem code they can report
GATEWAY_SOURCES = ("device_gateway/*.py", "device_drivers/hallq_bus.py", "device_drivers/led_strip.py",
                   "device_drivers/keypad.py", "device_drivers/rating_pad.py", "device_drivers/window_devices.py",
                   "device_drivers/serial_port.py", "device_drivers/frames.py", "device_drivers/base.py",
                   "device_drivers/factory.py")
WINDOW_DEVICES = ("led_strip", "keypad", "rating_pad")
# a literal code in the drivers that is never reported as a device's health
NOT_HEALTH = {"overlap": "voice.py's tripwire for two announcements at once: the lock makes it impossible"}
CODE = re.compile(r'DeviceError\(\s*"([a-z0-9_]+)"|set_health\(\s*False,\s*\["([a-z0-9_]+)"\]')


def _codes(patterns: tuple[str, ...]) -> set[str]:
    files = {p for pattern in patterns for p in ROOT.glob(pattern)}
    return {a or b for path in files for a, b in CODE.findall(Path(path).read_text(encoding="utf-8"))}


@pytest.fixture(params=["hk", "tw"])
def all_languages(request):
    """Every language the hall can show, in each Traditional variant; the hall's own choice put back after."""
    before, variant = i18n.languages(), i18n.traditional()
    i18n.use_languages(LANGS)
    i18n.use_traditional(request.param)
    yield request.param
    i18n.use_languages(before)
    i18n.use_traditional(variant)


def test_every_code_the_gateway_can_report_has_a_sentence():
    gateway = _codes(GATEWAY_SOURCES)
    # read from the source: if this shrinks, the regular expression no longer finds the drivers' codes
    assert {"no_answer", "refused", "wrong_device", "unplugged", "bad_config"} <= gateway
    assert gateway <= set(PROBLEMS), f"codes with no catalogue sentence: {sorted(gateway - set(PROBLEMS))}"


def test_every_code_a_kiosk_device_can_report_has_a_sentence():
    from device_drivers import printer

    raised = _codes(("device_drivers/*.py", "kiosk/*.py")) - set(NOT_HEALTH)
    reported = set(printer.PROBLEMS) | {"no_status", "paper_near_end", "sam_fault"}  # the status properties' codes
    assert raised | reported <= set(PROBLEMS), f"no catalogue sentence: {sorted((raised | reported) - set(PROBLEMS))}"


def test_each_known_code_is_a_sentence_in_every_language_and_no_code_shows(all_languages):
    for kind in (*KINDS, "fax"):
        names = device_name(kind)
        for code in PROBLEMS:
            (shown,) = problem_texts([code], kind)
            assert shown["code"] == code
            for lang in LANGS:
                said = shown[lang]
                assert said and "{" not in said and "}" not in said, (kind, code, lang, said)
                if lang != "en" or "_" in code:  # "offline" is also an English word; "no_answer" is only a code
                    assert code not in said, (kind, code, lang, said)
                if lang != "en" or "_" in kind:
                    assert kind not in said, (kind, code, lang, said)  # led_strip is no more a word than no_answer
                if lang.startswith("zh"):  # no English in Chinese (but the package to install is its name)
                    assert not re.search(r"[a-z]{3}", said.replace("espeak-ng", "")), (kind, code, lang, said)
            if kind in WINDOW_DEVICES and code in _codes(GATEWAY_SOURCES):
                # the window devices' problems say which device: 窗口屏没有应答, not a bare 没有应答
                assert all(names[lang] in shown[lang] for lang in LANGS), (kind, code, shown, names)


def test_the_window_devices_problems_in_their_own_words(all_languages):
    (strip,) = problem_texts(["no_answer"], "led_strip")
    assert strip["zh-Hans"] == "窗口屏没有应答：请检查电源和总线线缆"
    assert strip["en"] == "window LED strip not answering: check its power and the bus cable"
    assert strip["zh-Hant"] == "窗口屏沒有應答：請檢查電源和" + ("總線線纜" if all_languages == "hk" else "匯流排線纜")
    (keypad,) = problem_texts(["refused"], "keypad")
    assert keypad["zh-Hans"].startswith("呼叫器拒绝执行命令")
    (pad,) = problem_texts(["wrong_device"], "rating_pad")
    assert "评价器" in pad["zh-Hans"] and "rating pad" in pad["en"]


@pytest.mark.parametrize("code", ["smoke", "fan_stalled", "", "{device}", "{0}", "x" * 300, "离线"])
def test_an_unknown_code_is_a_generic_sentence_with_the_code_and_never_breaks(all_languages, code):
    (shown,) = problem_texts([code], "keypad")
    assert shown["code"] == code
    assert shown["zh-Hans"] == f"呼叫器报告了一个问题（代码 {code}）：请联系维护人员"
    assert shown["en"] == f"call keypad reports a problem (code {code}): call maintenance"
    assert f"（代碼 {code}）" in shown["zh-Hant"] and "呼叫器" in shown["zh-Hant"]


def test_the_attention_bar_and_the_journal_page_say_sentences(app, api, service):
    """End to end: the gateway's health report over MQTT, GET /attention, the manager's journal page."""
    handle = health_handler(service, "tiny")[1]
    for device, kind, problems in (("gw-1-strip-1", "led_strip", ["no_answer"]), ("gw-1-keypad-1", "keypad", ["refused"]),
                                   ("gw-1-pad-1", "rating_pad", ["wrong_device", "fan_stalled"])):
        report = {"device": device, "kind": kind, "ok": False, "problems": problems, "detail": {},
                  "at": "2026-11-23T09:30:00+08:00"}
        handle(contract.DEVICE_HEALTH.topic("tiny", owner="gw-1", device=device),
               contract.encode(contract.DEVICE_HEALTH, report), False)
    shown = {d["device"]: d for d in api.ok("get", "/attention", as_="101")["device_problems"]}
    assert [t["zh-Hans"] for t in shown["gw-1-strip-1"]["problem_texts"]] == ["窗口屏没有应答：请检查电源和总线线缆"]
    assert {t["zh-Hans"] for t in shown["gw-1-pad-1"]["problem_texts"]} == {  # kept sorted by code
        "评价器的地址上是另一台设备：请检查设备地址设置", "评价器报告了一个问题（代码 fan_stalled）：请联系维护人员"}

    page = Browser(app, "900").client.get("/manager/journal").text
    entries = [d for d in re.findall(r'<td class="muted">([^<]*)</td></tr>', page) if "gw-1-" in d]
    assert len(entries) == 3, entries
    assert any("窗口屏没有应答" in d and "窗口屏" in d for d in entries), entries
    assert any("呼叫器拒绝执行命令" in d for d in entries), entries
    for raw in ("no_answer", "refused", "wrong_device", "led_strip", "rating_pad", "keypad"):
        assert not any(re.search(rf"(?<![\w-]){raw}(?![\w-])", d) for d in entries), (raw, entries)


def test_journal_details_of_a_device_report_in_each_language(all_languages):
    data = {"device": "gw-1-strip-2", "kind": "led_strip", "ok": False, "problems": ["no_answer", "unplugged"]}
    for lang in LANGS:
        said = journal_names.details(data, lang)
        assert "no_answer" not in said and "led_strip" not in said and "unplugged" not in said, said
        assert i18n.text("domain.device_kind.led_strip", lang) in said
    assert journal_names.details(data, "zh-Hans") == ("设备：gw-1-strip-2；类型：窗口屏；正常：否；问题："
                                                      "窗口屏没有应答：请检查电源和总线线缆、窗口屏未连接：请检查线缆")
    # another entry's "kind" is not taken for a device's
    assert "tidal" in journal_names.details({"kind": "tidal", "window": 3}, "en")
