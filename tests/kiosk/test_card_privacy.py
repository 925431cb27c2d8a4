"""No full ID number, name or phone on a kiosk screen but what the resident is typing (docs/privacy.md).

Through the presenters against a real server: what the ID card gives is kept and sent whole but every view
(``repr`` of the View: everything a screen can draw) holds only its mask; the confirm screen shows the form's
other people (the newborn's mother and father) masked; a card number the server refused is not put in the box
that shows a typed number in full. tests/kiosk/test_card_privacy_screens.py draws the same on the real screens.
"""

from __future__ import annotations

from dataclasses import replace

from device_drivers.sim_id_reader import demo_card
from hallq.client import ApiError
from hallq.privacy import id_check_char, mask_id_number, mask_name, mask_phone
from kiosk.presenters.application import SubmitApplication
from kiosk.presenters.take_number import NO_ITEM, TakeNumber
from tests.conftest import make_id
from tests.kiosk.test_appointments import ITEM as BOOKABLE

PHONE = "13912345678"
RETYPED_ID = make_id(birth="19560708", seq=919)     # a number typed in place of the card's
NEWBORN = "520200-WJ-GG-0001"    # 出生医学证明首次签发: the baby's, the mother's and the father's names and numbers
NEWBORN_VALUES = {"child_name": "周小宝", "child_sex": "female", "child_birth_date": "2026-11-20",
                  "birth_hospital": "六盘水市人民医院", "mother_name": "李秀兰", "mother_id_number": make_id(seq=882),
                  "father_name": "周建国", "father_id_number": make_id(birth="19830101", seq=771)}


def recording(session, name: str, refuse_first: ApiError | None = None) -> list[dict]:
    """Record the bodies the kiosk sends with ``session.api.<name>``; the first refused with ``refuse_first``."""
    bodies: list[dict] = []
    real = getattr(session.api, name)

    def call(*args):
        body = next(a for a in args if isinstance(a, dict))
        bodies.append(body)
        if refuse_first is not None and len(bodies) == 1:
            raise refuse_first
        return real(*args)
    setattr(session.api, name, call)
    return bodies


def shows(view, *values: str) -> list[str]:
    """Those of ``values`` a view holds anywhere (its sections, fields, options, notice, result)."""
    drawn = repr(view)
    return [v for v in values if v in drawn]


def to_person_step(session):
    from kiosk.presenters.appointments import BookAppointment

    flow = BookAppointment(session)
    flow.start(item=BOOKABLE)
    flow.handle("choose", "2026-11-24")
    flow.handle("choose", "09:00")
    assert flow.view().step == "person"
    return flow


def test_a_booking_from_the_card_shows_masks_and_sends_the_full_values(session):
    card = demo_card()
    flow = to_person_step(session)
    refusal = ApiError(400, "invalid_fields", {"zh-Hans": "请求内容有误：手机号", "en": "Invalid request: phone"},
                       fields=[{"field": "phone"}],
                       detail={"fields": {"phone": {"zh-Hans": "请核对手机号", "en": "Check the phone"}}})
    bodies = recording(session, "book", refuse_first=refusal)
    leaks = {}                                  # screen: the full values it would show
    flow.handle("card", card)
    v = flow.view()
    leaks["person (card read)"] = shows(v, card.name, card.id_number)
    assert flow.person.values["name"] == card.name and flow.person.values["id_number"] == card.id_number

    flow.handle("field", ("phone", PHONE))
    flow.handle("action", "next")
    v = flow.view()
    assert v.step == "confirm" and mask_phone(PHONE) in v.sections[2].lines[0]
    leaks["confirm"] = shows(v, card.name, card.id_number, PHONE)

    flow.handle("action", "confirm")            # the server refuses a field: back to the same screen
    v = flow.view()
    assert v.step == "person" and next(f for f in v.fields if f.key == "phone").error == "请核对手机号"
    leaks["person (refused)"] = shows(v, card.name, card.id_number)
    fields = {f.key: f for f in v.fields}
    assert fields["name"].value == mask_name(card.name) == "周*芬"
    assert fields["id_number"].value == mask_id_number(card.id_number)
    assert {f.key for f in v.fields if getattr(f, "from_card", False)} == {"name", "id_number"}

    flow.handle("action", "next")
    flow.handle("action", "confirm")
    v = flow.view()
    assert v.step == "result"
    leaks["result"] = shows(v, card.name, card.id_number, PHONE)
    assert {k: v for k, v in leaks.items() if v} == {}
    assert [(b["name"], b["id_number"], b["phone"]) for b in bodies] == [(card.name, card.id_number, PHONE)] * 2


def test_typing_over_a_value_read_from_the_card_replaces_it(session):
    card = demo_card()
    flow = to_person_step(session)
    bodies = recording(session, "book")
    flow.handle("card", card)
    flow.handle("field", ("name", "张晓红"))          # the resident retypes the name: theirs, shown as typed
    v = flow.view()
    assert card.id_number not in repr(v)
    fields = {f.key: f for f in v.fields}
    assert not fields["name"].from_card and fields["name"].value == "张晓红"
    assert fields["id_number"].from_card
    flow.handle("field", ("id_number", ""))           # retyped empty: the card's number is gone, not kept hidden
    assert flow.person.values["id_number"] == "" and "id_number" not in flow.person.card_keys
    flow.handle("card", card)                         # the card again: both from the card, masked
    assert {f.key for f in flow.view().fields if f.from_card} == {"name", "id_number"}
    flow.handle("field", ("phone", PHONE))
    flow.handle("action", "next")
    flow.handle("action", "confirm")
    assert flow.view().step == "result" and bodies[-1]["id_number"] == card.id_number
    assert bodies[-1]["name"] == card.name


def apply_newborn(session, card):
    flow = SubmitApplication(session)
    flow.start(item=NEWBORN)
    assert flow.view().step == "form"
    for key, value in NEWBORN_VALUES.items():
        flow.handle("field", (key, value))
    flow.handle("action", "next")
    assert flow.view().step == "materials", [(f.key, f.error) for f in flow.view().fields if f.error]
    flow.handle("action", "next")
    flow.handle("card", card)
    return flow


def test_the_application_confirm_screen_masks_every_person_field(session):
    card = demo_card()
    flow = apply_newborn(session, card)
    bodies = recording(session, "submit_application")
    people = [NEWBORN_VALUES[k] for k in ("child_name", "mother_name", "mother_id_number", "father_name",
                                          "father_id_number")]
    leaks = {}                                  # screen: the full values it would show
    v = flow.view()
    assert v.step == "applicant"
    leaks["applicant (card read)"] = shows(v, card.name, card.id_number)
    flow.handle("field", ("phone", PHONE))
    flow.handle("action", "next")
    v = flow.view()
    assert v.step == "confirm"
    leaks["confirm"] = shows(v, card.name, card.id_number, PHONE, *people)
    lines = next(s.lines for s in v.sections if any(line.startswith("新生儿姓名") for line in s.lines))
    flow.handle("action", "submit")
    v = flow.view()
    assert v.step == "result"
    leaks["result"] = shows(v, card.name, card.id_number, PHONE, *people)
    assert {k: v for k, v in leaks.items() if v} == {}
    assert "新生儿姓名：周*宝" in lines and "母亲姓名：李*兰" in lines and "父亲姓名：周*国" in lines
    assert f"母亲身份证号码：{mask_id_number(NEWBORN_VALUES['mother_id_number'])}" in lines
    assert "新生儿性别：女" in lines and "出生医院：六盘水市人民医院" in lines    # other answers as they were
    [body] = bodies
    assert body["applicant"] == {"name": card.name, "id_number": card.id_number, "phone": PHONE}
    assert body["fields"]["mother_id_number"] == NEWBORN_VALUES["mother_id_number"]
    assert body["fields"]["mother_name"] == "李秀兰" and body["fields"]["child_name"] == "周小宝"


def test_a_card_number_the_server_refuses_is_not_put_in_the_typed_box(session):
    good = demo_card()
    wrong = str((int(good.id_number[17]) + 1) % 10) if good.id_number[17] != "X" else "0"
    assert wrong != id_check_char(good.id_number[:17])
    card = replace(good, id_number=good.id_number[:17] + wrong)     # a card the server will not take
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "social")
    flow.handle("choose", NO_ITEM)
    assert flow.view().kind == "identity"
    flow.handle("card", card)
    v = flow.view()
    assert v.kind == "entry" and v.entry["error"], v
    assert v.entry["value"] == "" and shows(v, card.id_number, card.name) == []
    # what the resident types there is theirs and stays as typed
    flow.handle("submit", good.id_number[:10])
    v = flow.view()
    assert v.entry["value"] == good.id_number[:10] and v.entry["error"]
