"""Who may call each API operation: every operation of the live OpenAPI document × every kind of caller.

The operations are read from ``/api/v1/openapi.json`` as the server serves it, so an operation
added without an expectation here fails ``test_every_operation_has_an_expectation``. The
expectations are written from the documented rules (docs/api.md "Who may call what" and its
operations table, docs/applications.md, docs/appointments.md, docs/consoles.md,
docs/security.md "Roles"), not from the routes' ``auth=`` declarations.

The callers, each in a hall of its own (a fresh server state per caller):

* ``anonymous``; a ``kiosk``; the ``gateway`` of window 1's call keypad and rating pad; window
  1's rating ``tablet``;
* ``clerk_here`` (101, signed in at window 1), ``clerk_away`` (102, signed in at window 2),
  a ``manager`` (900) and an ``admin`` (999).

Every window operation is aimed at window 1. Two passes per caller:

1. probes that change nothing: bodies with an unknown field (refused with 400 once the caller
   is let in), reads, and resources that do not exist; an allowed caller must not get 401/403,
   a refused one must, and the whole pass must leave the database as it was;
2. real requests where the door is not the whole rule or where only doing it proves it (a
   clerk at their own window calling next, an administrator changing a role, a kiosk asking
   for help, a resident rating): an allowed caller's succeeds, a refused one's is refused and
   changes nothing.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from hallq.demo import DEMO_PASSWORD, DEMO_PASSWORD_HASH
from tests.conftest import make_id
from tests.web.test_roles import Browser

ANON, KIOSK, GATEWAY, TABLET = "anonymous", "kiosk", "gateway", "tablet"
CLERK_HERE, CLERK_AWAY, MANAGER, ADMIN = "clerk_here", "clerk_away", "manager", "admin"
CALLERS = (ANON, KIOSK, GATEWAY, TABLET, CLERK_HERE, CLERK_AWAY, MANAGER, ADMIN)
DEVICE_KEYS = {KIOSK: "demo-kiosk-1", GATEWAY: "demo-gateway-1", TABLET: "demo-tablet-1"}
JOB_NO = {CLERK_HERE: "101", CLERK_AWAY: "102", MANAGER: "900", ADMIN: "999"}

# the rules of docs/api.md, for window 1
EVERYONE = frozenset(CALLERS)
STAFF = frozenset({CLERK_HERE, CLERK_AWAY, MANAGER, ADMIN})          # any signed-in staff member
KIOSK_OR_STAFF = STAFF | {KIOSK}                                       # "kiosk": a kiosk's key or staff
WINDOW_1 = frozenset({CLERK_HERE, MANAGER, ADMIN, GATEWAY})            # its clerk, a manager, its keypads
BETA_CLERKS = frozenset({CLERK_AWAY, MANAGER, ADMIN})                  # window 2 serves beta, window 1 does not
WINDOW_1_DEVICES = frozenset({GATEWAY, TABLET})                        # its rating pad (gateway), its tablet
MANAGERS = frozenset({MANAGER, ADMIN})
ADMINS = frozenset({ADMIN})
RESIDENTS = EVERYONE - STAFF                                           # "never from a staff account"

EXPECTED = {
    # accounts (docs/security.md): managers manage clerks; only administrators change roles
    "list_accounts": MANAGERS, "create_account": MANAGERS, "activate_account": MANAGERS,
    "deactivate_account": MANAGERS, "reset_password": MANAGERS, "set_role": ADMINS,
    # sign-in throttles (docs/security.md): a manager sees and lifts them (an administrator those of managers)
    "list_sign_in_throttles": MANAGERS, "lift_sign_in_throttle": MANAGERS,
    # applications (docs/applications.md)
    "get_form": EVERYONE, "submit_application": KIOSK_OR_STAFF, "find_applications": KIOSK_OR_STAFF,
    # 就近办 across halls (docs/county.md "Routed applications"): the station's list of routed items is open, its
    # list of what it took is staff's; the handling hall's two routes are the county platform's routing key's only
    "routed_items": EVERYONE, "routed_applications": STAFF, "file_routed_application": frozenset(),
    "routed_progress": frozenset(),
    "get_application": EVERYONE, "supplement_application": KIOSK_OR_STAFF, "transition_application": STAFF,
    "collect_result": KIOSK_OR_STAFF,
    "list_packages": EVERYONE, "get_package_guide": EVERYONE, "file_package": KIOSK_OR_STAFF,
    "review_package": STAFF, "supplement_package": KIOSK_OR_STAFF,
    # the applicant's full name (docs/privacy.md): a clerk of the case's business, or a manager; proven on a beta
    # application below (a probe of an unknown case is 404 to every staff member)
    "applicant_name": BETA_CLERKS,
    # appointments (docs/appointments.md)
    "list_slots": EVERYONE, "book_appointment": KIOSK_OR_STAFF, "get_appointment": KIOSK_OR_STAFF,
    "cancel_appointment": KIOSK_OR_STAFF, "check_in": KIOSK_OR_STAFF, "list_appointments": STAFF,
    # a booking's full name: staff at the door; the business rule past it is proven in
    # tests/queue_server/test_appointments.py (this hall takes no bookings)
    "appointment_name": STAFF,
    "lift_booking_suspension": MANAGERS,
    # sessions (docs/api.md)
    "login": EVERYONE, "logout": STAFF, "whoami": KIOSK_OR_STAFF, "change_password": STAFF,
    # the hall, open reads (docs/api.md): no personal data
    "get_health": EVERYONE, "get_hall": EVERYONE, "list_businesses": EVERYONE, "get_business": EVERYONE,
    "list_items": EVERYONE, "get_item": EVERYONE, "get_board": EVERYONE, "list_calls": EVERYONE,
    "list_notices": EVERYONE, "list_windows": EVERYONE, "get_window": EVERYONE, "get_ticket": EVERYONE,
    "get_clock": EVERYONE, "nearby_halls": EVERYONE,  # 就近办: other halls' waits, from the county (docs/county.md)
    # managers (docs/api.md, docs/consoles.md)
    "create_notice": MANAGERS, "delete_notice": MANAGERS, "set_allocation": MANAGERS, "close_day": MANAGERS,
    "reopen_day": MANAGERS, "list_journal": MANAGERS, "set_clock": MANAGERS, "hall_live": MANAGERS,
    "statistics": MANAGERS, "hall_settings": MANAGERS, "update_business": MANAGERS, "export_businesses": MANAGERS,
    "import_businesses": MANAGERS, "export_items": MANAGERS, "import_items": MANAGERS,
    "set_calendar_day": MANAGERS, "set_hours": MANAGERS, "set_capacity": MANAGERS, "tidal_overview": MANAGERS,
    # guides edited in the browser, the catalogue as services.toml (docs/consoles.md "Guides")
    "save_item_guide": MANAGERS, "list_item_versions": MANAGERS, "export_catalogue": MANAGERS,
    "import_catalogue": MANAGERS,
    "tidal_assign": MANAGERS, "tidal_release": MANAGERS, "tidal_auto": MANAGERS, "tidal_alerts_seen": MANAGERS,
    # tickets (docs/api.md)
    "issue_ticket": KIOSK_OR_STAFF, "requeue": KIOSK_OR_STAFF, "cancel_ticket_by_label": STAFF,
    "cancel_ticket": EVERYONE,  # the holder of the public id: the resident's phone page, a kiosk, a clerk
    # a window: its clerk, a manager, or its own devices; its queue and console are read by the same
    "sign_in": STAFF, "sign_out": WINDOW_1, "call_next": WINDOW_1, "recall": WINDOW_1, "start_service": WINDOW_1,
    "complete": WINDOW_1, "no_show": WINDOW_1, "transfer": WINDOW_1, "hold": WINDOW_1, "call_back": WINDOW_1,
    "pause_window": WINDOW_1, "resume_window": WINDOW_1, "open_window": WINDOW_1, "close_window": WINDOW_1,
    "window_queue": WINDOW_1, "window_console": WINDOW_1, "ask_for_rating": WINDOW_1,
    # ratings (docs/consoles.md "Ratings"): from the resident, never a staff account; a window's own devices
    "rate_ticket": RESIDENTS, "rating_prompt": WINDOW_1_DEVICES, "rate_at_window": WINDOW_1_DEVICES,
    "decline_rating": WINDOW_1_DEVICES,  # 不评价 on the tablet: the resident declines, the clerk cannot
    # the consoles (docs/consoles.md)
    "live_version": KIOSK_OR_STAFF, "attention": STAFF, "device_health": STAFF,
    "request_help": frozenset({KIOSK}),  # "a resident who presses … on a kiosk's help screen (kiosk key)"
    "help_request": KIOSK_OR_STAFF, "take_help_request": STAFF,
    # bad reviews (docs/consoles.md): the owner or a manager; managers verify, report, decide appeals
    "list_followups": STAFF, "get_followup": STAFF, "fix_followup": STAFF, "appeal_followup": STAFF,
    "verify_followup": MANAGERS, "report_followup": MANAGERS, "decide_appeal": MANAGERS,
    "followup_contact": MANAGERS,  # the call-back phone: managers call back (docs/privacy.md)
    "application_statistics": MANAGERS,  # supervision figures of applications (docs/statistics.md)
}

# what the probes put in a path: window 1 (where the rules differ by caller), otherwise nothing that exists
PATH_VALUES = {"number": "1", "job_no": "zz99", "followup": "999999", "code": "nope",
               "tracking_no": "SQ20000101-ABCDEFGH", "public_id": "nope", "notice_id": "999999",
               "request_id": "999999", "day": "2026-12-31", "key": "workdays", "origin_site": "nowhere",
               "origin_no": "SQ20000101-ABCDEFGH"}
PROBE = {"__probe": 1}  # an unknown field: 400 for whoever gets past the door, before anything is done

# real requests, in this order, each by the caller under test: (operationId, path values, body, status when
# allowed). "{rated}" is the finished ticket B001's public id. Window 1 starts with A001 just finished there
# and A002-A004 waiting; every allowed caller of a window operation goes through the whole cycle.
REAL = [
    ("rating_prompt", {"number": "1"}, None, 200),
    ("rate_at_window", {"number": "1"}, {"level": 5}, 201),
    ("rate_ticket", {}, {"ticket": "{rated}", "level": 4}, 201),
    ("request_help", {}, {}, 201),
    ("window_queue", {"number": "1"}, None, 200),
    ("window_console", {"number": "1"}, None, 200),
    ("call_next", {"number": "1"}, {}, 200),
    ("recall", {"number": "1"}, {"ticket": "A002"}, 200),
    ("hold", {"number": "1"}, {"ticket": "A002"}, 200),
    ("call_back", {"number": "1"}, {"ticket": "A002"}, 200),
    ("start_service", {"number": "1"}, {"ticket": "A002"}, 200),
    ("complete", {"number": "1"}, {"ticket": "A002"}, 200),
    ("ask_for_rating", {"number": "1"}, {}, 201),
    ("call_next", {"number": "1"}, {}, 200),
    ("transfer", {"number": "1"}, {"ticket": "A003", "to_business": "beta"}, 200),
    ("call_next", {"number": "1"}, {}, 200),
    ("no_show", {"number": "1"}, {"ticket": "A004"}, 200),
    ("pause_window", {"number": "1"}, {"reason": "午间休息"}, 200),
    ("resume_window", {"number": "1"}, {}, 200),
    ("close_window", {"number": "1"}, {}, 200),
    ("open_window", {"number": "1"}, {}, 200),
    ("set_role", {"job_no": "103"}, {"role": "manager"}, 200),
    ("reset_password", {"job_no": "103"}, {"password": "Temp-2026x"}, 200),
    ("issue_ticket", {}, {"business": "alpha"}, 201),
    ("applicant_name", {"tracking_no": "{beta_application}"}, None, 200),
    ("save_item_guide", {"code": "T-ALPHA-1"}, {"business": "alpha", "name": {"zh-Hans": "甲事项"}, "fee": "不收费"}, 200),
    ("sign_out", {"number": "1"}, {}, 200),
    ("logout", {}, {}, 200),  # last: it ends the caller's session
]


# rules that go past the door (the body names what is acted on): a probe is refused only by the real
# request below, which is the proof
PAST_THE_DOOR = {
    "rate_ticket": "the domain refuses a staff account (staff_cannot_rate)",
    "request_help": "the domain refuses staff (kiosk_only): a clerk does not call for a clerk",
    "set_role": "the domain refuses managers (admin_only)",
    "applicant_name": "the domain refuses a clerk at no window serving the case's business (not_your_business)",
}


def operations(client) -> dict[str, tuple[str, str]]:
    """operationId -> (method, path template), from the document the server serves."""
    doc = client.get("/api/v1/openapi.json").get_json()
    return {op["operationId"]: (method.upper(), path)
            for path, methods in doc["paths"].items() for method, op in methods.items()}


def concrete(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), PATH_VALUES[m.group(1)]), template)


def fingerprint(state) -> str:
    """Everything in the database, hashed: equal fingerprints, nothing changed."""
    conn = state.db.connection()
    h = hashlib.sha256()
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
        h.update(table.encode())
        for row in sorted(repr(tuple(r)) for r in conn.execute(f'SELECT * FROM "{table}"')):
            h.update(row.encode())
    return h.hexdigest()


def refused(r) -> bool:
    return r.status_code in (401, 403)


def refusal_is_right(caller: str, r) -> bool:
    """Nobody signed in: 401 ``unauthorized``; anyone else: 403."""
    if caller == ANON:
        return r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    return r.status_code == 403


@pytest.fixture
def hall(app, state, api):
    """Window 1 staffed by 101, A001 just finished there and A002-A004 waiting; 102 at window 2, where B001
    was served; an administrator; a beta application. Answers the callers' headers, B001's public id and the
    application's tracking number."""
    with state.db.write() as conn:
        conn.execute("INSERT INTO staff (job_no, name, role, password_hash) VALUES ('999', '管理员', 'admin', ?)",
                     (DEMO_PASSWORD_HASH,))
    api.open_window(1, "101")
    api.open_window(2, "102")
    api.issue("alpha")
    rated = api.issue("beta", id_number=make_id(seq=77))["id"]
    for window, clerk in ((1, "101"), (2, "102")):
        for action in ("call-next", "start", "complete"):
            api.act(window, action, clerk)
    for _ in range(3):
        api.issue("alpha")
    with state.db.write() as conn:  # the tiny hall's beta item takes applications: an empty form
        conn.execute("UPDATE items SET guide = json_set(guide, '$.form', json('[]')) WHERE code = 'T-BETA-1'")
    beta = api.ok("post", "/applications", {"item": "T-BETA-1", "delivery": "onsite", "applicant": {
        "name": "乙申请人", "id_number": make_id(seq=88), "phone": "13812345678"}}, as_="kiosk", status=201)
    headers = {ANON: {}, **{who: {"Authorization": f"Bearer {key}"} for who, key in DEVICE_KEYS.items()}}
    for who, job_no in JOB_NO.items():
        headers[who] = {"Authorization": f"Bearer {api.tokens.get(job_no) or api.login(job_no)}"}
    return headers, rated, beta["tracking_no"]


def test_every_operation_has_an_expectation(app):
    ops = set(operations(app.test_client()))
    assert not ops - set(EXPECTED), f"operations without an expectation: add them to EXPECTED in {__file__}"
    assert not set(EXPECTED) - ops, f"expectations for operations that no longer exist: {set(EXPECTED) - ops}"
    assert {op for op, *_ in REAL} <= ops
    assert set(PAST_THE_DOOR) <= {op for op, *_ in REAL}, "a rule past the door needs a real request to prove it"


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_gets_exactly_what_the_rules_give(app, state, hall, caller):
    headers, rated, beta_application = hall
    client = app.test_client()
    ops = operations(client)
    wrong = []

    # 1. probes: nothing changes, whoever is let in or refused
    before = fingerprint(state)
    for op_id, (method, template) in sorted(ops.items()):
        r = client.open(concrete(template, {}), method=method, headers=headers[caller],
                        json=None if method in ("GET", "DELETE") else PROBE)
        if r.status_code >= 500:
            wrong.append(f"{op_id}: {r.status_code}")
        elif caller in EXPECTED[op_id] and refused(r):
            wrong.append(f"{op_id}: refused ({r.status_code} {r.get_json()['error']['code']}), but the rules allow it")
        elif caller not in EXPECTED[op_id] and op_id not in PAST_THE_DOOR \
                and not (refused(r) and refusal_is_right(caller, r)):
            wrong.append(f"{op_id}: let in ({r.status_code} {r.get_data(as_text=True)[:100]}), but the rules refuse it")
    assert fingerprint(state) == before, "a probe changed the database"

    # 2. real requests: an allowed caller's are done, a refused one's change nothing
    for op_id, values, body, ok in REAL:
        method, template = ops[op_id]
        if body is not None and body.get("ticket") == "{rated}":
            body = {**body, "ticket": rated}
        values = {k: beta_application if v == "{beta_application}" else v for k, v in values.items()}
        before = fingerprint(state)
        r = client.open(concrete(template, values), method=method, headers=headers[caller], json=body)
        if caller in EXPECTED[op_id]:
            if r.status_code != ok:
                wrong.append(f"real {op_id}: {r.status_code} {r.get_data(as_text=True)[:160]}, expected {ok}")
        else:
            if not refusal_is_right(caller, r):
                wrong.append(f"real {op_id}: not refused ({r.status_code} {r.get_data(as_text=True)[:100]})")
            if fingerprint(state) != before:
                wrong.append(f"real {op_id}: refused ({r.status_code}) but the database changed")
    assert not wrong, f"{caller}:\n" + "\n".join(wrong)


# -- a window's queue and console: its clerk, managers, its own devices ------------------------------

def test_a_clerk_reads_only_the_queue_and_console_of_their_own_window(app, api):
    api.open_window(1, "101")
    api.open_window(2, "102")
    api.issue("alpha", id_number=make_id(seq=5))
    for path in ("/windows/1/queue", "/console/windows/1"):
        r = api.get(path, as_="102")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_signed_in_here", path
        assert "A001" not in r.get_data(as_text=True)
        assert api.get(path, as_="101").status_code == 200
        assert api.get(path, as_="900").status_code == 200  # a manager reads any window
        assert api.get(path, as_="gateway").status_code == 200  # bound to window 1
    assert api.get("/windows/2/queue", as_="gateway").status_code == 403  # not bound to window 2
    assert api.get("/windows/3/queue", as_="101").status_code == 403  # nobody's window is not everybody's


def test_the_console_page_of_another_clerks_window_is_refused(app, api):
    api.open_window(1, "101")
    here, away, manager = Browser(app, "101"), Browser(app, "102"), Browser(app, "900")
    assert here.client.get("/console/windows/1").status_code == 200
    assert manager.client.get("/console/windows/1").status_code == 200
    r = away.client.get("/console/windows/1")
    assert r.status_code == 403 and "未在 1 号窗口签到" in r.text
    # a free window's page is where a clerk signs in: it opens, and its queue is read once signed in
    assert away.client.get("/console/windows/3").status_code == 200
    assert away.client.get("/api/v1/console/windows/3").status_code == 403
    r = away.client.post("/api/v1/windows/3/sign-in", json={}, headers={"X-CSRF-Token": away.csrf})
    assert r.status_code == 200
    assert away.client.get("/api/v1/console/windows/3").status_code == 200


# -- a password set by someone else: nothing but changing it ----------------------------------------

BEFORE_CHANGE = {"change_password", "logout", "whoami", "login"}  # login uses no session: it starts one


def test_a_session_whose_password_must_change_may_only_change_it(app, api):
    api.ok("post", "/accounts/101/password", {"password": "Temp-2026x"}, as_="900")
    token = api.login("101", "Temp-2026x")
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    wrong = []
    for op_id, (method, template) in sorted(operations(client).items()):
        r = client.open(concrete(template, {}), method=method, headers=bearer,
                        json=None if method in ("GET", "DELETE") else PROBE)
        code = r.get_json()["error"]["code"] if r.is_json and r.status_code >= 400 else None
        if op_id in BEFORE_CHANGE:
            if refused(r):
                wrong.append(f"{op_id}: refused ({r.status_code} {code})")
        elif (r.status_code, code) != (403, "password_change_required"):
            wrong.append(f"{op_id}: {r.status_code} {code}")
    assert not wrong, "\n".join(wrong)
    assert api.ok("get", "/auth/me", as_="101")["id"] == "101"

    # the console pages, with the same password, keep sending the person to the change page
    browser = app.test_client()
    page = browser.get("/console/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser.post("/console/login", data={"csrf_token": csrf, "job_no": "101", "password": "Temp-2026x"})
    for path in ("/console/windows", "/console/windows/1", "/console/backoffice", "/console/appointments",
                 "/console/reviews"):
        assert browser.get(path).headers.get("Location") == "/console/password", path
    assert browser.get("/api/v1/windows/1/queue").get_json()["error"]["code"] == "password_change_required"

    # changed: the same session goes on, with everything a clerk may do
    api.ok("post", "/auth/password", {"current": "Temp-2026x", "new": "Mine-2026x"}, as_="101")
    assert api.ok("post", "/windows/1/sign-in", as_="101")["window"]["number"] == 1
    assert api.get("/windows/1/queue", as_="101").status_code == 200


def test_changing_ones_password_in_the_console_ends_the_other_sessions_only(app, api):
    other = api.login("101")
    browser = Browser(app, "101")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.client.get("/console/password").text).group(1)
    r = browser.client.post("/console/password", data={"csrf_token": csrf, "current": DEMO_PASSWORD,
                                                       "new": "Mine-2026x", "again": "Mine-2026x"})
    assert r.status_code == 200 and "密码已修改" in r.text
    assert browser.client.get("/console/windows").status_code == 200  # the changer's session stays
    r = app.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
