"""The county platform's API fuzzed (hypothesis), on a real PostgreSQL: whatever JSON (or not JSON) a caller sends
to a route that takes a body, and whatever query string and path segment to one that reads, the answer is below 500
and every refusal has the one error shape ``{"error": {"status": …, "code": …}}`` with that status. The hall's API is fuzzed from its OpenAPI document
(tests/faults/test_api_fuzz.py); the platform has none, so its body routes are listed here."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from county.app import create_app
from hallq.demo import DEMO_PASSWORD
from tests.county.test_console import make_county

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)
# bodies shaped like the real ones, with odd values, beside arbitrary JSON
SHAPED = st.fixed_dictionaries({}, optional={"client": JSON | st.text(max_size=100), "username": JSON,
                                             "password": JSON | st.text(max_size=300), "note": JSON})
ROUTES = ["/api/v1/auth/login", "/api/v1/sign-in/throttles/lift", "/api/v1/alerts/1/acknowledge",
          "/api/v1/alerts/1/resolve", "/api/v1/routing/applications?site=hall-a"]


@pytest.fixture
def platform(county_db, tmp_path):
    """One platform for all of a test's examples (hypothesis runs them within one call of the test)."""
    app = create_app(make_county(county_db, tmp_path), ingest=False)
    c = app.test_client()
    token = c.post("/api/v1/auth/login", json={"username": "sup", "password": DEMO_PASSWORD},
                   environ_base={"REMOTE_ADDR": "10.9.9.9"}).get_json()["token"]
    return c, {"Authorization": f"Bearer {token}"}


def _check(r) -> None:
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400:
        body = r.get_json()
        assert set(body) == {"error"} and body["error"]["status"] == r.status_code and body["error"]["code"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=JSON | SHAPED, as_supervisor=st.booleans())
def test_any_json_body_is_answered_below_500_in_the_one_shape(platform, route, body, as_supervisor):
    c, sup = platform
    # each example from an address of its own: the sign-in's throttle would otherwise answer 429 to the rest
    r = c.post(route, data=json.dumps(body), content_type="application/json", headers=sup if as_supervisor else {},
               environ_base={"REMOTE_ADDR": f"10.1.{abs(hash(json.dumps(body))) % 250}.{len(route)}"})
    _check(r)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), raw=st.binary(max_size=200))
def test_a_body_that_is_not_json_is_refused_not_crashed_on(platform, route, raw):
    c, sup = platform
    _check(c.post(route, data=raw, content_type="application/json", headers=sup))


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


GETS = ["/api/v1/halls", "/api/v1/halls/{site}/events", "/api/v1/quarantine", "/api/v1/alerts",
        "/api/v1/sign-in/throttles", "/api/v1/nearby", "/api/v1/routing/items",
        "/api/v1/routing/applications/{site}/{site}"]
ARG = st.text(max_size=30) | st.integers(min_value=-2**70, max_value=2**70).map(str)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(GETS), site=st.sampled_from(["hall-a", "nope"]) | st.text(min_size=1, max_size=50),
       args=st.dictionaries(st.sampled_from(["after", "limit", "state", "site", "business", "lang"]), ARG, max_size=4),
       as_supervisor=st.booleans())
def test_any_query_and_path_is_answered_below_500_in_the_one_shape(platform, route, site, args, as_supervisor):
    c, sup = platform
    path = route.replace("{site}", site.replace("/", "_").replace("?", "_").replace("#", "_") or "x")
    _check(c.get(path, query_string=args, headers=sup if as_supervisor else {}))
