"""What the ID card gives is drawn masked on the real kiosk screens (Kivy offscreen, tests/kiosk/drive_card_privacy.py in
its own process): no text of any screen of a booking or an application holds the full name or ID number read from
the card, nor, once shown back on a confirm screen or a receipt, the full phone or the newborn's family's names and
numbers typed on the form; the server gets them whole; a card's value is retyped afresh from an empty box.
Screenshots under test-artifacts/kiosk/privacy-<layout>-<mode>-<text input>/, checked like every other screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from device_drivers.sim_id_reader import demo_card
from hallq.privacy import mask_id_number, mask_name
from hallq.testing import ROOT
from kiosk.ui.form_step import grouped
from tests.kiosk.test_card_privacy import NEWBORN_VALUES, PHONE, RETYPED_ID

ART = ROOT / "test-artifacts" / "kiosk"
SCRIPT = ROOT / "tests" / "kiosk" / "drive_card_privacy.py"
TYPED = ("apply-form", "book-phone", "book-refused", "retype-id-typed")  # forms showing what the resident typed in them
PEOPLE = [NEWBORN_VALUES[k] for k in ("child_name", "mother_name", "mother_id_number", "father_name",
                                      "father_id_number")]
FROM_CARD = "已从身份证读取；如需更改，请点上面的框重新输入"


def drive(url: str, layout: str, mode: str, text_input: str) -> tuple[dict[str, dict], dict]:
    out = ART / f"privacy-{layout}-{mode}-{text_input}"
    for old in out.glob("*.png"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(SCRIPT), url, str(out), layout, mode, text_input], env=env,
                         capture_output=True, text=True, timeout=170, cwd=ROOT)
    report_path = out / "report.json"
    assert report_path.exists(), run.stderr[-3000:]
    report = json.loads(report_path.read_text("utf-8"))
    return {s["name"]: s for s in report["steps"]}, report


def leaks(texts: list[str], *values: str) -> list[str]:
    """Those of ``values`` the texts hold, however grouped (an ID number is drawn 6 8 4, a phone 3 4 4)."""
    flat = "\n".join(texts)
    bare = flat.replace(" ", "").replace("\u3000", "")
    return [v for v in values if v in flat or v.replace(" ", "") in bare]


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("layout, mode, text_input", [("portrait", "normal", "onscreen"),
                                                      ("landscape", "elderly", "system")],
                         ids=["portrait-normal-onscreen", "landscape-elderly-system"])
def test_no_screen_shows_what_the_card_gave_in_full(city, layout, mode, text_input):
    card = demo_card()
    steps, report = drive(city.url, layout, mode, text_input)
    shown = {}
    for name, s in steps.items():
        shown[name] = leaks(s["texts"], card.name, card.id_number, *([] if name in TYPED else [PHONE] + PEOPLE))
    assert {k: v for k, v in shown.items() if v} == {}
    assert report["errors"] == [], "\n".join(report["errors"])
    for name, s in steps.items():
        assert "error" not in s, f"{name}: {s['error']}"
        assert s["problems"] == [], f"{name}: {s['problems']}"
    expected = ["book-person", "book-card-read", "book-phone", "book-confirm", "book-refused", "book-confirm-again",
                "book-result", "apply-form", "apply-materials", "apply-card-read", "apply-confirm", "apply-result",
                "retype-card-read", "retype-name-open"]
    expected += ["retype-name-left-empty", "retype-name-typed"] if text_input == "system" else \
        ["retype-id-open", "retype-id-typed"]
    assert list(steps) == expected
    assert [s["step"] for s in steps.values()][:7] == ["person", "person", "person", "confirm", "person", "confirm",
                                                       "result"]
    assert steps["apply-confirm"]["step"] == "confirm" and steps["apply-result"]["step"] == "result"
    # the typed ones are on the screens they are typed on: the resident sees and corrects them there
    assert leaks(steps["apply-form"]["texts"], *PEOPLE) == PEOPLE
    assert leaks(steps["book-phone"]["texts"], PHONE) == [PHONE]

    # the card's values: masked in their boxes, said to come from the card; kept whole for the server
    masks = {"name": mask_name(card.name), "id_number": grouped(mask_id_number(card.id_number), "id_number")}
    for name in ("book-card-read", "book-refused", "apply-card-read", "retype-card-read"):
        s = steps[name]
        assert s["boxes"] == masks and s["card_keys"] == ["id_number", "name"], name
        assert s["values"] == {"name": card.name, "id_number": card.id_number}, name
        assert s["texts"].count(FROM_CARD) == 2, name
    assert "请核对手机号" in "".join(steps["book-refused"]["texts"])
    confirm = "\n".join(steps["apply-confirm"]["texts"])
    assert "母亲姓名：李*兰" in confirm and f"母亲身份证号码：{mask_id_number(NEWBORN_VALUES['mother_id_number'])}" in confirm
    assert mask_name(card.name) in confirm
    books, applications = report["bodies"]["book"], report["bodies"]["submit_application"]
    assert [(b["name"], b["id_number"], b["phone"]) for b in books] == [(card.name, card.id_number, PHONE)] * 2
    [body] = applications
    assert body["applicant"] == {"name": card.name, "id_number": card.id_number, "phone": PHONE}
    assert {k: body["fields"][k] for k in NEWBORN_VALUES if k != "child_sex"} == \
        {k: v for k, v in NEWBORN_VALUES.items() if k != "child_sex"}

    # retyping: a tap on a card's box opens an empty editor; nothing typed leaves the card's value, typing replaces it
    opened = steps["retype-name-open"]
    if text_input == "system":
        assert opened["inputs"] == ["name"] and opened["boxes"]["name"] is None
        assert opened["values"]["name"] == card.name and opened["card_keys"] == ["id_number", "name"]
        empty = steps["retype-name-left-empty"]
        assert empty["values"]["name"] == card.name and empty["boxes"] == masks and empty["inputs"] == []
        typed = steps["retype-name-typed"]
        assert typed["values"] == {"name": "张晓红", "id_number": card.id_number} and typed["card_keys"] == ["id_number"]
        assert leaks(typed["texts"], card.id_number) == [] and "张晓红" in typed["texts"]
    else:
        assert opened["keyboard"] == "name" and opened["composer"] == "" and opened["boxes"]["name"] == "▏"
        moved = steps["retype-id-open"]
        assert moved["keyboard"] is None and moved["pending"] == [] and moved["keypad"] == ""
        assert moved["boxes"] == masks and moved["values"]["name"] == card.name
        typed = steps["retype-id-typed"]
        assert typed["values"] == {"name": card.name, "id_number": RETYPED_ID} and typed["card_keys"] == ["name"]
        assert typed["boxes"] == {"name": masks["name"], "id_number": grouped(RETYPED_ID, "id_number")}
