"""Who may do what: every route (API and pages) walked with every role, and with none.

The expectation table below is written out by hand, route by route: it is
the oracle, independent of the ``auth=`` each route declares. A new route
fails ``test_every_route_has_an_expectation`` until someone decides here who
may call it.

Requests are probes that change nothing: windows, accounts, tickets and
follow-ups that do not exist, and bodies with an unknown field (refused with
400 after authentication), so an allowed caller gets 400/404/422 and a
refused one 401/403 with the API's ``unauthorized``/``forbidden`` codes.
Staff roles walk the API twice: with a bearer token, and with the browser
session cookie plus its CSRF token, as the consoles do.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from hallq.demo import DEMO_PASSWORD, DEMO_PASSWORD_HASH

NONE, KIOSK, TABLET, GATEWAY, STAFF, MANAGER, ADMIN = "none", "kiosk", "tablet", "gateway", "staff", "manager", "admin"
COUNTY = "county"  # the county platform's key: it reads the journal and nothing else (docs/county.md)
ROUTING = "routing"  # the county platform's routing key: it files routed applications and reads their progress
DEVICES = {KIOSK: "demo-kiosk-1", TABLET: "demo-tablet-1", GATEWAY: "demo-gateway-1", COUNTY: "county-key-for-tests",
           ROUTING: "routing-key-for-tests"}
PEOPLE = {STAFF: "101", MANAGER: "900", ADMIN: "999"}
ALL = {NONE, KIOSK, TABLET, GATEWAY, STAFF, MANAGER, ADMIN, COUNTY, ROUTING}
STAFF_ROLES = {STAFF, MANAGER, ADMIN}

WHO = {  # who may call, by class
    "open": ALL,
    "kiosk": {KIOSK} | STAFF_ROLES,                 # a kiosk's key or staff (a rating tablet only rates)
    "staff": STAFF_ROLES,
    "window": {GATEWAY} | STAFF_ROLES,             # staff, or a keypad's gateway bound to the window
    "device": {KIOSK, TABLET, GATEWAY},            # the resident's devices: never a staff account
    "manager": {MANAGER, ADMIN},
    "journal": {MANAGER, ADMIN, COUNTY},            # and the county platform, to fill its gaps
    "routing": {ROUTING},                           # the county platform's routing key only (就近办 across halls)
    "page-open": ALL,
    "page-staff": STAFF_ROLES,
    "page-manager": {MANAGER, ADMIN},
}

EXPECTED = {
    ("GET", "/api/v1/accounts"): "manager",
    ("POST", "/api/v1/accounts"): "manager",
    ("POST", "/api/v1/accounts/<job_no>/activate"): "manager",
    ("POST", "/api/v1/accounts/<job_no>/deactivate"): "manager",
    ("POST", "/api/v1/accounts/<job_no>/password"): "manager",
    ("POST", "/api/v1/accounts/<job_no>/role"): "manager",
    ("GET", "/api/v1/sign-in/throttles"): "manager",
    ("POST", "/api/v1/sign-in/throttles/lift"): "manager",
    ("POST", "/api/v1/applications"): "kiosk",
    ("GET", "/api/v1/applications"): "kiosk",
    ("GET", "/api/v1/applications/<tracking_no>"): "open",
    ("POST", "/api/v1/applications/<tracking_no>/collect"): "kiosk",
    ("POST", "/api/v1/applications/<tracking_no>/supplement"): "kiosk",
    ("POST", "/api/v1/applications/<tracking_no>/transition"): "staff",
    # the full name: staff at the door; past it, a clerk of the case's business or a manager (docs/privacy.md)
    ("GET", "/api/v1/applications/<tracking_no>/applicant-name"): "staff",
    ("GET", "/api/v1/packages"): "open",
    ("GET", "/api/v1/packages/<code>"): "open",
    ("POST", "/api/v1/packages/<code>/applications"): "kiosk",
    ("POST", "/api/v1/packages/applications/<tracking_no>/review"): "staff",
    ("POST", "/api/v1/packages/applications/<tracking_no>/supplement"): "kiosk",
    ("POST", "/api/v1/appointments"): "kiosk",
    ("GET", "/api/v1/appointments"): "staff",
    ("GET", "/api/v1/appointments/<code>"): "kiosk",
    ("GET", "/api/v1/appointments/<code>/applicant-name"): "staff",  # the full name, as for applications
    ("POST", "/api/v1/appointments/<code>/cancel"): "kiosk",
    ("POST", "/api/v1/appointments/check-in"): "kiosk",
    ("GET", "/api/v1/appointments/slots"): "open",
    ("POST", "/api/v1/appointments/suspensions/lift"): "manager",
    ("POST", "/api/v1/auth/login"): "open",
    ("POST", "/api/v1/auth/logout"): "staff",
    ("GET", "/api/v1/auth/me"): "kiosk",
    ("POST", "/api/v1/auth/password"): "staff",
    ("GET", "/api/v1/attention"): "staff",
    ("GET", "/api/v1/board"): "open",
    ("GET", "/api/v1/businesses"): "open",
    ("GET", "/api/v1/businesses/<code>"): "open",
    ("GET", "/api/v1/calls"): "open",
    ("GET", "/api/v1/clock"): "open",
    ("PUT", "/api/v1/clock"): "manager",
    ("GET", "/api/v1/console/windows/<int:number>"): "window",
    ("POST", "/api/v1/day/close"): "manager",
    ("POST", "/api/v1/day/reopen"): "manager",
    ("GET", "/api/v1/devices/health"): "staff",
    ("GET", "/api/v1/followups"): "staff",
    ("GET", "/api/v1/followups/<followup>"): "staff",
    ("POST", "/api/v1/followups/<followup>/appeal"): "staff",
    ("POST", "/api/v1/followups/<followup>/appeal-decision"): "manager",
    ("POST", "/api/v1/followups/<followup>/fix"): "staff",
    ("POST", "/api/v1/followups/<followup>/report"): "manager",
    ("POST", "/api/v1/followups/<followup>/verify"): "manager",
    ("GET", "/api/v1/followups/<followup>/contact"): "manager",
    ("GET", "/api/v1/hall"): "open",
    ("POST", "/api/v1/help-requests"): "kiosk",  # staff pass the door but the domain refuses them (kiosk_only)
    ("GET", "/api/v1/help-requests/<int:request_id>"): "kiosk",
    ("POST", "/api/v1/help-requests/<int:request_id>/take"): "staff",
    ("GET", "/api/v1/hall/live"): "manager",
    ("GET", "/api/v1/health"): "open",
    ("GET", "/api/v1/items"): "open",
    ("GET", "/api/v1/nearby"): "open",  # 就近办: nearby halls' waits, as public as the hall's own (GET /board)
    ("GET", "/api/v1/items/<code>"): "open",
    ("GET", "/api/v1/items/<code>/form"): "open",
    ("GET", "/api/v1/journal"): "journal",
    ("GET", "/api/v1/routed-items"): "open",  # 就近办: the items a station takes for another hall, like GET /items
    ("GET", "/api/v1/routed-applications"): "staff",  # what the station took for other halls (masked)
    ("POST", "/api/v1/routed-applications"): "routing",  # the handling hall files one: the platform's routing key
    ("GET", "/api/v1/routed-applications/<origin_site>/<origin_no>"): "routing",
    ("GET", "/api/v1/live"): "kiosk",
    ("GET", "/api/v1/notices"): "open",
    ("POST", "/api/v1/notices"): "manager",
    ("DELETE", "/api/v1/notices/<int:notice_id>"): "manager",
    ("GET", "/api/v1/openapi.json"): "open",
    ("POST", "/api/v1/ratings"): "open",  # the ticket holder; a staff account is refused by the domain
    ("GET", "/api/v1/settings"): "manager",
    ("GET", "/api/v1/settings/businesses.csv"): "manager",
    ("POST", "/api/v1/settings/businesses.csv"): "manager",
    ("PUT", "/api/v1/settings/businesses/<code>"): "manager",
    ("PUT", "/api/v1/settings/calendar/<day>"): "manager",
    ("PUT", "/api/v1/settings/capacity"): "manager",
    ("PUT", "/api/v1/settings/hours/<key>"): "manager",
    ("GET", "/api/v1/settings/items.csv"): "manager",
    ("POST", "/api/v1/settings/items.csv"): "manager",
    ("PUT", "/api/v1/items/<code>/guide"): "manager",  # guides edited in the browser (issue 17 item 5)
    ("GET", "/api/v1/items/<code>/versions"): "manager",
    ("GET", "/api/v1/catalogue.toml"): "manager",
    ("POST", "/api/v1/catalogue.toml"): "manager",
    ("GET", "/api/v1/stats"): "manager",
    ("GET", "/api/v1/stats/applications"): "manager",
    ("POST", "/api/v1/tickets"): "kiosk",
    ("GET", "/api/v1/tickets/<public_id>"): "open",
    ("POST", "/api/v1/tickets/<public_id>/cancel"): "open",  # the holder of the public id (the phone page)
    ("POST", "/api/v1/tickets/requeue"): "kiosk",
    ("POST", "/api/v1/tickets/cancel"): "staff",  # a clerk, by the printed label, for a resident who asks
    ("GET", "/api/v1/tidal"): "manager",
    ("POST", "/api/v1/tidal/alerts/seen"): "manager",
    ("PUT", "/api/v1/tidal/auto"): "manager",
    ("POST", "/api/v1/tidal/windows/<int:number>/assign"): "manager",
    ("POST", "/api/v1/tidal/windows/<int:number>/release"): "manager",
    ("GET", "/api/v1/windows"): "open",
    ("GET", "/api/v1/windows/<int:number>"): "open",
    ("PUT", "/api/v1/windows/<int:number>/allocation"): "manager",
    ("POST", "/api/v1/windows/<int:number>/call-back"): "window",
    ("POST", "/api/v1/windows/<int:number>/call-next"): "window",
    ("POST", "/api/v1/windows/<int:number>/close"): "window",
    ("POST", "/api/v1/windows/<int:number>/complete"): "window",
    ("POST", "/api/v1/windows/<int:number>/hold"): "window",
    ("POST", "/api/v1/windows/<int:number>/no-show"): "window",
    ("POST", "/api/v1/windows/<int:number>/open"): "window",
    ("POST", "/api/v1/windows/<int:number>/pause"): "window",
    ("GET", "/api/v1/windows/<int:number>/queue"): "window",
    ("POST", "/api/v1/windows/<int:number>/rating"): "device",
    ("POST", "/api/v1/windows/<int:number>/rating-decline"): "device",
    ("POST", "/api/v1/windows/<int:number>/rating-prompt"): "window",
    ("GET", "/api/v1/windows/<int:number>/rating-prompt"): "device",
    ("POST", "/api/v1/windows/<int:number>/recall"): "window",
    ("POST", "/api/v1/windows/<int:number>/resume"): "window",
    ("POST", "/api/v1/windows/<int:number>/sign-in"): "staff",
    ("POST", "/api/v1/windows/<int:number>/sign-out"): "window",
    ("POST", "/api/v1/windows/<int:number>/start"): "window",
    ("POST", "/api/v1/windows/<int:number>/transfer"): "window",
    ("GET", "/console/"): "page-open",  # redirects by role
    ("GET", "/console/backoffice"): "page-staff",
    ("GET", "/console/appointments"): "page-staff",  # 预约管理; its suspension form is a manager's (the API's rule)
    ("GET", "/console/backoffice/<tracking_no>"): "page-staff",
    ("POST", "/console/backoffice/<tracking_no>/applicant-name"): "page-staff",  # 显示全名 (CSRF, journaled)
    ("GET", "/console/backoffice/packages/<code>"): "page-staff",  # 帮办: a clerk files a 一件事 package
    ("GET", "/console/backoffice/routed/<code>"): "page-staff",  # 帮办 for an item another hall handles
    ("GET", "/console/login"): "page-open",
    ("POST", "/console/login"): "page-open",
    ("POST", "/console/logout"): "page-staff",
    ("GET", "/console/password"): "page-staff",
    ("POST", "/console/password"): "page-staff",
    ("GET", "/console/reviews"): "page-staff",
    ("GET", "/console/reviews/<int:fid>"): "page-staff",
    ("GET", "/console/windows"): "page-staff",
    ("GET", "/console/windows/<int:number>"): "page-staff",
    ("GET", "/manager/"): "page-manager",
    ("GET", "/manager/accounts"): "page-manager",
    ("GET", "/manager/allocation"): "page-manager",
    ("GET", "/manager/calendar"): "page-manager",
    ("GET", "/manager/hall"): "page-manager",
    ("GET", "/manager/journal"): "page-manager",
    ("GET", "/manager/notices"): "page-manager",
    ("GET", "/manager/services"): "page-manager",
    ("GET", "/manager/guides"): "page-manager",
    ("GET", "/manager/guides/<code>"): "page-manager",
    ("GET", "/manager/stats"): "page-manager",
    ("GET", "/manager/stats/applications"): "page-manager",
    ("GET", "/manager/tidal"): "page-manager",
    ("GET", "/a/<tracking_no>"): "page-open",  # an application's or a 一件事 package's progress: no personal data
    ("GET", "/rate/<int:number>"): "page-open",  # the tablet's page: no data until its key is used
    ("GET", "/static/<path:filename>"): "page-open",
    ("GET", "/static/web/<path:filename>"): "page-open",
    ("GET", "/t/<public_id>"): "page-open",
    ("GET", "/t/static/<path:filename>"): "page-open",
}

VALUES = {"number": "999", "job_no": "zz99", "followup": "999999", "fid": "999999", "code": "nope",
          "tracking_no": "SQ20000101-ABCDEFGH", "public_id": "nope", "notice_id": "999999", "request_id": "999999",
          "day": "2026-12-31", "origin_site": "nowhere", "origin_no": "SQ20000101-ABCDEFGH",
          "key": "workdays", "filename": "nope.css"}
PROBE = {"__probe": 1}  # an unknown field: refused with 400 after authentication


def concrete(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: VALUES[m.group(1)], rule)


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


class Browser:
    """A signed-in browser: the session cookie, and the CSRF token its pages carry."""

    def __init__(self, app, job_no: str) -> None:
        self.client = app.test_client()
        page = self.client.get("/console/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = self.client.post("/console/login", data={"csrf_token": token, "job_no": job_no, "password": DEMO_PASSWORD})
        assert r.status_code == 303, r.text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', self.client.get("/console/password").text).group(1)


@pytest.fixture
def hall(app, state):
    with state.db.write() as conn:
        conn.execute("INSERT INTO staff (job_no, name, role, password_hash) VALUES ('999', '管理员', 'admin', ?)",
                     (DEMO_PASSWORD_HASH,))
        conn.execute("INSERT INTO devices (id, kind, key_sha256, windows) VALUES ('county', 'county', ?, '[]')",
                     (hashlib.sha256(DEVICES[COUNTY].encode()).hexdigest(),))
        conn.execute("INSERT INTO devices (id, kind, key_sha256, windows) VALUES ('routing', 'routing', ?, '[]')",
                     (hashlib.sha256(DEVICES[ROUTING].encode()).hexdigest(),))
    tokens = dict(DEVICES)
    for role, job in PEOPLE.items():
        r = app.test_client().post("/api/v1/auth/login", json={"job_no": job, "password": DEMO_PASSWORD})
        tokens[role] = r.get_json()["token"]
    browsers = {role: Browser(app, job) for role, job in PEOPLE.items()}
    return tokens, browsers


def test_every_route_has_an_expectation(app):
    have = set(routes(app))
    missing = sorted(have - set(EXPECTED))
    stale = sorted(set(EXPECTED) - have)
    assert not missing, f"routes without an expectation: add them to EXPECTED in {__file__}: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


def _api_refusal(r) -> str | None:
    """'unauthenticated' / 'forbidden' when the API refused the caller as such, else None."""
    if r.status_code not in (401, 403) or not r.is_json:
        return None
    code = r.get_json()["error"]["code"]
    if r.status_code == 401 and code in ("unauthorized", "invalid_token"):
        return "unauthenticated"
    if r.status_code == 403 and code == "forbidden":
        return "forbidden"
    return None


def test_the_api_lets_in_exactly_who_the_table_says(app, hall):
    tokens, browsers = hall
    wrong = []
    for method, rule in sorted(set(routes(app))):
        if not rule.startswith("/api/"):
            continue
        url, allowed = concrete(rule), WHO[EXPECTED[(method, rule)]]
        body = None if method == "GET" else PROBE
        callers = [(who, {"Authorization": f"Bearer {tokens[who]}"} if who != NONE else {}, app.test_client())
                   for who in sorted(ALL)]
        callers += [(f"{who}(cookie)", {"X-CSRF-Token": b.csrf}, b.client) for who, b in browsers.items()]
        for who, headers, client in callers:
            r = client.open(url, method=method, json=body, headers=headers)
            refusal = _api_refusal(r)
            assert r.status_code < 500, (method, url, who, r.status_code, r.get_data(as_text=True)[:300])
            role = who.split("(")[0]
            if role in allowed and refusal is not None:
                wrong.append(f"{who} refused on {method} {url} ({r.status_code})")
            if role not in allowed:
                expected = "unauthenticated" if role == NONE else "forbidden"
                if refusal != expected:
                    wrong.append(f"{who} not refused on {method} {url}: {r.status_code} {r.get_data(as_text=True)[:120]}")
    assert not wrong, "\n".join(wrong)


def test_the_pages_let_in_exactly_who_the_table_says(app, hall):
    _, browsers = hall
    wrong = []
    for method, rule in sorted(set(routes(app))):
        if rule.startswith("/api/") or (method, rule) == ("POST", "/console/login"):
            continue
        url, allowed = concrete(rule), WHO[EXPECTED[(method, rule)]]
        for who in (NONE, STAFF, MANAGER, ADMIN):
            if method == "POST" and rule == "/console/logout" and who != NONE:
                b = Browser(app, PEOPLE[who])  # signing out ends the session: use a fresh one
            else:
                b = browsers.get(who)
            client = b.client if b else app.test_client()
            data = {"csrf_token": b.csrf} if b and method == "POST" else None
            r = client.open(url, method=method, data=data)
            assert r.status_code < 500, (method, url, who, r.status_code)
            to_login = r.status_code in (302, 303) and "/console/login" in r.headers.get("Location", "") \
                and rule not in ("/console/", "/console/logout")
            refused = to_login or r.status_code == 403 or (r.status_code == 401 and who == NONE)
            if who in allowed and refused:
                wrong.append(f"{who} refused on {method} {url} ({r.status_code})")
            if who not in allowed and not refused:
                wrong.append(f"{who} not refused on {method} {url} ({r.status_code})")
    assert not wrong, "\n".join(wrong)


def test_a_browser_session_needs_the_csrf_token_for_every_change(app, hall):
    _, browsers = hall
    b = browsers[STAFF]
    r = b.client.post("/api/v1/windows/1/sign-in", json={})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    r = b.client.post("/api/v1/windows/1/sign-in", json={}, headers={"X-CSRF-Token": "0" * 40})
    assert r.get_json()["error"]["code"] == "csrf_failed"
    r = b.client.post("/api/v1/windows/1/sign-in", json={}, headers={"X-CSRF-Token": b.csrf,
                                                                      "Origin": "http://evil.example"})
    assert r.get_json()["error"]["code"] == "bad_origin"
    r = b.client.post("/api/v1/windows/1/sign-in", json={}, headers={"X-CSRF-Token": b.csrf, "Origin": "http://["})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "bad_origin"  # not a URL: refused, not a 500
    assert b.client.get("/api/v1/windows/1").status_code == 200  # reads need no token
    assert b.client.post("/api/v1/windows/1/sign-in", json={}, headers={"X-CSRF-Token": b.csrf}).status_code == 200
    assert b.client.get("/api/v1/console/windows/1").status_code == 200  # its console: once signed in there
    other = browsers[MANAGER]
    r = b.client.post("/api/v1/windows/1/pause", json={"reason": "x"}, headers={"X-CSRF-Token": other.csrf})
    assert r.get_json()["error"]["code"] == "csrf_failed"  # a token is bound to its own session


def test_the_session_cookie_is_httponly_and_samesite_strict(app):
    client = app.test_client()
    page = client.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/console/login", data={"csrf_token": token, "job_no": "101", "password": DEMO_PASSWORD})
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("hallq_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" in cookie  # served on localhost: a secure context
    r = client.post("/console/login", data={"csrf_token": "forged", "job_no": "101", "password": DEMO_PASSWORD})
    assert r.status_code == 403
