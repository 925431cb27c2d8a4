"""Home, help and guides through their presenters, against a real server."""

from __future__ import annotations

from device_drivers.base import DeviceError
from device_drivers.sim_printer import PrinterSimulator
from kiosk.presenters.guide import Guide
from kiosk.presenters.help import Help
from kiosk.presenters.home import Home


def test_home_lists_everything_and_switches_language_and_size(session):
    home = Home(session)
    home.start()
    v = home.view()
    assert v.title == "六盘水市政务服务中心"
    assert [o.key for o in v.options] == ["take_number", "appointment", "guide", "apply", "progress", "requeue", "rate"]
    assert "今日办理时间 09:00-12:00 13:00-17:00" in v.result["status"] and "正在取号" in v.result["status"]
    assert any(a.key == "help" for a in v.actions)
    home.handle("action", "lang:en")
    home.handle("action", "elderly")
    v = home.view()
    assert v.options[0].label == "Take a number" and session.elderly
    home.handle("choose", "guide")
    assert home.take_navigation() == ("guide", {})
    session.wipe()
    assert session.lang == "zh-Hans" and not session.elderly


def test_home_warns_when_the_printer_cannot_print(session):
    session.devices.printer.state.cover_open = True
    session.devices.check_health()
    home = Home(session)
    home.start()
    assert "机盖未关" in home.view().notice.text


class AnswerlessPrinter(PrinterSimulator):
    """A printer on the device bus that stopped answering: its driver reports a code the catalogue has no name for."""

    def print_job(self, data: bytes):
        raise DeviceError("no_answer", "no answer from address 3 on /dev/ttyS1", "check the bus cable")


def test_a_printer_problem_the_catalogue_does_not_name_reads_as_a_printer_fault(session, take_number):
    session.devices.printer = AnswerlessPrinter(name="kiosk-1-printer")
    guide = Guide(session)
    guide.start(item="520200-SCJG-XK-0001")
    guide.handle("action", "print_notice")
    notice = guide.view().notice
    assert (notice.level, notice.text) == ("warn", "打印机故障")
    flow = take_number()
    text = flow.view().notice.text
    assert "打印机暂时无法出票（打印机故障）" in text and flow.ticket["ticket"] in text
    home = Home(session)
    home.start()
    assert "本机打印机暂时不能出票（打印机故障）" in home.view().notice.text
    session.set_lang("en")
    assert "(printer fault)" in home.view().notice.text
    for said in (notice.text, text, home.view().notice.text):
        assert "no_answer" not in said and "printer." not in said


def test_guide_shows_every_element_and_prints_the_one_time_notice(session):
    guide = Guide(session)
    guide.start()
    guide.handle("choose", "commerce")
    v = guide.view()
    assert v.step == "item" and v.options[0].label == "企业设立登记"
    guide.handle("choose", v.options[0].key)
    v = guide.view()
    titles = [s.title for s in v.sections]
    for title in ("受理条件", "申请材料", "办理时限", "收费标准", "设定依据", "办理方式", "实施部门与咨询电话"):
        assert title in titles
    materials = v.sections[titles.index("申请材料")].lines
    assert materials[0].startswith("1．公司登记（备案）申请书（原件1份，必需）")
    assert "承诺办结时限 1 个工作日" in v.sections[titles.index("办理时限")].lines
    assert {a.key for a in v.actions} >= {"print_notice", "take", "book"}
    guide.handle("action", "print_notice")
    assert guide.view().notice.level == "ok"
    printed = session.devices.printer.last
    assert printed.find("一次性告知单") and printed.find("公司章程") and printed.find("授权委托书及经办人身份证件")
    assert printed.find("2026-11-23 09:"), printed.text  # the hall's (virtual) clock, not the kiosk machine's
    assert printed.stray_bytes == 0
    guide.handle("action", "take")
    assert guide.take_navigation() == ("take_number", {"business": "commerce", "item": "520200-SCJG-XK-0001"})


def test_guides_still_readable_when_the_server_is_gone(city):
    from tests.kiosk.conftest import make_session

    s = make_session(city.url)
    guide = Guide(s)
    guide.start()
    city.stop()
    s.cache["items"] = (s.cache["items"][0], -1e9)        # force a refresh attempt
    guide.start(item="520200-SCJG-XK-0001")
    v = guide.view()
    assert v.step == "guide" and v.notice.level == "warn" and "最近一次" in v.notice.text
    s.devices.close()


def test_help_says_where_staff_are(session):
    h = Help(session)
    h.start()
    v = h.view()
    assert "咨询台" in v.prompt
    session.devices.voice.wait_idle()
    assert "咨询台" in session.devices.voice.spoken[-1][1]


def test_help_calls_staff_to_the_kiosk_and_every_console_sees_it(session, city):
    clerk = city.client()
    clerk.login("1001", "hallq-demo")
    assert clerk.get("/attention")["help_requests"] == []
    h = Help(session)
    h.start()
    assert [a.key for a in h.view().actions] == ["call", "done"]
    h.handle("action", "call")
    v = h.view()
    assert v.notice.level == "ok" and "已通知工作人员" in v.notice.text
    assert [a.key for a in v.actions] == ["done"]  # asked once: no second button to press
    session.devices.voice.wait_idle()
    assert "请在这里稍候" in session.devices.voice.spoken[-1][1]
    (req,) = clerk.get("/attention")["help_requests"]
    assert (req["device"], req["place"], req["state"]) == ("kiosk-1", "一楼大厅入口", "open")

    # while nobody has come, the screen keeps asking (the UI's timer calls refresh) and says nothing new
    assert h.refresh_seconds() == 2.0
    h.refresh()
    assert "已通知工作人员" in h.view().notice.text

    # the next resident (after the screen was wiped) may ask again: still one request while nobody came
    h.start()
    assert h.refresh_seconds() is None                  # nothing asked yet on this visit: nothing to follow
    h.handle("action", "call")
    assert [r["id"] for r in clerk.get("/attention")["help_requests"]] == [req["id"]]
    clerk.post(f"/help-requests/{req['id']}/take", {})
    assert clerk.get("/attention")["help_requests"] == []
    # the next refresh tells the resident who is coming, on screen and aloud, and stops asking
    h.refresh()
    assert h.view().notice.text.endswith("工作人员（工号1001）正在过来，请在这里稍候。")
    session.devices.voice.wait_idle()
    assert "工号1001" in session.devices.voice.spoken[-1][1]
    assert h.refresh_seconds() is None


def test_help_request_with_the_server_down_is_retried(session, city):
    """Unreachable: the kiosk says it is retrying, and the same request goes through when the server is back."""
    city.stop()
    h = Help(session)
    h.start()
    h.handle("action", "call")
    assert h.view().retry_in and not h.called
    city.start()
    h.handle("retry")
    assert h.called and h.view().notice.level == "ok"
    clerk = city.client()
    clerk.login("1001", "hallq-demo")
    assert len(clerk.get("/attention")["help_requests"]) == 1
