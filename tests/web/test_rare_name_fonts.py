"""The consoles show names with rare characters (生僻字) in a font that has them (issue 12, item 6).

console.css lists, after the main CJK fonts, the families with CJK Extensions A-H. Chromium is asked (DevTools'
CSS.getPlatformFontsForNode) which fonts drew a name: every rare character must come from one of those
families, never from a font without the glyph (a box).
"""

from __future__ import annotations

import pytest

from hallq.testing import ROOT

CSS = ROOT / "queue_server" / "web" / "static" / "console" / "console.css"
RARE = "𪚥𠇔𬌗䶮𰻞"
EXT_FAMILIES = {"BabelStone Han", "HanaMinA", "HanaMinB"}


def fonts_of(driver, element_id: str) -> dict[str, int]:
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": f"#{element_id}"})["nodeId"]
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {f["familyName"]: f["glyphCount"] for f in fonts}


@pytest.mark.timeout(60)
def test_a_rare_name_is_drawn_with_the_fonts_that_have_it(chromium, tmp_path, screenshot):
    page = tmp_path / "names.html"
    page.write_text(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="{CSS.as_uri()}"></head><body>
<p id="plain">王小明</p><p id="rare">{RARE}</p><p id="mixed">申请人：𪚥小明</p></body></html>""", "utf-8")
    chromium.get(page.as_uri())
    screenshot(chromium, "rare-name-fonts")
    plain = fonts_of(chromium, "plain")
    assert set(plain) == {"WenQuanYi Micro Hei"}, plain            # ordinary names keep the main font
    rare = fonts_of(chromium, "rare")
    assert set(rare) <= EXT_FAMILIES and sum(rare.values()) == len(RARE), rare
    mixed = fonts_of(chromium, "mixed")
    assert mixed.get("WenQuanYi Micro Hei") == 6 and sum(n for f, n in mixed.items() if f in EXT_FAMILIES) == 1, mixed
