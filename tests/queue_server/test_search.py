"""Finding an item (事项检索, issue 12 item 5): ``GET /api/v1/items?q=`` over the sample city hall's catalogue.

Chinese keywords match names, keywords (社保), departments, conditions and materials; letters match the
pinyin initials (yl → 养老) and the full pinyin (yanglao, and yangl while typing). Whatever is typed, the
answer is a list or the usual JSON error, never an FTS syntax error.
"""

from __future__ import annotations

import pytest

from hallq.demo import DEMO_PASSWORD
from hallq.pinyin import readings
from queue_server.domain import search
from queue_server.hallsync import apply_config
from tests.conftest import CITY, KIOSK_KEY

PENSION = {"城乡居民基本养老保险参保登记", "职工基本养老保险待遇申领"}
SOCIAL_INSURANCE = {"社会保障卡申领", "失业保险金申领", "用人单位社会保险登记"}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from hallq.clock import VirtualClock
    from queue_server.app import create_app
    from tests.conftest import MONDAY_0930

    app = create_app(CITY, data_dir=tmp_path_factory.mktemp("search") / "data", clock=VirtualClock(MONDAY_0930, rate=0),
                     mqtt=False, housekeeping=False)
    yield app
    app.extensions["hallq"].close()


def find(app, q: str, **params) -> list[str]:
    r = app.test_client().get("/api/v1/items", query_string={"q": q, **params})
    assert r.status_code == 200, (q, r.status_code, r.get_json())
    return [item["name"]["zh-Hans"] for item in r.get_json()]


def test_pinyin_initials_find_the_pension_items_first(city):
    found = find(city, "yl")
    assert set(found[:2]) == PENSION, found
    assert set(find(city, "YL")[:2]) == PENSION  # upper case, as the kiosk's ABC page may send
    assert PENSION <= set(find(city, "ylbx"))


def test_full_pinyin_finds_them_while_it_is_typed(city):
    assert set(find(city, "yanglao")) == PENSION
    assert set(find(city, "yangl")) == PENSION  # an unfinished syllable
    assert set(find(city, "ｙａｎｇｌａｏ")) == PENSION  # full-width letters of a Chinese keyboard


def test_a_keyword_finds_what_the_name_does_not_say(city):
    """社保 is nowhere in 社会保障卡申领's name: the item's keywords (services.toml) carry it, pinyin too."""
    for q in ("社保", "shebao", "sb"):
        assert SOCIAL_INSURANCE <= set(find(city, q)), q
    assert "社会保障卡申领" == find(city, "社保卡")[0]


def test_a_chinese_substring_of_a_name_or_of_the_materials(city):
    assert find(city, "养老")[:2] and set(find(city, "养老")[:2]) == PENSION
    assert "企业注销登记" in find(city, "清算报告")  # only in its materials
    assert find(city, "養老")  # the Traditional name
    assert set(find(city, "pension")) == PENSION  # the English name, by a word's beginning
    assert find(city, "钟山区残疾人联合会") == ["残疾人证核发（新办）"]  # the department


def test_every_term_must_match(city):
    both = find(city, "养老 待遇")
    assert both and both[0] == "职工基本养老保险待遇申领"
    assert "城乡居民基本养老保险参保登记" not in both
    assert find(city, "养老 企业设立") == []


def test_name_matches_come_before_matches_in_the_guide(city):
    """养老 is in two names and in other items' conditions or materials: the names come first."""
    found = find(city, "养老")
    assert len(found) > 2, "the sample has 养老 in guides beyond the two names"
    assert set(found[:2]) == PENSION and not PENSION & set(found[2:])


def test_what_looks_like_fts_syntax_is_text(city):
    for q in ['"', "*", "NEAR(", "NEAR(养老 社保)", 'a" OR "b', "养老*", "') OR 1=1 --", "name:yl", "{name}: x",
              "^yl", "-社保", "yl AND", "OR", "养老 NOT 社保", "\\", "%", "_"]:
        r = city.test_client().get("/api/v1/items", query_string={"q": q})
        assert r.status_code == 200 and isinstance(r.get_json(), list), (q, r.status_code, r.get_json())
    assert set(find(city, "养老*")) == set(find(city, "养老"))  # the star is punctuation, not a prefix
    assert find(city, '"*') == []


@pytest.mark.parametrize("q", ["", "   ", "养" * 51])
def test_an_empty_or_too_long_query_is_refused_with_the_field(city, q):
    r = city.test_client().get("/api/v1/items", query_string={"q": q})
    body = r.get_json()
    assert r.status_code == 400 and body["error"]["code"] == "invalid_fields"
    assert body["error"]["fields"][0]["field"] == "q"
    assert body["error"]["messages"]["zh-Hans"] and body["error"]["messages"]["en"]


def test_business_filter_limit_and_callers(city):
    client = city.test_client()
    social = find(city, "登记", business="social")
    assert social and "企业设立登记" not in social
    assert len(find(city, "登记", limit=2)) == 2
    assert client.get("/api/v1/items", query_string={"q": "yl", "business": "nosuch"}).status_code == 404
    assert client.get("/api/v1/items", query_string={"q": "yl", "limit": "0"}).status_code == 400
    as_kiosk = client.get("/api/v1/items", query_string={"q": "yl"}, headers={"Authorization": f"Bearer {KIOSK_KEY}"})
    assert as_kiosk.status_code == 200 and as_kiosk.get_json()[0]["guide"]["materials"]  # the full guide, as the list


def test_the_index_follows_an_items_csv_import(city):
    st = city.extensions["hallq"]
    client = city.test_client()
    token = client.post("/api/v1/auth/login", json={"job_no": "2001", "password": DEMO_PASSWORD}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    text = client.get("/api/v1/settings/items.csv", headers=auth).data.decode("utf-8-sig")
    header, *rows = text.splitlines()
    edited = [r.replace("居住证申领", "居住证领取（流动人口）") for r in rows]
    pension = next(i for i, r in enumerate(edited) if "职工基本养老保险待遇申领" in r)
    edited[pension] = edited[pension][:-1] + "0"  # active = 0
    r = client.post("/api/v1/settings/items.csv", data="\n".join([header, *edited]).encode(),
                    headers={**auth, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.get_json()
    try:
        assert find(city, "流动人口") == ["居住证领取（流动人口）"]
        assert find(city, "ldrk") == ["居住证领取（流动人口）"]
        assert "职工基本养老保险待遇申领" not in find(city, "yanglao")  # inactive: not found
    finally:
        apply_config(st.db, st.hall, force=True)  # the module's other tests see the sample again
    assert set(find(city, "yanglao")) == PENSION


def test_a_database_from_before_the_index_is_indexed_at_start(city):
    st = city.extensions["hallq"]
    with st.db.write() as conn:
        conn.execute("DROP TABLE item_search")  # as migration 018 leaves it: empty
        conn.execute(search.table_sql())
        conn.execute("DELETE FROM meta WHERE key = ?", (search.META_KEY,))
    assert find(city, "yl") == []
    assert apply_config(st.db, st.hall) is False  # the config is unchanged: only the index is rebuilt
    assert set(find(city, "yl")[:2]) == PENSION


def test_readings_follow_the_words_of_the_data():
    book = readings(["银行行政参保长江"])
    assert book.syllables("银行") == ["yin", "hang"]
    assert book.syllables("行政") == ["xing", "zheng"]
    assert book.syllables("参保") == ["can", "bao"]
    initials, full = search.spellings(["社会保险", "𪚥社保"], book)
    assert initials.split() == ["shbx", "hbx", "bx", "x", "sb", "b"]  # 𪚥, unknown to the data, ends a run
    assert full.split()[:2] == ["shehuibaoxian", "huibaoxian"] and "shebao" in full.split()


def test_without_the_pinyin_data_the_words_still_find_items(city, monkeypatch, caplog, tmp_path):
    import hallq.pinyin

    st = city.extensions["hallq"]
    monkeypatch.setattr(hallq.pinyin.readings, "__defaults__", (tmp_path / "gone.txt.gz",))
    try:
        with st.db.write() as conn:
            search.rebuild(conn, lambda k, v: None)
        assert "reinstall hallq" in caplog.text
        assert find(city, "yl") == [] and set(find(city, "养老")[:2]) == PENSION
    finally:
        monkeypatch.undo()
        with st.db.write() as conn:
            search.rebuild(conn, lambda k, v: None)
    assert set(find(city, "yl")[:2]) == PENSION
