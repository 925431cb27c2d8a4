"""一件事 at the kiosk, against a real server: the combined guide (一次告知), one form, one checklist, the applicant
from the ID card, one tracking number for four 办件; and the target: ≤ 12 screen taps.

A tap is a touch the presenter handles as a choice, a toggle or an action. Typing a field's value on the
on-screen keyboard is counted apart, per field (the values are the resident's own: a child's name cannot be
tapped in); reading the ID card is no tap.
"""

from __future__ import annotations

from device_drivers.sim_id_reader import demo_card
from hallq.client import HallClient
from kiosk.presenters.application import SubmitApplication
from kiosk.presenters.home import Home
from kiosk.presenters.progress import Progress
from tests.conftest import make_id

MOTHER = make_id("19930304", seq=246)
TYPED = {"child_name": "李安", "child_birth_date": "2026-11-10", "birth_hospital": "六盘水市妇幼保健院",
         "mother_name": "张丽", "mother_id_number": MOTHER, "household_address": "贵州省六盘水市钟山区人民路8号"}
CHOSEN = {"child_sex": "female", "registered_with": "mother"}


class Counted:
    """A flow whose touches are counted: taps (choose, toggle, action) apart from typed fields."""

    def __init__(self, flow) -> None:
        self.flow, self.taps, self.typed = flow, 0, 0

    def tap(self, event: str, arg) -> None:
        self.taps += 1
        self.flow.handle(event, arg)

    def type(self, key: str, value: str) -> None:
        self.typed += 1
        self.flow.handle("field", (key, value))

    def view(self):
        return self.flow.view()


def test_a_package_of_four_items_in_at_most_12_taps_with_an_id_card(session, back_office):
    home = Home(session)
    home.start()
    home.handle("choose", "apply")  # tap 1: the 办事申请 tile
    assert home.take_navigation()[0] == "apply"
    flow = Counted(SubmitApplication(session))
    flow.taps = 1
    flow.flow.start()
    v = flow.view()
    assert v.options[0].key == "pkg:newborn" and "4个事项一次办" in v.options[0].detail
    flow.tap("choose", "pkg:newborn")
    v = flow.view()
    assert v.step == "package" and v.prompt == "新生儿出生一件事"
    items, materials = v.sections[0].lines, v.sections[1].lines
    assert len(items) == 4 and "六盘水市公安局钟山分局" in items[1]
    assert sum(line.startswith("居民身份证（") for line in materials) == 1  # asked once for four items
    flow.tap("action", "print_notice")
    notice = session.devices.printer.last
    assert notice.find("新生儿出生一件事") and notice.text.count("居民身份证（") == 1
    flow.tap("action", "start")
    v = flow.view()
    keys = [f.key for f in v.fields]
    assert v.step == "form" and len(keys) == len(set(keys)) and "child_name" in keys
    for key, value in TYPED.items():
        flow.type(key, value)
    for key, value in CHOSEN.items():
        flow.tap("field", (key, value))  # a choice is a tap on one of its options
    flow.tap("action", "next")
    v = flow.view()
    assert v.step == "materials" and "用于：" in v.options[1].detail
    flow.tap("action", "all")
    flow.tap("action", "next")
    assert flow.view().step == "applicant"
    flow.flow.handle("card", demo_card())  # the ID card read: no tap
    flow.type("phone", "13912345678")
    flow.tap("action", "next")
    v = flow.view()
    assert v.step == "confirm" and not v.notice
    flow.tap("action", "submit")
    v = flow.view()
    assert v.step == "result" and "4个事项一次办" in v.result["lines"][0]
    tracking = v.result["number"]
    assert flow.taps <= 12, flow.taps
    assert flow.typed == len(TYPED) + 1
    receipt = session.devices.printer.last
    assert receipt.qr_codes == [tracking] and receipt.find("· 社会保障卡申领") and MOTHER not in receipt.text

    # four 办件 under one tracking number, one for each department's back office
    staff = back_office
    pkg = staff.request("GET", f"/applications/{tracking}")
    assert [p["tracking_no"] for p in pkg["parts"]] == [f"{tracking}-{n}" for n in range(1, 5)]
    assert len({p["department"] for p in pkg["parts"]}) == 4
    staff.request("POST", f"/packages/applications/{tracking}/review", {"to": "accepted"})
    staff.request("POST", f"/applications/{tracking}-3/transition", {"to": "result_ready", "decision": "approved"})

    # one progress at the kiosk, by the receipt's QR: each part with its department, partial results shown
    progress = Progress(session)
    progress.start()
    progress.handle("scan", tracking)
    v = progress.view()
    titles = [s.title for s in v.sections]
    parts = v.sections[titles.index("各部门办理情况")].lines
    assert "办理中" in v.sections[0].lines[1]
    assert parts[2].startswith("城乡居民基本医疗保险参保登记（新生儿）（六盘水市医疗保障局）：可领取结果")
    assert sum("已受理" in line for line in parts) == 3


def test_a_package_correction_is_handed_in_at_the_kiosk_with_the_card(session, file_newborn, back_office):
    tracking = file_newborn({**TYPED, **CHOSEN}, not_brought="居民户口簿")
    back_office.request("POST", f"/packages/applications/{tracking}/review", {"to": "correction"})
    progress = Progress(session)
    progress.start()
    progress.handle("card", demo_card())
    v = progress.view()
    assert v.step == "detail" and v.actions[0].key == "supplement"
    progress.handle("action", "supplement")
    v = progress.view()
    assert [o.label for o in v.options] == ["居民户口簿"]  # asked once, though two departments need it
    progress.handle("toggle", v.options[0].key)
    progress.handle("action", "hand_in")
    v = progress.view()
    assert v.notice.level == "ok" and progress.application["status"] == "submitted"
    assert {p["status"] for p in progress.application["parts"]} == {"pre_review"}
    # what was handed in is recorded (the kiosk once matched the notice's names, in three languages, against the
    # package's and handed in nothing: the part went back to pre-review with 居民户口簿 still missing)
    part = back_office.request("GET", f"/applications/{tracking}-2")
    book = next(m["index"] for m in part["materials"] if m["name"] == "居民户口簿")
    assert book in part["materials_provided"]


def test_the_guides_list_the_packages_and_print_a_combined_notice(session, city):
    """办事指南 offers 一件事 beside the categories: a package opens its combined guide (一次告知), printed like an
    item's notice (every material once), and leads to its application."""
    from kiosk.presenters.guide import Guide

    guide = Guide(session)
    guide.start()
    v = guide.view()
    entry = v.options[0]
    assert entry.key == "__packages__" and entry.label == "一件事一次办" and entry.badge == "3"
    guide.handle("choose", entry.key)
    v = guide.view()
    assert v.step == "packages" and [o.key for o in v.options][0] == "pkg:newborn"
    assert "4个事项一次办" in v.options[0].detail
    guide.handle("choose", "pkg:newborn")
    v = guide.view()
    assert v.step == "package" and v.prompt == "新生儿出生一件事"
    items, materials = v.sections[0].lines, v.sections[1].lines
    assert len(items) == 4 and "六盘水市公安局钟山分局" in items[1]
    assert sum(line.startswith("居民身份证（") for line in materials) == 1
    assert [a.key for a in v.actions] == ["print_notice", "apply"]
    guide.handle("action", "print_notice")
    notice = session.devices.printer.last
    assert guide.view().notice.level == "ok"
    assert notice.find("新生儿出生一件事") and notice.find("社会保障卡申领") and notice.text.count("居民身份证（") == 1
    guide.handle("action", "apply")
    assert guide.take_navigation() == ("apply", {"item": "pkg:newborn"})
    flow = SubmitApplication(session)
    flow.start(item="pkg:newborn")
    assert flow.view().step == "package" and flow.view().prompt == "新生儿出生一件事"
    # back: the list of packages, then the first step again
    assert guide.go_back() and guide.view().step == "packages"
    assert guide.go_back() and guide.view().step == "business"


def test_a_ready_result_is_collected_by_a_number_for_the_delivery_window(session, city, file_newborn, back_office):
    """领取结果: the receipt's QR opens the progress; a part's result is ready on site, so 领取结果 asks for the
    applicant's card and prints a number of the 出件 window, which window 19 calls first."""
    tracking = file_newborn({**TYPED, **CHOSEN})
    staff = back_office
    staff.request("POST", f"/packages/applications/{tracking}/review", {"to": "accepted"})

    progress = Progress(session)
    progress.start()
    progress.handle("scan", tracking)
    assert "collect" not in [a.key for a in progress.view().actions]  # nothing ready yet
    staff.request("POST", f"/applications/{tracking}-2/transition", {"to": "result_ready", "decision": "approved"})
    progress.start()
    progress.handle("scan", tracking)
    assert progress.view().actions[0].key == "collect"
    progress.handle("action", "collect")
    v = progress.view()
    assert v.step == "collect" and "card" in v.listens  # the receipt is no proof: the applicant's card is
    progress.handle("card", demo_card())
    v = progress.view()
    assert v.step == "result" and v.result["number"].startswith("E"), v
    ticket = session.devices.printer.last
    assert v.result["number"] in ticket.text
    clerk = HallClient(city.url)
    clerk.login("1003", "hallq-demo")
    clerk.request("POST", "/windows/19/sign-in", {})
    called = clerk.request("POST", "/windows/19/call-next", {})
    assert called["ticket"]["ticket"] == v.result["number"]
