"""Rare characters of names (生僻字, issue 12 item 6) on every output: the fonts that have them, Kivy labels
drawn with them (a real offscreen screenshot, not a box), the ID card reader's name field, the masks and a
printed receipt whose name line is a raster image with the glyphs.

Real examples: 𪚥 U+2A6A5 and 𠇔 U+201D4 (Ext B), 𬌗 U+2C317 (Ext E), 䶮 U+4DAE (Ext A), 𰻞 U+30EDE (Ext G).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image, ImageChops

from device_drivers.id_reader import IdCard
from device_drivers.printer import PrinterProfile, needs_image
from device_drivers.sim_escpos import decode
from device_drivers.sim_id_reader import IdReaderSimulator, demo_card
from hallq import fonts
from hallq.privacy import mask_name
from hallq.testing import ROOT
from kiosk import receipts

EXAMPLES = "𪚥𠇔𬌗䶮𰻞"
MAIN = next(p for p in fonts.MAIN_FONTS if os.path.isfile(p))


def test_the_main_font_lacks_them_and_an_installed_fallback_has_each():
    # why this exists: WenQuanYi Micro Hei has none of them (a label would show boxes)
    assert fonts.missing(EXAMPLES, MAIN) == list(EXAMPLES)
    assert fonts.fallback_fonts(), f"install {fonts.PACKAGES} (./run.sh setup)"
    for ch in EXAMPLES:
        path = fonts.font_for_char(ch, fonts.chain())
        assert path is not None and path != MAIN, f"no installed font has U+{ord(ch):04X}"


def test_a_label_takes_the_one_font_that_has_all_its_text():
    assert fonts.font_for("请 A001 号到 3 号窗口", MAIN) == MAIN            # ordinary text keeps the main font
    for text in ("𪚥*明", "姓名：𠇔*", "𰻞*华 您好", "刘䶮", "䶮"):
        chosen = fonts.font_for(text, MAIN)
        assert chosen != MAIN and fonts.missing(text, chosen) == [], (text, chosen)


@pytest.mark.skipif(shutil.which("fc-query") is None, reason="fontconfig's fc-query is the cross-check")
def test_the_cmap_reader_agrees_with_fontconfig():
    for path in [MAIN, *fonts.fallback_fonts()]:
        out = subprocess.run(["fc-query", "--index=0", "--format=%{charset}", path], capture_output=True,
                             text=True, check=True).stdout
        theirs = set()
        for part in out.split():
            a, _, b = part.partition("-")
            theirs.update(range(int(a, 16), int(b or a, 16) + 1))
        ours = set(fonts.codepoints(path))
        assert len(ours ^ theirs) <= 4, (path, sorted(ours ^ theirs)[:10])   # fontconfig drops a control or two
        assert {ord(c) for c in EXAMPLES if fonts.has(path, c)} <= theirs


def test_names_are_masked_by_characters():
    assert mask_name("𪚥小明") == "𪚥*明"      # three characters: not 4 UTF-16 units, not 10 UTF-8 bytes
    assert mask_name("𠇔明") == "𠇔*"
    assert mask_name("𬌗𰻞䶮𪚥") == "𬌗**𪚥"
    assert mask_name("葛\U000e0100小明") == "葛\U000e0100*明"   # the variation selector stays with 葛


def test_the_id_card_readers_name_field_carries_them():
    card = demo_card(name="𪚥𠇔𬌗䶮𰻞")   # five characters, seven UTF-16 units: fits the 15 units of the card
    reader = IdReaderSimulator()
    reader.place(card)
    read = reader.read_card()
    assert read is not None and read.name == "𪚥𠇔𬌗䶮𰻞"
    assert IdCard.from_text(card.to_text()).name == card.name
    assert "𠇔" not in repr(read) and mask_name(read.name) in repr(read)    # logs see the mask only


# -- a Kivy label, drawn for real ----------------------------------------------------------------------

def _render(tmp_path, fallback: bool, texts: list[str]) -> list[dict]:
    spec = {"kivy_home": str(tmp_path / "kivy"), "fallback": fallback,
            "labels": [{"text": t, "out": str(tmp_path / f"{fallback}-{i}.png")} for i, t in enumerate(texts)]}
    spec_path, result_path = tmp_path / f"spec-{fallback}.json", tmp_path / f"result-{fallback}.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "fonts" / "render_labels.py"), str(spec_path),
                          str(result_path)], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result_path.exists(), run.stderr[-3000:]
    return json.loads(result_path.read_text("utf-8"))["labels"]


def _same(a: str, b: str) -> bool:
    x, y = Image.open(a).convert("RGBA"), Image.open(b).convert("RGBA")
    return x.size == y.size and ImageChops.difference(x, y).getbbox() is None


@pytest.mark.timeout(240)
def test_a_kivy_label_draws_the_glyphs_not_boxes(tmp_path):
    box = "\uffff"   # a noncharacter: every font draws its missing-glyph box
    with_fallback = _render(tmp_path, True, [*EXAMPLES, box, "𪚥*明"])
    without = _render(tmp_path, False, [*EXAMPLES, box])
    for i, ch in enumerate(EXAMPLES):
        assert with_fallback[i]["font"] != MAIN and fonts.has(with_fallback[i]["font"], ch), ch
        # without the fallback Kivy draws the main font's box, exactly as for U+FFFF: the test can see a box
        assert without[i]["font"] == MAIN and _same(without[i]["out"], without[-1]["out"]), ch
        assert not _same(with_fallback[i]["out"], without[i]["out"]), f"U+{ord(ch):04X} is still a box"
        img = Image.open(with_fallback[i]["out"]).convert("RGBA")
        assert img.getchannel("A").getbbox() is not None, f"U+{ord(ch):04X} drew nothing"
    name = with_fallback[-1]
    assert fonts.missing("𪚥*明", name["font"]) == []       # the masked name: one font with all three


# -- the printer --------------------------------------------------------------------------------------

def test_a_receipt_prints_the_rare_name_as_an_image_and_the_rest_as_text():
    profile = PrinterProfile()
    booking = {"date": "2026-11-24", "start": "09:00", "end": "09:30", "code": "K7M2QX9P", "item": "T-ALPHA-1",
               "item_name": {"zh-Hans": "失业保险金申领"}, "name_masked": mask_name("𪚥小明"),
               "id_masked": "520201********1234", "cancel_until": "2026-11-24T07:00:00+08:00"}
    data = receipts.booking(profile, {"zh-Hans": "六盘水市政务服务中心"}, booking, "zh-Hans")
    p = decode(data, profile.encoding)
    assert p.stray_bytes == 0 and p.unknown == [] and p.cuts == 1 and p.qr_codes == ["HALLQ-APPT:K7M2QX9P"]
    images = [line for line in p.lines if line.image is not None]
    assert len(images) == 1 and images[0].image.width == profile.dots and images[0].image.height == 24
    assert p.find("六盘水市政务服务中心") and p.find("失业保险金申领") and "𪚥" not in p.text   # other lines: text
    printed_text = "姓名：𪚥*明  身份证号：520201********1234"
    assert needs_image(printed_text, "gb18030") and not needs_image("姓名：王*明", "gb18030")
    # the bits are the line drawn in the fonts that have each glyph ...
    expected = fonts.render_line(printed_text, profile.dots, 24)
    assert images[0].image.bits == expected.tobytes()
    # ... and the 𪚥 is a glyph, not the main font's box
    boxed = fonts.render_line(printed_text, profile.dots, 24, fonts=[MAIN])
    assert images[0].image.bits != boxed.tobytes()
    assert sum(bin(b).count("1") for b in images[0].image.bits) > 200      # ink on the paper


def test_every_example_prints_as_a_glyph_on_58_mm_paper_too():
    from device_drivers.printer import TicketDocument

    profile = PrinterProfile(paper_mm=58)
    for ch in EXAMPLES:
        doc = TicketDocument(profile)
        doc.line(f"{ch}*明", align="center", scale=2)
        p = decode(doc.data)
        if ord(ch) <= 0xFFFF:   # 䶮 (Ext A) is in GB18030-2000's required set, so in the printer's own font
            assert p.images == [] and p.find(f"{ch}*明"), ch
            continue
        img = p.images[0]
        assert (img.width, img.height) == (384, 48)
        assert img.bits != fonts.render_line(f"{ch}*明", 384, 48, "center", fonts=[MAIN]).tobytes(), ch
        left = min(x for y in range(48) for x in range(384) if img.dot(x, y))
        assert 100 < left < 192, ch    # centred like the text lines around it
    doc = TicketDocument(PrinterProfile(encoding="gbk"))   # an older firmware without Ext A: an image
    doc.line("刘䶮")
    assert decode(doc.data, "gbk").images
