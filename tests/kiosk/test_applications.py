"""Applications and progress through the presenters, against a real server."""

from __future__ import annotations

from device_drivers.sim_id_reader import demo_card
from hallq.client import HallClient
from kiosk.presenters.application import SubmitApplication
from kiosk.presenters.progress import Progress

ITEM = "520201-RS-GG-0001"    # 城乡居民基本养老保险参保登记


def fill(session) -> SubmitApplication:
    flow = SubmitApplication(session)
    flow.start()
    v = flow.view()
    assert v.step == "item" and ITEM in [o.key for o in v.options]
    flow.handle("choose", ITEM)
    v = flow.view()
    assert v.kind == "form" and [f.key for f in v.fields] == ["contribution_level", "special_group", "bank_account",
                                                              "address"]
    level = v.fields[0]
    assert level.kind == "select" and [o.key for o in level.options][:2] == ["300", "500"]
    assert v.fields[2].hint == "12到19位数字"
    return flow


def test_form_errors_are_sentences_and_the_input_stays(session):
    flow = fill(session)
    flow.handle("field", ("bank_account", "62170012"))
    flow.handle("action", "next")
    v = flow.view()
    assert v.step == "form"
    errors = {f.key: f.error for f in v.fields}
    assert errors["contribution_level"] == "请为“缴费档次（元/年）”选择一项"
    assert errors["bank_account"] == "“社会保障卡银行账号”的格式不对，请核对"
    assert "必须填写" in errors["address"] and errors["special_group"] == ""
    assert next(f for f in v.fields if f.key == "bank_account").value == "62170012"
    session.set_lang("en")
    flow.handle("action", "next")
    assert next(f for f in flow.view().fields if f.key == "address").error == "\"Home address\" is required"


def test_submit_with_missing_material_then_track_the_correction(session, city):
    flow = fill(session)
    for key, value in (("contribution_level", "500"), ("bank_account", "6217001234567890"),
                       ("address", "贵州省六盘水市钟山区大河镇周家村三组12号")):
        flow.handle("field", (key, value))
    flow.handle("action", "next")
    v = flow.view()
    assert v.kind == "checklist" and len(v.options) == 3 and v.notice.level == "warn"
    flow.handle("toggle", "0")
    v = flow.view()
    assert v.options[0].selected and "还缺必需材料" in v.notice.text and v.options[1].label in v.notice.text
    flow.handle("action", "next")
    assert flow.view().step == "applicant" and "card" in flow.view().listens
    card = demo_card()
    flow.handle("card", card)
    flow.handle("field", ("phone", "13987654321"))
    flow.handle("action", "next")
    v = flow.view()
    assert v.step == "confirm" and card.id_number not in str(v.sections)
    flow.handle("action", "submit")
    v = flow.view()
    assert v.step == "result" and v.result["number"].startswith("SQ20261123-")
    tracking = v.result["number"]
    printed = session.devices.printer.last
    assert printed.qr_codes == [tracking] and printed.find(tracking)
    assert printed.find("[ ]") and card.id_number not in printed.text

    staff = HallClient(city.url)
    staff.login("1007", "hallq-demo")
    staff.request("POST", f"/applications/{tracking}/transition", {"to": "pre_review"})
    staff.request("POST", f"/applications/{tracking}/transition", {"to": "correction", "reason": "缺少户口簿"})

    progress = Progress(session)
    progress.start()
    session.set_lang("zh-Hans")
    progress.handle("scan", tracking)
    v = progress.view()
    assert v.step == "detail"
    titles = [s.title for s in v.sections]
    assert "需补正" in titles
    missing = v.sections[titles.index("需补正")].lines[0]
    not_brought = flow.form["materials"][1]["name"]
    assert missing == f"需要补齐：{not_brought}"          # the one notice lists what was not ticked
    timeline = v.sections[titles.index("办理过程")].lines
    assert len(timeline) == 3 and "已提交" in timeline[0] and "缺少户口簿" in timeline[2]

    # by the receipt alone nothing is handed in: its tracking number is no proof, the applicant's card is
    progress.handle("action", "supplement")
    progress.handle("toggle", progress.view().options[0].key)
    v = progress.view()
    assert "刷身份证" in v.prompt and "card" in v.listens and not v.actions[0].enabled
    progress.handle("card", card)
    v = progress.view()
    assert "card" not in v.listens and v.actions[0].enabled

    # by ID card: the same application is found, and the missing material handed in (补正)
    progress.start()
    progress.handle("card", card)
    v = progress.view()
    assert v.step == "detail" and progress.application["tracking_no"] == tracking
    assert v.actions[0].key == "supplement"
    progress.handle("action", "supplement")
    v = progress.view()
    assert v.kind == "checklist" and [o.label for o in v.options] == [not_brought]
    progress.handle("toggle", v.options[0].key)
    progress.handle("action", "hand_in")
    v = progress.view()
    assert v.step == "detail" and v.notice.level == "ok" and progress.application["status"] == "pre_review"


def test_typed_tracking_number_is_checked(session):
    progress = Progress(session)
    progress.start()
    progress.handle("action", "type_tracking")
    progress.handle("submit", "SQ2026")
    v = progress.view()
    assert v.entry["value"] == "SQ2026" and "格式不对" in v.entry["error"]
    progress.handle("submit", "SQ20261123-ABCDEFGH")
    v = progress.view()
    assert v.step == "entry" and v.entry["error"]
