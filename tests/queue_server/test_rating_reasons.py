"""好差评 reasons are the official 差评 categories, codes only (queue_server/domain/ratings.py REASONS).

A holder of a ticket's public id (the phone page) or a window's tablet sending a made-up reason is refused with
422 ``invalid_fields`` naming it, and nothing is stored; the resident's own words go in the free comment (up to
500 characters). The kiosk's two codes of its own are stored as the official ones. A made-up text a rating kept
from before is never shown to a manager. The county refuses a hall's rating carrying one (county/intake.py).
"""

from __future__ import annotations

import pytest

from county import intake
from kiosk.presenters import after_service
from queue_server.domain import ratings
from queue_server.web import ratings_pages
from tests.web.test_roles import Browser

TABLET = "demo-tablet-1"


@pytest.fixture
def served(api):
    """A001 served at window 1 (clerk 101): the tablet or the ticket's phone page may rate it."""
    api.tokens["tablet"] = TABLET
    t = api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "complete", "101")
    return t


def stored(state) -> list:
    return state.db.connection().execute("SELECT reasons, comment FROM ratings").fetchall()


def refused(r, *fields: str) -> None:
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid_fields" and [f["field"] for f in error["fields"]] == list(fields)
    assert all("slow" in f["problem"] for f in error["fields"])  # says which codes are allowed
    assert error["messages"]["zh-Hans"]


def test_the_phone_page_cannot_send_a_made_up_reason(api, served, state):
    r = api.post("/ratings", {"ticket": served["id"], "level": 1, "reasons": ["slow", "窗口人员收红包", "hacked"]})
    refused(r, "reasons[1]", "reasons[2]")
    assert stored(state) == []  # nothing kept: the resident may rate again, with the official codes
    ok = api.ok("post", "/ratings", {"ticket": served["id"], "level": 1, "reasons": ["slow", "other"],
                                     "comment": "窗口人员态度敷衍"}, status=201)
    assert ok["reasons"] == ["slow", "other"] and ok["comment"] == "窗口人员态度敷衍"


def test_the_window_tablet_cannot_send_one_either(api, served, state):
    refused(api.post("/windows/1/rating", {"level": 2, "reasons": ["Slow"]}, as_="tablet"), "reasons[0]")
    refused(api.post("/windows/1/rating", {"level": 2, "reasons": [""]}, as_="tablet"), "reasons[0]")
    assert stored(state) == []
    api.ok("post", "/windows/1/rating", {"level": 2, "reasons": ["attitude"]}, as_="tablet", status=201)
    assert [tuple(r) for r in stored(state)] == [('["attitude"]', "")]


def test_the_residents_own_words_go_in_the_comment_up_to_500_characters(api, served, state):
    too_long = api.post("/ratings", {"ticket": served["id"], "level": 1, "reasons": ["other"], "comment": "慢" * 501})
    assert too_long.status_code == 400 and too_long.get_json()["error"]["fields"][0]["field"] == "comment"
    words = "材料清单和窗口说的不一样，联系电话13912345678" + "等" * 472
    assert len(words) == 500
    api.ok("post", "/ratings", {"ticket": served["id"], "level": 1, "reasons": ["other"], "comment": words},
           status=201)
    ((reasons, comment),) = stored(state)
    assert reasons == '["other"]' and comment.startswith("材料清单和窗口说的不一样") and "13912345678" not in comment


def test_the_kiosks_own_codes_are_stored_as_the_official_ones(api, served, state):
    api.ok("post", "/ratings", {"ticket": served["id"], "level": 1,
                                "reasons": ["many_visits", "environment", "repeated_visits", "slow"]}, status=201)
    assert stored(state)[0]["reasons"] == '["repeated_visits", "other", "slow"]'  # each once, in the order given


def test_a_made_up_reason_kept_from_before_is_never_shown_to_a_manager(app, api, served, state):
    api.ok("post", "/windows/1/rating", {"level": 1, "reasons": ["slow"]}, as_="tablet", status=201)
    with state.db.write() as conn:  # what an earlier release let a public id store
        conn.execute("""UPDATE ratings SET reasons = '["窗口收红包，身份证110105194912310021", "slow", "many_visits"]'""")
    (f,) = api.ok("get", "/followups?which=all", as_="900")
    assert f["reasons"] == ["slow", "repeated_visits"]
    manager = Browser(app, "900")
    for page in (manager.client.get("/console/reviews").text, manager.client.get(f"/console/reviews/{f['id']}").text):
        assert "红包" not in page and "110105194912310021" not in page
        assert "等候或办理时间长" in page and "需要多次跑动" in page  # the official categories' texts


def test_every_list_of_reasons_is_the_official_one():
    assert tuple(ratings_pages.REASONS) == ratings.REASONS  # what the phone page and the tablet offer
    assert intake.RATING_REASONS == frozenset(ratings.REASONS)  # what the county accepts from a hall
    assert set(after_service.REASONS) <= set(ratings.REASONS) | set(ratings.REASON_ALIASES)  # the kiosk's
    assert set(ratings.REASON_ALIASES.values()) <= set(ratings.REASONS)
