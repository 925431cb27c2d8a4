"""Finding an item on the kiosk (事项检索): 搜索事项 in the guides, against a real server of the sample city hall.

The resident types on the on-screen keyboard and presses 确定, which sends the field: the initials "yl" (typed
straight on the ABC page) or 社保 (in pinyin mode) list the matching items, best first; one tap opens its guide.
"""

from __future__ import annotations

from kiosk.presenters.guide import Guide

PENSION = {"城乡居民基本养老保险参保登记", "职工基本养老保险待遇申领"}


def search(guide: Guide, q: str):
    guide.handle("action", "search")
    v = guide.view()
    assert v.step == "search" and v.kind == "form" and [f.key for f in v.fields] == ["q"]
    guide.handle("field", ("q", q))
    return guide.view()


def test_initials_typed_on_the_abc_page_find_the_pension_items(session):
    guide = Guide(session)
    guide.start()
    v = guide.view()
    assert "search" in [a.key for a in v.actions] and v.step == "business"
    v = search(guide, "yl")
    assert v.step == "found" and v.kind == "choose"
    assert {o.label for o in v.options[:2]} == PENSION and "yl" in v.prompt
    assert v.options[0].detail.endswith("局")  # the department, to tell like names apart
    guide.handle("choose", v.options[0].key)
    v = guide.view()
    assert v.step == "guide" and v.prompt in PENSION and "申请材料" in [s.title for s in v.sections]
    guide.handle("action", "take")
    assert guide.take_navigation()[0] == "take_number"


def test_back_returns_to_the_results_then_to_the_words_typed(session):
    guide = Guide(session)
    guide.start()
    v = search(guide, "社保")
    names = [o.label for o in v.options]
    assert "社会保障卡申领" in names and "失业保险金申领" in names
    guide.handle("choose", v.options[0].key)
    assert guide.view().step == "guide"
    guide.handle("back")
    assert guide.view().step == "found" and [o.label for o in guide.view().options] == names
    guide.handle("back")
    v = guide.view()
    assert v.step == "search" and v.fields[0].value == "社保"
    guide.handle("back")
    assert guide.view().step == "business"


def test_a_search_that_finds_nothing_says_so_and_stays(session):
    guide = Guide(session)
    guide.start()
    v = search(guide, "量子计算")
    assert v.step == "search" and v.notice is not None and "量子计算" in v.notice.text
    guide.handle("action", "find")  # 搜索 again with the same words: the same answer, no crash
    assert guide.view().step == "search"


def test_the_kept_items_are_searched_by_name_while_the_server_is_gone(city):
    from tests.kiosk.conftest import make_session

    s = make_session(city.url)
    guide = Guide(s)
    guide.start()
    city.stop()
    v = search(guide, "养老")
    assert v.step == "found" and {o.label for o in v.options} == PENSION
    assert v.notice is not None and v.notice.level == "warn"
    s.devices.close()
