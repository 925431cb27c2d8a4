"""Every route of the county platform, by who may call it: a new route fails here until it is placed.

Anonymous: the API answers 401 in the one error shape, the console sends to its sign-in page, and only the
health check and the two sign-in routes answer without a session. A hall manager is refused (403) what only a
supervisor may do, with a valid CSRF token, so it is the role that refuses. No answer carries a session token,
a password hash or a hall's county key.
"""

from __future__ import annotations

import pytest

from county import console_web
from county.app import create_app
from hallq.demo import DEMO_PASSWORD
from tests.county.conftest import console_login
from tests.county.test_console import make_county

PUBLIC = {("GET", "/health"), ("POST", "/api/v1/auth/login"), ("GET", "/console/login"), ("POST", "/console/login"),
          ("POST", "/console/logout")}
CONSOLE = {("GET", "/console/"), ("GET", "/console/rankings"), ("GET", "/console/alerts"),
           ("POST", "/console/alerts/<int:alert_id>/<any(acknowledge, resolve):action>"),
           ("GET", "/console/sign-ins"), ("POST", "/console/sign-ins/lift"), ("GET", "/console/stats"),
           ("GET", "/console/halls/<site>/journal"), ("GET", "/console/password"), ("POST", "/console/password")}
API = {("GET", "/api/v1/halls"), ("GET", "/api/v1/halls/<site>/events"), ("GET", "/api/v1/nearby"),
       ("GET", "/api/v1/routing/items"), ("POST", "/api/v1/routing/applications"),
       ("GET", "/api/v1/routing/applications/<target>/<tracking_no>"), ("GET", "/api/v1/quarantine"),
       ("GET", "/api/v1/alerts"), ("POST", "/api/v1/alerts/<int:alert_id>/<any(acknowledge, resolve):action>"),
       ("GET", "/api/v1/sign-in/throttles"), ("POST", "/api/v1/sign-in/throttles/lift"),
       ("POST", "/api/v1/auth/password")}
SUPERVISOR_ONLY = {("GET", "/console/sign-ins"), ("POST", "/console/sign-ins/lift"),
                   ("POST", "/console/alerts/<int:alert_id>/<any(acknowledge, resolve):action>")}
SUPERVISOR_ONLY_API = {("GET", "/api/v1/quarantine"),
                       ("POST", "/api/v1/alerts/<int:alert_id>/<any(acknowledge, resolve):action>"),
                       ("GET", "/api/v1/sign-in/throttles"), ("POST", "/api/v1/sign-in/throttles/lift")}
VALUES = {"<site>": "hall-a", "<int:alert_id>": "1", "<any(acknowledge, resolve):action>": "resolve",
          "<target>": "hall-a", "<tracking_no>": "X1"}


def url(rule: str) -> str:
    for part, value in VALUES.items():
        rule = rule.replace(part, value)
    return rule


@pytest.fixture
def app(county_db, tmp_path):
    return create_app(make_county(county_db, tmp_path), ingest=False)


def routes(app) -> set[tuple[str, str]]:
    return {(m, r.rule) for r in app.url_map.iter_rules() if not r.rule.endswith("/<path:filename>")
            for m in r.methods - {"HEAD", "OPTIONS"}}


def test_every_route_is_placed(app):
    assert routes(app) == PUBLIC | CONSOLE | API, "a route of the platform is not in this matrix: place it"


def test_anonymous_callers_get_the_sign_in_page_or_401_in_the_one_shape(app):
    c = app.test_client()
    for method, rule in sorted(CONSOLE):
        r = c.open(url(rule), method=method)
        assert r.status_code == 302 and r.headers["Location"].endswith("/console/login"), (method, rule)
    for method, rule in sorted(API):
        r = c.open(url(rule), method=method, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, rule, r.status_code)
        body = r.get_json()
        assert set(body) == {"error"} and body["error"]["status"] == 401 and body["error"]["code"], (method, rule)


def test_a_hall_manager_is_refused_what_only_a_supervisor_does_and_no_answer_holds_a_secret(app):
    c = app.test_client()
    r = console_login(c, "mgr-b", DEMO_PASSWORD)
    assert r.status_code == 302
    session = c.get_cookie(console_web.COOKIE).value
    with app.app_context():
        csrf = console_web.csrf_token(session)
    bodies = []
    for method, rule in sorted(CONSOLE):
        r = c.open(url(rule), method=method, data={"csrf_token": csrf, "client": "10.0.0.9", "username": "sup"}
                   if method == "POST" else None)
        bodies.append(r.get_data(as_text=True))
        if (method, rule) in SUPERVISOR_ONLY:
            assert r.status_code == 403 and "无权" in bodies[-1], (method, rule, r.status_code)
        else:
            # 403: another hall's journal; 400: the password form sent without its fields
            allowed = (200, 400, 403) if (method, rule) == ("POST", "/console/password") else (200, 403)
            assert r.status_code in allowed, (method, rule, r.status_code)
    sup = app.test_client()
    console_login(sup, "sup", DEMO_PASSWORD)
    bodies += [sup.get(url(rule)).get_data(as_text=True) for method, rule in sorted(CONSOLE) if method == "GET"]
    for body in bodies:
        assert session not in body and "$argon2" not in body and "password_hash" not in body


def test_a_hall_manager_is_refused_the_supervisors_api_in_the_one_shape(app):
    c = app.test_client()
    r = c.post("/api/v1/auth/login", json={"username": "mgr-b", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
    for method, rule in sorted(SUPERVISOR_ONLY_API):
        r = c.open(url(rule), method=method, headers=headers,
                   json={"client": "10.0.0.9", "username": "sup", "note": "x"} if method == "POST" else None)
        assert r.status_code == 403 and r.get_json() == {"error": {"status": 403, "code": "forbidden"}}, (method, rule)
