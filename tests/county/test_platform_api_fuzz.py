"""The county platform's API fuzzed (hypothesis), on a real PostgreSQL: whatever JSON (or not JSON) a caller sends
to a route that takes a body, and whatever query string and path segment to one that reads, the answer is below 500
and every refusal has the one error shape ``{"error": {"status": …, "code": …}}`` with that status. The hall's API
is fuzzed from its OpenAPI document (tests/faults/test_api_fuzz.py); the platform has none, so its routes are listed
here. A string with a NUL character (which PostgreSQL's text cannot hold) and digits that are not ASCII are drawn on
purpose: both once answered 500."""

from __future__ import annotations

import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from county.app import create_app
from hallq.demo import DEMO_PASSWORD
from tests.county.test_console import make_county

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)
# what PostgreSQL's text cannot hold: a NUL, a lone surrogate (JSON's "\ud800" decodes to one; it has no UTF-8)
NUL = st.tuples(st.text(max_size=10), st.sampled_from(["\x00", "\ud800", "\udfff"])).map(lambda p: p[0] + p[1] + p[0])
# in a URL only the NUL: a client cannot send a lone surrogate there (its bytes arrive as invalid UTF-8, which the
# server reads as U+FFFD)
URL_NUL = st.text(max_size=10).map(lambda t: t + "\x00" + t)
# bodies shaped like the real ones, with odd values, beside arbitrary JSON
SHAPED = st.fixed_dictionaries({}, optional={"client": JSON | NUL | st.text(max_size=100), "username": JSON | NUL,
                                             "password": JSON | st.text(max_size=300), "note": JSON | NUL,
                                             "item": JSON | NUL, "tracking_no": JSON | NUL, "applicant": JSON})
ROUTES = ["/api/v1/auth/login", "/api/v1/sign-in/throttles/lift", "/api/v1/alerts/1/acknowledge",
          "/api/v1/alerts/1/resolve", "/api/v1/routing/applications?site=hall-a"]


HALL_KEY = "fuzz-hall-key"  # both test halls' county key (their credential is env:NONE)


@pytest.fixture
def platform(county_db, tmp_path, monkeypatch):
    """One platform for all of a test's examples (hypothesis runs them within one call of the test)."""
    monkeypatch.setenv("NONE", HALL_KEY)
    app = create_app(make_county(county_db, tmp_path), ingest=False)
    c = app.test_client()
    token = c.post("/api/v1/auth/login", json={"username": "sup", "password": DEMO_PASSWORD},
                   environ_base={"REMOTE_ADDR": "10.9.9.9"}).get_json()["token"]
    return c, {"Authorization": f"Bearer {token}"}


def _credentials(route: str, sup: dict, as_caller: bool) -> dict:
    """A supervisor's session, or for the routes a hall calls (``?site=``) the hall's county key."""
    if not as_caller:
        return {}
    return {"Authorization": f"Bearer {HALL_KEY}"} if "site=" in route else sup


def _check(r) -> None:
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400:
        body = r.get_json()
        assert set(body) == {"error"} and body["error"]["status"] == r.status_code and body["error"]["code"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=JSON | SHAPED, as_caller=st.booleans())
def test_any_json_body_is_answered_below_500_in_the_one_shape(platform, route, body, as_caller):
    c, sup = platform
    raw = json.dumps(body)
    # each example from an address of its own (the same on a replay): the sign-in's throttle would otherwise
    # answer 429 to the rest
    r = c.post(route, data=raw, content_type="application/json", headers=_credentials(route, sup, as_caller),
               environ_base={"REMOTE_ADDR": f"10.1.{zlib.crc32(raw.encode()) % 250}.{len(route)}"})
    _check(r)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), raw=st.binary(max_size=200))
def test_a_body_that_is_not_json_is_refused_not_crashed_on(platform, route, raw):
    c, sup = platform
    _check(c.post(route, data=raw, content_type="application/json", headers=_credentials(route, sup, True)))


def test_a_body_over_the_limit_is_refused_in_the_one_shape(platform):
    c, sup = platform
    for route in ROUTES:
        r = c.post(route, data=json.dumps({"note": "x" * 17_000}), content_type="application/json",
                   headers=_credentials(route, sup, True))
        assert r.status_code == 413 and r.get_json() == {"error": {"status": 413, "code": "too_large"}}, route


def test_a_fault_of_the_platform_is_answered_in_the_one_shape_without_its_cause(county_db, tmp_path, monkeypatch,
                                                                              caplog):
    from county import signin

    app = create_app(make_county(county_db, tmp_path), ingest=False)
    c = app.test_client()
    token = c.post("/api/v1/auth/login", json={"username": "sup", "password": DEMO_PASSWORD}).get_json()["token"]

    def broken(conn):
        raise RuntimeError("secret detail of the fault")

    monkeypatch.setattr(signin, "active", broken)
    r = c.get("/api/v1/sign-in/throttles", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 500 and r.get_json() == {"error": {"status": 500, "code": "internal_error"}}
    assert "secret detail" in caplog.text  # the cause is logged, for the operator


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


GETS = ["/api/v1/halls", "/api/v1/halls/{site}/events", "/api/v1/quarantine", "/api/v1/alerts",
        "/api/v1/sign-in/throttles", "/api/v1/nearby", "/api/v1/routing/items",
        "/api/v1/routing/applications/{site}/{site}"]
ARG = (st.text(max_size=30).filter(_encodable) | st.integers(min_value=-2**70, max_value=2**70).map(str) | URL_NUL
       | st.sampled_from(["²", "①", "٣", "1²", "00", "9" * 25]))  # digits that are not ASCII: int() refuses them


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(GETS),
       site=st.sampled_from(["hall-a", "nope"]) | st.text(min_size=1, max_size=50).filter(_encodable) | URL_NUL,
       args=st.dictionaries(st.sampled_from(["after", "limit", "state", "site", "business", "lang"]), ARG, max_size=4),
       as_caller=st.booleans())
def test_any_query_and_path_is_answered_below_500_in_the_one_shape(platform, route, site, args, as_caller):
    c, sup = platform
    path = route.replace("{site}", site.replace("/", "_").replace("?", "_").replace("#", "_") or "x")
    hall = route.startswith(("/api/v1/nearby", "/api/v1/routing"))  # what a hall calls, with its key and ?site=
    _check(c.get(path, query_string=args, headers=_credentials("site=" if hall else path, sup, as_caller)))


def test_what_once_answered_500_is_refused_with_400(platform):
    """Each found by review or fuzzing: a NUL character or a lone surrogate, which PostgreSQL's text cannot hold, in a
    body, a query or a path segment that reaches a query; digits that are not ASCII, which str.isdigit() accepts and
    int() does not; JSON nested too deep for Python's parser."""
    c, sup = platform
    hall = {"Authorization": f"Bearer {HALL_KEY}"}
    answers = [
        c.post("/api/v1/auth/login", json={"username": "sup\x00", "password": "x"}),
        c.post("/api/v1/sign-in/throttles/lift", json={"client": "10.0.0.9\x00"}, headers=sup),
        c.post("/api/v1/alerts/1/resolve", json={"note": "done\x00"}, headers=sup),
        c.post("/api/v1/routing/applications?site=hall-a", json={"item": "X\x00", "tracking_no": "Y"}, headers=hall),
        c.get("/api/v1/halls/hall-a%00/events", headers=sup),
        c.get("/api/v1/alerts", query_string={"state": "open\x00"}, headers=sup),
        c.get("/api/v1/nearby", query_string={"site": "hall-a\x00", "business": "social"}, headers=hall),
        c.post("/api/v1/auth/login", data='{"username": "\\ud800", "password": "x"}', content_type="application/json"),
        c.post("/api/v1/sign-in/throttles/lift", data='{"client": "\\udfff"}', content_type="application/json",
               headers=sup),
        # nested thousands deep (6 KB): Python's JSON parser gives up with RecursionError, which get_json lets through
        c.post("/api/v1/auth/login", data="[" * 3000 + "]" * 3000, content_type="application/json"),
        c.post("/api/v1/alerts/1/resolve", data='{"note": ' + "[" * 3000 + "]" * 3000 + "}",
               content_type="application/json", headers=sup),
    ] + [c.get("/api/v1/alerts", query_string={"limit": digits}, headers=sup) for digits in ("²", "①", "٣", "1²")] \
      + [c.get("/api/v1/halls/hall-a/events", query_string={"after": "٣"}, headers=sup)]
    for r in answers:
        assert r.status_code == 400 and r.get_json()["error"]["status"] == 400, (r.request.url, r.status_code)
    # the console's sign-in form reaches the same query: its plain 400 page, not a 500
    assert c.post("/console/login", data={"username": "sup\x00", "password": "x"}).status_code == 400
