"""The screenshot gallery (docs/gallery.md, made by tools/gallery.py) is whole, without drawing anything.

* every picture the page shows is in docs/gallery/, and every picture there is shown, with a caption;
* the pictures stay small enough for a repository (≤ 150 KB each, ≤ 8 MB in all);
* the kiosk screens the command asks for are scenarios that tests/kiosk/render_screens.py still draws, so a
  renamed scenario fails here at once rather than when the gallery is next made.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys

from hallq.testing import ROOT

DOCS = ROOT / "docs"
PAGE = DOCS / "gallery.md"
PICTURES = DOCS / "gallery"
IMAGE = re.compile(r"!\[([^\]]*)\]\((gallery/[^)]+)\)")


def gallery_tool():
    spec = importlib.util.spec_from_file_location("gallery_tool", ROOT / "tools" / "gallery.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_the_page_shows_every_picture_of_the_folder_and_nothing_else():
    shown = IMAGE.findall(PAGE.read_text(encoding="utf-8"))
    assert len(shown) >= 20, "docs/gallery.md shows hardly any screen: run .venv/bin/python tools/gallery.py"
    paths = [path for _, path in shown]
    assert len(paths) == len(set(paths)), "a picture is shown twice"
    missing = [p for p in paths if not (DOCS / p).is_file()]
    assert not missing, f"docs/gallery.md shows pictures that are not there: {missing}"
    on_disk = {f"gallery/{p.name}" for p in PICTURES.iterdir()}
    unshown = sorted(on_disk - set(paths))
    assert not unshown, f"docs/gallery/ holds pictures the page does not show (remove them): {unshown}"
    assert all(alt.strip() for alt, _ in shown), "every picture has its caption as its text alternative"


def test_the_pictures_stay_small():
    sizes = {p.name: p.stat().st_size for p in PICTURES.glob("*.png")}
    big = {name: size for name, size in sizes.items() if size > 150_000}
    assert not big, f"pictures over 150 KB (show them narrower in tools/gallery.py): {big}"
    assert sum(sizes.values()) <= 8_000_000


def test_the_page_links_back_to_its_command_and_the_readme_links_the_page():
    assert "tools/gallery.py" in PAGE.read_text(encoding="utf-8")
    assert "](docs/gallery.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def scenarios(name: str) -> set[str]:
    """The names of a scenario list (``SCENARIOS`` or ``VILLAGE``) of render_screens.py, read without running it."""
    tree = ast.parse((ROOT / "tests" / "kiosk" / "render_screens.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            assert isinstance(node.value, ast.List)
            return {ast.literal_eval(item.elts[0]) for item in node.value.elts if isinstance(item, ast.Tuple)}
    raise AssertionError(f"render_screens.py has no list {name}")


def test_the_kiosk_screens_asked_for_are_scenarios_render_screens_draws():
    tool = gallery_tool()
    city, village = scenarios("SCENARIOS"), scenarios("VILLAGE")
    assert set(tool.KIOSK) <= city, sorted(set(tool.KIOSK) - city)
    assert set(tool.VILLAGE_SCREENS) <= village, sorted(set(tool.VILLAGE_SCREENS) - village)
    chain = set(tool.SOME.split(","))
    assert chain <= city
    for screens in tool.LANG_SCREENS.values():
        assert set(screens) <= chain
    names = [name for screens in (tool.KIOSK, tool.VILLAGE_SCREENS, *tool.LANG_SCREENS.values())
             for name, _ in screens.values()]
    assert len(names) == len(set(names)), "two kiosk screens would be written to the same file"
