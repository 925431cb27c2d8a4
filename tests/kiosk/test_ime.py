"""Pinyin input of the on-screen keyboard (kiosk/ime): segmentation, ranking, what a choice consumes,
ü as v, letters that mean nothing, and the typing rules of the keyboard (Composer). No Kivy, no server."""

from __future__ import annotations

import gzip

import pytest

from kiosk.ime import Composer, PinyinEngine, shared_engine
from kiosk.ime.engine import DATA
from kiosk.ime.syllables import COMPLETIONS, SYLLABLES


@pytest.fixture(scope="module")
def engine() -> PinyinEngine:
    return shared_engine()


def texts(engine: PinyinEngine, buffer: str, n: int | None = None) -> list[str]:
    return [c.text for c in engine.candidates(buffer)][:n]


def test_the_syllable_table():
    assert len(SYLLABLES) == 413
    for s in ("a", "er", "eng", "zhuang", "lv", "nve", "shei", "den", "zhei"):
        assert s in SYLLABLES
    for s in ("ng", "lue", "jv", "zhi'", "bo'"):
        assert s not in SYLLABLES
    assert COMPLETIONS["zh"][:3] == ("zha", "zhai", "zhan") and "zhang" in COMPLETIONS["zhan"]


@pytest.mark.parametrize("buffer, syllables", [
    ("beijingshi", ["bei", "jing", "shi"]),
    ("xian", ["xian"]),                           # one syllable rather than xi'an ...
    ("xi'an", ["xi", "an"]),                      # ... unless the apostrophe says so
    ("fangan", ["fang", "an"]),
    ("zh", ["zh"]),                               # an unfinished last syllable
    ("zhan", ["zhan"]),
    ("guizhoushengliupanshui", ["gui", "zhou", "sheng", "liu", "pan", "shui"]),
    ("lvse", ["lv", "se"]),
    ("beijingiii", ["bei", "jing", "iii"]),       # letters that start no syllable stay as they are
    ("BeiJing", ["bei", "jing"]),
    ("", []),
])
def test_segmentation(engine, buffer, syllables):
    assert engine.segment(buffer) == syllables


def test_every_reading_of_the_letters_is_tried(engine):
    readings = {r[0] for r in engine.readings("xian")}
    assert ("xian",) in readings and ("xi", "an") in readings and ("xi",) in readings
    assert ("xiang",) in readings                  # xian may still become xiang
    assert {r[0] for r in engine.readings("fangan")} >= {("fang", "an"), ("fan", "gan")}


def test_common_characters_come_first(engine):
    assert "张" in texts(engine, "zhang", 3)
    assert {"李", "里", "理"} <= set(texts(engine, "li", 5))
    assert texts(engine, "wang", 1) == ["王"]
    assert texts(engine, "shi", 3) == ["是", "时", "市"]
    assert texts(engine, "wo", 1) == ["我"] and texts(engine, "de", 1) == ["的"]
    assert "号" in texts(engine, "hao", 3) and "栋" in texts(engine, "dong", 8)


def test_whole_phrases_first_then_shorter_ones_then_characters(engine):
    assert texts(engine, "beijing", 2) == ["北京", "背景"]
    got = engine.candidates("beijingshi")
    assert got[0].text == "北京市" and got[0].consumed == 10 and got[0].pinyin == ("bei", "jing", "shi")
    consumed = [c.consumed for c in got]
    assert consumed == sorted(consumed, reverse=True)           # longest first
    by_text = {c.text: c for c in got}
    assert by_text["北京"].consumed == 7 and by_text["北"].consumed == 3
    assert {c.consumed for c in got} == {10, 7, 5, 3}           # bei-jing-shi, bei-jing, bei-ji (北极), bei
    assert by_text["北极"].consumed == 5
    assert texts(engine, "guizhousheng", 1) == ["贵州省"]
    assert texts(engine, "liupanshui", 1) == ["六盘水"]
    assert texts(engine, "shenfenzheng", 1) == ["身份证"]


def test_ambiguous_letters_offer_both_readings(engine):
    first = texts(engine, "xian", 8)
    assert "先" in first[:3] and "西安" in first               # xian and xi'an on the first page
    assert texts(engine, "xi'an", 1) == ["西安"]
    assert texts(engine, "fangan", 2) == ["方案", "反感"]
    assert "提案" in texts(engine, "tian", 8)


def test_an_unfinished_last_syllable(engine):
    assert set(texts(engine, "zh", 3)) >= {"中", "这"}
    assert texts(engine, "beijingsh", 1) == ["北京市"]
    zhan = texts(engine, "zhan")
    assert zhan[0] in "站战展占" and zhan.index("张") > zhan.index("站")   # its own syllable before zhang
    assert all(c.consumed == 4 for c in engine.candidates("zhan")[:20])


def test_v_types_u_umlaut(engine):
    assert {"绿", "旅"} <= set(texts(engine, "lv", 5))
    assert texts(engine, "nv", 1) == ["女"]
    assert "虐" in texts(engine, "nve", 3)
    assert texts(engine, "lue", 1) == ["略"] and texts(engine, "lve", 1) == ["略"]
    assert texts(engine, "lvse", 1) == ["绿色"]
    assert texts(engine, "lü", 3) == texts(engine, "lv", 3)


def test_letters_that_mean_nothing_and_an_empty_buffer(engine):
    for buffer in ("", "'", "''", "iii", "u", "v", "i", "123", "？"):
        assert engine.candidates(buffer) == [], buffer
    assert texts(engine, "beijingiii", 1) == ["北京"]             # the readable start still converts
    assert engine.candidates("BEIJING")[0].text == "北京"


def test_every_gb2312_character_can_be_typed(engine):
    typeable = set()
    for s in SYLLABLES:
        typeable.update(t for t, _ in engine.entries(s))
    gb2312 = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                gb2312.add(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    assert len(gb2312) == 6763
    assert not gb2312 - typeable
    assert {"喆", "堃", "玥"} <= typeable                         # name characters outside GB2312 (GBK)


def test_the_data_file_is_small_says_where_it_comes_from_and_loads_on_first_use():
    """How fast it loads and looks up is bench/bench_ime.py's to measure, not a test's."""
    assert DATA.stat().st_size <= 1_500_000
    header = gzip.decompress(DATA.read_bytes())[:600].decode("utf-8")
    assert header.startswith("#") and "jieba" in header and "pypinyin" in header and header.count("MIT") >= 2
    lines = [line for line in gzip.decompress(DATA.read_bytes()).split(b"\n") if line and not line.startswith(b"#")]
    keys = [line.partition(b"\t")[0] for line in lines]
    assert keys == sorted(set(keys))                   # sorted, each key once: the engine finds a key by bisection
    fresh = PinyinEngine()
    assert not fresh.loaded
    assert fresh.candidates("beijing")[0].text == "北京"            # loads on the first lookup
    assert fresh.loaded and fresh.load_seconds is not None
    for line in (lines[0], lines[1], lines[len(lines) // 2], lines[-1]):    # the bisection's ends and middle
        key, _, rest = line.decode("utf-8").partition("\t")
        assert " ".join(f"{t} {n}" for t, n in fresh.entries(key)) == rest
    assert fresh.entries("zzz") == fresh.entries("") == fresh.entries("bei'") == []      # past the end, none, half a key


# -- the keyboard's typing rules (Composer) ---------------------------------------------------------------


def typed(c: Composer, letters: str) -> Composer:
    for ch in letters:
        c.letter(ch)
    return c


def index_of(c: Composer, text: str) -> int:
    return [x.text for x in c.candidates].index(text)


def test_choosing_a_candidate_consumes_its_letters(engine):
    c = typed(Composer(engine=engine), "beijingshi")
    assert c.spelled() == "bei jing shi"
    assert c.pick(index_of(c, "北京"))
    assert (c.text, c.pinyin) == ("北京", "shi")
    assert c.pick(index_of(c, "市"))
    assert (c.text, c.pinyin, c.candidates) == ("北京市", "", [])
    c = typed(Composer(engine=engine), "xi'an")
    c.pick(index_of(c, "西"))
    assert c.pinyin == "an"                                          # the apostrophe goes with it


def test_space_backspace_clear(engine):
    c = typed(Composer("地址：", engine=engine), "zhang")
    c.space()                                                        # the first candidate
    assert c.text == "地址：" + c.engine.candidates("zhang")[0].text and c.pinyin == ""
    typed(c, "san")
    c.backspace()                                                    # the pinyin first ...
    assert c.pinyin == "sa" and c.text.endswith("张")
    c.backspace()
    c.backspace()
    c.backspace()                                                    # ... then the text
    assert c.pinyin == "" and c.text == "地址："
    c.space()
    assert c.text == "地址： "
    c.clear()
    assert (c.text, c.pinyin) == ("", "")
    c = typed(Composer(engine=engine), "iii")                        # nothing to choose: the letters as typed
    c.space()
    assert (c.text, c.pinyin) == ("iii", "")


def test_digits_and_marks_convert_the_pinyin_first(engine):
    c = typed(Composer("钟山区", engine=engine), "renminlu")
    c.toggle_symbols()
    assert c.symbols and c.pinyin == "" and c.text == "钟山区人民路"
    for ch in "12":
        c.symbol(ch)
    c.toggle_symbols()
    typed(c, "hao")
    c.pick(index_of(c, "号"))
    assert c.text == "钟山区人民路12号"
    typed(c, "dong")
    c.symbol("，")
    assert c.text == "钟山区人民路12号动，"


def test_english_mode_and_shift(engine):
    c = typed(Composer(engine=engine), "an")
    c.toggle_mode()                                                  # pinyin left over: typed as letters
    assert (c.mode, c.text, c.pinyin) == ("en", "an", "")
    c.toggle_shift()
    typed(c, "na")
    assert c.text == "anNa" and not c.shift and c.candidates == []
    c.toggle_mode()
    assert c.mode == "zh"


def test_max_len_is_kept(engine):
    c = typed(Composer("贵州省", max_len=4, engine=engine), "beijing")
    assert not c.pick(0) and c.notice == "full" and c.text == "贵州省"
    c.pick(index_of(c, "北"))                                        # one character still fits
    assert c.text == "贵州省北" and c.full
    c.toggle_mode()
    typed(c, "x")
    assert c.text == "贵州省北"
    assert Composer("一二三四五", max_len=3, engine=engine).text == "一二三"


def test_finish_converts_what_is_still_pinyin(engine):
    c = typed(Composer("住在", engine=engine), "beijing")
    assert c.finish() == "住在北京"
    c = typed(Composer(engine=engine), "guizhoushengliupanshuishi")
    assert c.finish() == "贵州省六盘水市"


def test_candidate_pages(engine):
    c = typed(Composer(engine=engine), "yi")
    assert not c.has_prev_page and c.page_start == 0
    assert c.next_page(8) and c.page_start == 8 and c.has_prev_page
    assert c.next_page(8) and c.page_start == 16
    assert c.prev_page() and c.page_start == 8
    c.letter("n")                                                    # new letters: back to the first page
    assert c.page_start == 0 and not c.has_prev_page
    assert not typed(Composer(engine=engine), "nve").next_page(100)
