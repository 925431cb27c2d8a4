"""就近办 on the hall: GET /api/v1/nearby and the phone ticket page's "附近办事点", from the hall's cache.

The cache is given the county platform's answer as its refresh would (:meth:`Nearby.accept`); the refresh itself
against a real platform, up and down, is tested in tests/county/test_nearby_e2e.py.
"""

from __future__ import annotations

from hallq.i18n import text
from tests.conftest import make_id
from queue_server.nearby import Nearby, NearbyConfigError, PlatformLink, load

DAHE = {"site": "dahe-town", "name": {"zh-Hans": "大河镇便民服务中心", "en": "Dahe Town Service Center"},
        "level": "town", "address": "大河镇", "waiting": 2, "est_wait_minutes": 6, "longest_wait_minutes": 4,
        "open_now": True, "distance_km": 7.1}
ZHOUJIA = {"site": "zhoujia-village", "name": {"zh-Hans": "周家村便民服务站", "en": "Zhoujia Village"},
           "level": "village", "address": "", "waiting": 0, "est_wait_minutes": 0, "longest_wait_minutes": 0,
           "open_now": False, "distance_km": 9.4}


def cached(state, show_after: int = 0) -> Nearby:
    state.nearby = Nearby(PlatformLink(url="http://127.0.0.1:1", key="k", show_after_minutes=show_after), "tiny",
                          ["alpha", "beta"])
    state.nearby.accept({"alpha": [DAHE, ZHOUJIA], "beta": []}, "2026-12-07T09:30:00+00:00")
    return state.nearby


def test_without_a_county_the_hall_answers_no_nearby_halls_and_the_page_has_no_section(api, app):
    assert api.ok("get", "/nearby?business=alpha") == {"business": "alpha", "available": False, "as_of": None,
                                                       "show_after_minutes": None, "halls": []}
    assert api.get("/nearby?business=nope").status_code == 404
    assert api.get("/nearby").status_code == 400
    page = app.test_client().get(f"/t/{api.issue()['id']}").get_data(as_text=True)
    assert 'id="nearby"' not in page and text("web.ticket.nearby_title", "zh-Hans") not in page


def test_the_cached_answer_is_served_open_to_anyone(api, state):
    cached(state, show_after=20)
    body = api.ok("get", "/nearby?business=alpha")
    assert body["available"] and body["show_after_minutes"] == 20 and body["as_of"].startswith("2026-12-07")
    assert [h["site"] for h in body["halls"]] == ["dahe-town", "zhoujia-village"]
    assert api.ok("get", "/nearby?business=beta")["halls"] == []


def test_the_phone_page_shows_nearby_halls_for_the_tickets_business_when_the_wait_is_long(api, app, state):
    cached(state, show_after=0)  # 0: always, whatever the wait here
    ticket = api.issue()
    client = app.test_client()
    page = client.get(f"/t/{ticket['id']}").get_data(as_text=True)
    assert 'id="nearby"' in page and "附近办事点" in page
    assert "大河镇便民服务中心" in page and "约 7.1 公里" in page and "等候 2 人，约 6 分钟" in page
    assert "正在办理" in page and "周家村便民服务站" in page and "暂未办理" in page
    en = client.get(f"/t/{ticket['id']}?lang=en").get_data(as_text=True)
    assert "Nearby service halls" in en and "Dahe Town Service Center" in en and "2 waiting, about 6 min" in en
    # a ticket of a business no nearby hall serves: no section
    beta = api.issue("beta", id_number=make_id())
    assert 'id="nearby"' not in client.get(f"/t/{beta['id']}").get_data(as_text=True)


def test_the_section_waits_for_the_threshold_and_goes_with_an_old_answer(api, app, state):
    cache = cached(state, show_after=30)
    ticket = api.issue()  # nobody serves yet: no estimate here, so not "long" by the numbers
    client = app.test_client()
    assert 'id="nearby"' not in client.get(f"/t/{ticket['id']}").get_data(as_text=True)
    cache.link = PlatformLink(url="http://127.0.0.1:1", key="k", show_after_minutes=0, refresh_seconds=10)
    assert 'id="nearby"' in client.get(f"/t/{ticket['id']}").get_data(as_text=True)
    cache._fetched_at -= 31  # three refreshes without an answer: aged out, shown no more
    assert 'id="nearby"' not in client.get(f"/t/{ticket['id']}").get_data(as_text=True)
    assert api.ok("get", "/nearby?business=alpha")["available"] is False


def test_the_link_to_the_platform_is_read_from_county_bridge_toml(tmp_path):
    assert load(tmp_path) is None  # no file: no county
    bridge = tmp_path / "county-bridge.toml"
    bridge.write_text('[bridge]\naddress = "127.0.0.1:1"\n', encoding="utf-8")
    assert load(tmp_path) is None  # a bridge without [platform]: no nearby halls
    (tmp_path / "county-platform.key").write_text("the-key\n")
    bridge.write_text('[platform]\nurl = "http://county:8090/"\nkey_file = "county-platform.key"\n'
                      "refresh_seconds = 30\nshow_after_minutes = 15\n", encoding="utf-8")
    link = load(tmp_path)
    assert link == PlatformLink(url="http://county:8090", key="the-key", refresh_seconds=30, show_after_minutes=15)
    for wrong, says in [('url = "county:8090"\nkey_file = "county-platform.key"', "url must be"),
                        ('url = "http://c:1"', "needs key_file"),
                        ('url = "http://c:1"\nkey_file = "missing.key"', "cannot read [platform] key_file"),
                        ('url = "http://c:1"\nkey_file = "county-platform.key"\nrefresh_seconds = 0',
                         "refresh_seconds must be"),
                        ('url = "http://c:1"\nkey_file = "county-platform.key"\nkey = "x"', "unknown keys")]:
        bridge.write_text(f"[platform]\n{wrong}\n", encoding="utf-8")
        try:
            load(tmp_path)
        except NearbyConfigError as e:
            assert says in str(e), (wrong, str(e))
        else:
            raise AssertionError(f"accepted {wrong!r}")
