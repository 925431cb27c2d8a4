"""The hot path of POST /api/v1/tickets (queue_server/hotpath.py) answers as the Flask route does.

Each request is sent twice: as a kiosk sends it (taken by the hot path), and again with the hot
path told to leave it to Flask: the status, the error and the ticket's fields must be the same.
"""

from __future__ import annotations

import io
import json
from contextlib import contextmanager

import pytest

from queue_server import hotpath

KIOSK = {"Authorization": "Bearer demo-kiosk-1"}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def business(state) -> str:
    return next(iter(state.service.businesses()))


@pytest.fixture
def general_calls(app, monkeypatch) -> list[str]:
    """Every request that reached Flask."""
    seen: list[str] = []
    flask_way = app.wsgi_app.wsgi_app

    def counted(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return flask_way(environ, start_response)

    monkeypatch.setattr(app.wsgi_app, "wsgi_app", counted)
    return seen


@contextmanager
def general_way(client):
    """A context in which the hot path takes nothing: every request goes through Flask."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(client.application.wsgi_app, "_eligible", lambda environ: None)
        yield


def both(client, general_calls, body=None, headers=None, data=None, content_type=None):
    """The answer of the hot path, then of the general way, to the same request."""
    answers = []
    for forced in (False, True):
        before = len(general_calls)
        kw = {"json": body} if data is None else {"data": data, "content_type": content_type}
        if forced:
            with general_way(client):
                r = client.post("/api/v1/tickets", headers=headers or KIOSK, **kw)
        else:
            r = client.post("/api/v1/tickets", headers=headers or KIOSK, **kw)
        answers.append((r.status_code, r.get_json(), len(general_calls) - before))
    (hot_status, hot, hot_general), (status, general, general_general) = answers
    assert general_general == 1
    return hot_status, hot, hot_general, status, general


def test_a_kiosk_ticket_takes_the_hot_path_and_looks_the_same(client, business, general_calls):
    hot_status, hot, hot_general, status, general = both(client, general_calls, {"business": business})
    assert hot_general == 0, "the plain kiosk request went through Flask"
    assert hot_status == status == 201
    assert hot.keys() == general.keys()
    assert {k: v for k, v in hot.items() if k not in ("id", "ticket", "track_url", "people_ahead",
                                                      "est_wait_minutes", "est_wait_range", "issued_at",
                                                      "promise_from")} == \
        {k: v for k, v in general.items() if k not in ("id", "ticket", "track_url", "people_ahead",
                                                       "est_wait_minutes", "est_wait_range", "issued_at",
                                                       "promise_from")}
    assert general["people_ahead"] == hot["people_ahead"] + 1


def test_an_idempotent_retry_on_the_hot_path_returns_the_same_ticket(client, business, general_calls):
    h = {**KIOSK, "Idempotency-Key": "press-1"}
    first = client.post("/api/v1/tickets", json={"business": business}, headers=h).get_json()
    again = client.post("/api/v1/tickets", json={"business": business}, headers=h)
    with general_way(client):
        general = client.post("/api/v1/tickets", json={"business": business}, headers=h)
    assert again.status_code == general.status_code == 201 and general_calls == ["/api/v1/tickets"]
    assert again.get_json() == general.get_json() == {**first, "replayed": True}


@pytest.mark.parametrize("case", ["unknown_token", "not_a_kiosk", "unknown_business", "missing_field", "extra_type",
                                  "malformed", "not_utf8", "bad_key", "duplicate_key"])
def test_every_refusal_is_the_same_both_ways(client, business, general_calls, case):
    body, headers, data = {"business": business}, dict(KIOSK), None
    if case == "unknown_token":
        headers["Authorization"] = "Bearer nobody"
    elif case == "not_a_kiosk":
        headers["Authorization"] = "Bearer demo-tablet-1"
    elif case == "unknown_business":
        body = {"business": "nonesuch"}
    elif case == "missing_field":
        body = {}
    elif case == "extra_type":
        body = {"business": business, "phone": 12}
    elif case == "malformed":
        data = b'{"business": '
    elif case == "not_utf8":
        data = b'{"business": "\xff"}'
    elif case == "bad_key":
        headers["Idempotency-Key"] = "x" * 101
    elif case == "duplicate_key":
        data = f'{{"business": "{business}", "business": "{business}"}}'.encode()
    hot_status, hot, hot_general, status, general = both(
        client, general_calls, body, headers, data, "application/json" if data is not None else None)
    assert hot_general == 0
    assert 400 <= status < 500 and hot_status == status
    assert hot == general


def test_what_the_hot_path_does_not_take_goes_through_flask(client, business, general_calls):
    for kw in ({"query_string": {"x": "1"}}, {"data": b'{"business": "a"}', "content_type": "text/plain"},
               {"data": b"{}" + b" " * hotpath.MAX_BODY, "content_type": "application/json"}):
        before = len(general_calls)
        kw.setdefault("json", None) if "data" in kw else kw.setdefault("json", {"business": business})
        if kw.get("json") is None:
            kw.pop("json")
        client.post("/api/v1/tickets", headers=KIOSK, **kw)
        assert len(general_calls) == before + 1, kw
    assert client.post("/api/v1/tickets", json={"business": business}).status_code == 401  # no token: Flask's


def test_the_hot_path_runs_every_hook_the_route_has(app):
    """A hook added to the app for every request must be run by the hot path too (or the path dropped)."""
    before = {bp: tuple(f.__name__ for f in fs) for bp, fs in app.before_request_funcs.items() if fs}
    after = {bp: tuple(f.__name__ for f in fs) for bp, fs in app.after_request_funcs.items() if fs}
    assert before == hotpath.KNOWN_BEFORE
    assert after.get(None) == hotpath.KNOWN_AFTER[None]  # blueprints' own (pages) do not see /api
    assert not any(app.url_value_preprocessors.values()) and not any(app.teardown_request_funcs.values())


# -- call-next ------------------------------------------------------------------------------------

@pytest.fixture
def clerk(client) -> dict[str, str]:
    """Staff 101 signed in at window 1, by a bearer token (as hallq.client and the keypads' gateway send)."""
    from hallq.demo import DEMO_PASSWORD

    token = client.post("/api/v1/auth/login", json={"job_no": "101", "password": DEMO_PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/windows/1/sign-in", json={}, headers=headers).status_code == 200
    return headers


def call_both(client, general_calls, number: int, body, headers) -> tuple:
    answers = []
    for forced in (False, True):
        before = len(general_calls)
        if forced:
            with general_way(client):
                r = client.post(f"/api/v1/windows/{number}/call-next", json=body, headers=headers)
        else:
            r = client.post(f"/api/v1/windows/{number}/call-next", json=body, headers=headers)
        answers.append((r.status_code, r.get_json(), len(general_calls) - before))
    return answers


def test_call_next_takes_the_hot_path_and_answers_as_the_route(client, business, general_calls, clerk):
    for _ in range(4):
        assert client.post("/api/v1/tickets", json={"business": business}, headers=KIOSK).status_code == 201
    (hot_status, hot, hot_general), (status, general, _) = call_both(
        client, general_calls, 1, {"complete_current": True}, clerk)
    assert hot_general == 0 and hot_status == status == 200
    assert hot.keys() == general.keys() and hot["window"].keys() == general["window"].keys()
    assert general["seq"] == hot["seq"] + 1 and hot["ticket"]["state"] == "called"
    assert general["window"]["current"]["ticket"] == general["ticket"]["ticket"]


@pytest.mark.parametrize("case", ["nobody_waiting", "unknown_window", "not_signed_in_here", "bad_field", "kiosk_key"])
def test_every_call_next_refusal_is_the_same_both_ways(client, general_calls, clerk, case):
    number, body, headers = 1, {"complete_current": True}, clerk
    if case == "unknown_window":
        number = 998
    elif case == "not_signed_in_here":
        number = 2
    elif case == "bad_field":
        body = {"complete_current": "yes"}
    elif case == "kiosk_key":
        headers = KIOSK
    (hot_status, hot, hot_general), (status, general, _) = call_both(client, general_calls, number, body, headers)
    assert hot_general == 0
    assert 400 <= status < 500 and hot_status == status
    assert hot == general


def test_a_body_cut_short_is_refused_as_flask_refuses_it(app, general_calls):
    def send(path_taken: bool) -> tuple[int, dict]:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/tickets", "QUERY_STRING": "", "SERVER_NAME": "x",
                   "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(b'{"business": "alpha"}'), "wsgi.errors": io.StringIO(),
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "40", "HTTP_AUTHORIZATION": KIOSK["Authorization"]}
        got: list[str] = []
        with pytest.MonkeyPatch.context() as m:
            if not path_taken:
                m.setattr(app.wsgi_app, "_eligible", lambda environ: None)
            body = b"".join(app(environ, lambda status, headers, exc=None: got.append(status)))
        return int(got[0].split()[0]), json.loads(body)

    hot, general = send(True), send(False)
    assert hot[0] == general[0] == 400 and hot == general


def test_the_window_s_rule_comes_before_the_body_and_a_retry_both_ways(client, business, general_calls, clerk):
    """The hot path checks a window's rule in the call's own transaction: still before the body's checks, and
    before a retry is answered from its Idempotency-Key, and such a refusal is not remembered for the key."""
    # a bad body at a window the caller is not signed in at: the door's 403 first, both ways
    (hot_status, hot, hot_general), (status, general, _) = call_both(
        client, general_calls, 2, {"complete_current": "yes"}, clerk)
    assert hot_general == 0 and hot_status == status == 403 and hot == general
    assert hot["error"]["code"] == "not_signed_in_here"
    # a retry of an answered call after the clerk left the window: refused at the door, not replayed
    assert client.post("/api/v1/tickets", json={"business": business}, headers=KIOSK).status_code == 201
    first = client.post("/api/v1/windows/1/call-next", json={}, headers={**clerk, "Idempotency-Key": "k1"})
    assert first.status_code == 200
    assert client.post("/api/v1/windows/1/complete", json={}, headers=clerk).status_code == 200
    assert client.post("/api/v1/windows/1/sign-out", json={}, headers=clerk).status_code == 200
    answers = []
    for forced in (False, True):
        with pytest.MonkeyPatch.context() as m:
            if forced:
                m.setattr(client.application.wsgi_app, "_eligible", lambda environ: None)
            r = client.post("/api/v1/windows/1/call-next", json={}, headers={**clerk, "Idempotency-Key": "k1"})
        answers.append((r.status_code, r.get_json()))
    assert answers[0] == answers[1] and answers[0][0] == 403
    # back at the window, the same key is answered from its first answer: the refusals were not remembered
    assert client.post("/api/v1/windows/1/sign-in", json={}, headers=clerk).status_code == 200
    again = client.post("/api/v1/windows/1/call-next", json={}, headers={**clerk, "Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert again.get_json()["seq"] == first.get_json()["seq"]


def test_an_answer_remembered_for_its_key_is_sent_as_stored_byte_for_byte(app, state, client, business, general_calls,
                                                                          clerk):
    """With an Idempotency-Key, the hot path sends the JSON text stored for the key (the answer is encoded once):
    the very bytes the route writes for that answer, and what a retry is answered from."""
    assert client.post("/api/v1/tickets", json={"business": business}, headers=KIOSK).status_code == 201
    for path, headers in (("/api/v1/tickets", KIOSK), ("/api/v1/windows/1/call-next", clerk)):
        key, before = f"once-{len(path)}", len(general_calls)
        r = client.post(path, json={"business": business} if "tickets" in path else {"complete_current": True},
                        headers={**headers, "Idempotency-Key": key})
        assert r.status_code in (200, 201) and len(general_calls) == before  # the hot path took it
        assert r.data == f"{app.json.dumps(r.get_json(), separators=(',', ':'))}\n".encode()
        stored = state.db.connection().execute("SELECT response FROM requests WHERE key = ?", (key,)).fetchone()[0]
        assert r.data == f"{stored}\n".encode()
