"""Sign-in throttling: guessers are slowed, clerks are never locked out by someone else's failures.

Addresses: the hall's reverse proxy is 10.0.0.2 (``[security] trusted_proxies``); clerks sit at
192.168.1.x; the guesser at 192.168.66.6. Delays are measured on the frozen virtual clock.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import random
import threading
import time

import pytest

from hallq.demo import DEMO_PASSWORD, DEMO_PASSWORD_HASH
from hallq.hallconfig import load_hall
from hallq.testing import TINY
from hallq.testing import wait_until
from queue_server import password_checks
from queue_server.clients import client_address
from queue_server.domain import throttles
from queue_server.domain.context import SYSTEM
from tests.conftest import Api

PROXY = "10.0.0.2"
GUESSER = "192.168.66.6"
CLERKS = {"101": "192.168.1.11", "102": "192.168.1.12", "103": "192.168.1.13", "900": "192.168.1.90"}


@pytest.fixture(autouse=True)
def no_rest(monkeypatch):
    """The checker's rest after a wrong password protects the windows from a flood in real time;
    these tests count failures and measure delays on the virtual clock, so they skip it."""
    monkeypatch.setattr(password_checks, "REST_FACTOR", 0.0)


@pytest.fixture
def app(tmp_path, clock):
    from queue_server.app import create_app

    cfg = load_hall(TINY)
    cfg = dataclasses.replace(cfg, security=dataclasses.replace(
        cfg.security, trusted_proxies=(ipaddress.ip_network(PROXY), ipaddress.ip_network("10.0.1.0/24"))))
    application = create_app(cfg, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield application
    application.extensions["hallq"].close()


def sign_in(api: Api, job_no: str, password: str = DEMO_PASSWORD, peer: str = "192.168.1.200",
            forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return api.client.post("/api/v1/auth/login", json={"job_no": job_no, "password": password},
                           headers=headers, environ_base={"REMOTE_ADDR": peer})


def journal(state, action: str) -> list[dict]:
    rows = state.db.connection().execute("SELECT data FROM journal WHERE action = ? ORDER BY seq", (action,))
    return [json.loads(r["data"]) for r in rows]


# -- the client's address ---------------------------------------------------------------------

NETS = (ipaddress.ip_network(PROXY), ipaddress.ip_network("10.0.1.0/24"))


@pytest.mark.parametrize("peer, forwarded, expected", [
    ("192.168.1.11", None, "192.168.1.11"),                        # no proxy
    ("192.168.66.6", "192.168.1.11", "192.168.66.6"),              # forged by a peer that is not a proxy
    (PROXY, "192.168.1.11", "192.168.1.11"),                       # through the proxy
    (PROXY, "1.2.3.4, 192.168.1.11", "192.168.1.11"),              # the client wrote 1.2.3.4 itself
    (PROXY, "192.168.1.11, 10.0.1.7", "192.168.1.11"),             # two proxies in a row
    (PROXY, "10.0.1.8, 10.0.1.7", "10.0.1.8"),                     # only proxies: the left-most
    (PROXY, "garbage, 192.168.1.11:53211", "192.168.1.11"),        # a port is not part of the address
    (PROXY, "", PROXY),                                            # nothing forwarded
    ("::ffff:192.168.1.11", None, "192.168.1.11"),                 # IPv4 seen through IPv6
])
def test_the_client_is_the_rightmost_address_no_trusted_proxy_added(peer, forwarded, expected):
    assert client_address(peer, forwarded, NETS) == expected


# -- nobody is locked out -------------------------------------------------------------------------

def test_a_flood_against_every_clerk_from_one_client_leaves_each_clerk_their_own(api, state):
    for _ in range(10):
        for job in CLERKS:
            r = sign_in(api, job, "Wrong-2026", peer=GUESSER)
            assert r.status_code in (401, 429)
    assert sign_in(api, "101", peer=GUESSER).status_code == 429  # even the right password, from there
    for job, ip in CLERKS.items():
        r = sign_in(api, job, peer=ip)
        assert r.status_code == 200, (job, r.get_json())


def test_a_flood_through_the_proxy_with_forged_addresses_is_one_client(api, state):
    rng = random.Random(7)
    for _ in range(10):
        for job in CLERKS:
            forged = ", ".join(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.1"
                               for _ in range(rng.randrange(1, 4)))
            sign_in(api, job, "Wrong-2026", peer=PROXY, forwarded=f"{forged}, {GUESSER}")
    # every attempt counted for the guesser's real address, which the proxy appended
    assert {t["client"] for t in throttles.active(state.db.connection(), state.hall.now())} == {GUESSER}
    assert sign_in(api, "900", peer=PROXY, forwarded=f"{CLERKS['900']}, {GUESSER}").status_code == 429
    for job, ip in CLERKS.items():
        assert sign_in(api, job, peer=PROXY, forwarded=ip).status_code == 200, job


def test_a_flood_from_many_addresses_behind_the_proxy_leaves_each_clerk_their_own(api):
    for n in range(8):  # each account fails 8 times, past what used to lock it (5)
        for job in CLERKS:
            sign_in(api, job, "Wrong-2026", peer=PROXY, forwarded=f"172.16.{n // 250}.{n % 250 + 1}")
    for job, ip in CLERKS.items():
        assert sign_in(api, job, peer=PROXY, forwarded=ip).status_code == 200, job


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(api, state):
    for n in range(30):
        r = sign_in(api, "101", "Wrong-2026", peer=GUESSER, forwarded=f"192.168.1.{n}")
        assert r.status_code in (401, 429)
    assert sign_in(api, "101", peer=GUESSER, forwarded=CLERKS["101"]).status_code == 429
    clients = {t["client"] for t in throttles.active(state.db.connection(), state.hall.now())}
    assert clients == {GUESSER}
    assert sign_in(api, "101", peer=CLERKS["101"]).status_code == 200


def test_a_shared_address_does_not_lock_out_those_who_signed_in_from_it_before(api):
    """Behind a proxy left out of trusted_proxies everyone has its address: the guesser sweeping
    every account slows down, the clerks who used that address before are not held back."""
    shared = "10.9.9.9"
    assert sign_in(api, "102", peer=shared).status_code == 200
    for n in range(25):
        sign_in(api, f"5{n:02d}", "Wrong-2026", peer=shared)  # other job numbers: the client's counter only
    assert sign_in(api, "101", peer=shared).status_code == 429  # never signed in from here
    assert sign_in(api, "102", peer=shared).status_code == 200


# -- a guesser is slowed down ------------------------------------------------------------------------

def test_a_guesser_waits_twice_as_long_after_each_failure_up_to_the_cap(api, clock):
    """Defaults: 5 free failures, then 60 s, doubled, capped at 30 min. Virtual time only."""
    tried_at = []
    while len(tried_at) < 14:
        r = sign_in(api, "101", "Wrong-2026", peer=GUESSER)
        if r.status_code == 429:
            wait = int(r.headers["Retry-After"])
            assert r.get_json()["error"]["detail"]["retry_after_seconds"] == wait
            clock.advance(wait)
            continue
        assert r.status_code == 401
        tried_at.append(clock.now())
    gaps = [round((b - a).total_seconds()) for a, b in zip(tried_at, tried_at[1:])]
    assert gaps == [0, 0, 0, 0, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800]
    # the right password now waits like any other attempt, and then works
    r = sign_in(api, "101", peer=GUESSER)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 1800
    clock.advance(1800)
    assert sign_in(api, "101", peer=GUESSER).status_code == 200


def test_a_refused_attempt_is_neither_counted_nor_written(api, state):
    for _ in range(5):
        sign_in(api, "101", "Wrong-2026", peer=GUESSER)
    seq = state.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0]
    for _ in range(50):
        assert sign_in(api, "101", "Wrong-2026", peer=GUESSER).status_code == 429
    assert state.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0] == seq
    row = state.db.connection().execute("SELECT failures FROM sign_in_throttles WHERE client = ? AND job_no = '101'",
                                        (GUESSER,)).fetchone()
    assert row["failures"] == 5


def test_the_console_sign_in_page_is_throttled_alike(app, clock):
    from tests.web.test_console_pages import login

    for _ in range(5):
        _, r = login(app, "101", password="Wrong-2026")
        assert r.status_code == 401
    _, r = login(app, "101")
    assert r.status_code == 429 and r.headers["Retry-After"] == "60" and "60秒后再试" in r.text
    clock.advance(60)
    _, r = login(app, "101")
    assert r.status_code == 303


def test_a_second_attempt_from_a_client_while_its_first_is_checked_is_refused_at_once(monkeypatch):
    monkeypatch.setattr(password_checks, "CHECK_WAIT_SECONDS", 0.01)
    with password_checks.one_check("192.168.1.11"):
        with pytest.raises(password_checks.SignInBusy) as refused:
            with password_checks.one_check("192.168.1.11"):
                pass
        assert refused.value.detail["retry_after_seconds"] == 1
        with pytest.raises(password_checks.SignInBusy):  # one check at a time in the whole process
            with password_checks.one_check("192.168.1.12"):
                pass
    with password_checks.one_check("192.168.1.11"):  # released
        pass


def test_no_more_than_three_sign_ins_hold_server_threads():
    with password_checks.one_check("192.168.1.11"):
        done = []
        waiting = [threading.Thread(target=lambda ip=ip: _try(ip, done)) for ip in ("192.168.1.12", "192.168.1.13")]
        for t in waiting:
            t.start()
        wait_until(lambda: len(password_checks._signing_in) == 3, what="two sign-ins waiting for the slot")
        with pytest.raises(password_checks.SignInBusy):  # a fourth is refused without waiting
            with password_checks.one_check("192.168.1.14"):
                pass
    for t in waiting:
        t.join()
    assert sorted(done) == ["192.168.1.12", "192.168.1.13"]


def _try(ip: str, done: list) -> None:
    with password_checks.one_check(ip):
        done.append(ip)


def test_the_checker_rests_after_a_wrong_password_only(monkeypatch):
    monkeypatch.setattr(password_checks, "REST_FACTOR", 2.0)
    monkeypatch.setattr(password_checks, "_rest_until", 0.0)
    assert password_checks._paced(lambda: True) and password_checks._rest_until == 0.0
    started = time.monotonic()
    assert not password_checks._paced(lambda: time.sleep(0.05) or False)
    rest = password_checks._rest_until - time.monotonic()
    assert 0.08 < rest <= 0.1 + (time.monotonic() - started)


def test_the_check_is_argon2_on_one_thread():
    from argon2 import PasswordHasher

    encoded = PasswordHasher().hash("Window-2026")
    assert password_checks.verify(encoded, "Window-2026") and not password_checks.verify(encoded, "Window-2027")
    assert password_checks.verify(DEMO_PASSWORD_HASH, DEMO_PASSWORD)
    assert not password_checks.verify("$argon2id$v=19$m=65536,t=3,p=4$broken", "x")
    assert password_checks.check(encoded, "Window-2026") and not password_checks.check(None, "Window-2026")


# -- journaled, visible, lifted ------------------------------------------------------------------------

def test_a_throttle_start_and_end_are_journaled(api, state, clock):
    for _ in range(5):
        sign_in(api, "101", "Wrong-2026", peer=GUESSER)
    assert journal(state, "sign_in_throttled") == [
        {"client": GUESSER, "job_no": "101", "failures": 5, "wait_seconds": 60}]
    failed = journal(state, "login_failed")
    assert len(failed) == 5 and failed[0]["client"] == GUESSER and "Wrong" not in json.dumps(failed)
    clock.advance(60)
    assert sign_in(api, "101", peer=GUESSER).status_code == 200
    ended = journal(state, "sign_in_throttle_ended")
    assert [(e["client"], e["job_no"], e["reason"]) for e in ended] == [(GUESSER, "101", "signed_in")]


def test_what_was_typed_as_a_job_number_that_is_no_account_is_never_written_down(api, state, clock):
    """A password typed into the job number's box is not an account's job number: it must not reach the journal
    (published over MQTT to the county) as the actor or the job number, nor the managers' list of throttles."""
    typed = "Window-2026!"
    for _ in range(5):
        assert sign_in(api, typed, "x", peer=GUESSER).status_code == 401
    assert sign_in(api, typed, "x", peer=GUESSER).status_code == 429  # still throttled, under what was typed
    rows = state.db.connection().execute("SELECT actor, data FROM journal WHERE action IN "
                                         "('login_failed', 'sign_in_throttled') ORDER BY seq").fetchall()
    assert len(rows) == 6 and not [r for r in rows if "Window" in r["actor"] + r["data"]]
    assert [json.loads(r["data"])["job_no"] for r in rows] == [None] * 6
    assert journal(state, "sign_in_throttled")[0]["unknown_account"] is True
    assert {e["reason"] for e in journal(state, "login_failed")} == {"unknown"}
    assert not [t for t in throttles.active(state.db.connection(), clock.now()) if t["client"] == GUESSER]
    # nor the throttle's own table: its counter is kept under a keyed hash, which no job number can be
    kept = [r["job_no"] for r in state.db.connection().execute(
        "SELECT job_no FROM sign_in_throttles WHERE client = ? AND job_no != ''", (GUESSER,))]
    assert len(kept) == 1 and kept[0].startswith("?") and len(kept[0]) == 33 and "Window" not in kept[0]
    assert sign_in(api, "Window-2027!", "x", peer=GUESSER).status_code == 401  # another typing: a counter of its own
    for _ in range(5):  # an account's own job number is still named, as before
        sign_in(api, "101", "Wrong-2026", peer=GUESSER)
    assert journal(state, "login_failed")[-1]["job_no"] == "101"
    assert journal(state, "sign_in_throttled")[-1]["job_no"] == "101"
    assert [t["job_no"] for t in throttles.active(state.db.connection(), clock.now()) if t["client"] == GUESSER] == ["101"]


def test_a_quiet_day_ends_a_throttle_in_the_housekeeping(api, state, clock):
    for n in range(20):
        sign_in(api, f"7{n:02d}", "Wrong-2026", peer=GUESSER)
    assert journal(state, "sign_in_throttled")[-1]["job_no"] is None  # the client's counter over every account
    clock.advance(23 * 3600)
    with state.service.transaction(SYSTEM) as tx:
        assert throttles.forget_quiet(tx) == 0
    clock.advance(3600 + 1)
    with state.service.transaction(SYSTEM) as tx:
        assert throttles.forget_quiet(tx) == 1
    assert journal(state, "sign_in_throttle_ended")[-1]["reason"] == "quiet"
    assert throttles.active(state.db.connection(), state.hall.now()) == []
    assert state.db.connection().execute("SELECT COUNT(*) FROM sign_in_throttles").fetchone()[0] == 0


def test_managers_see_throttles_and_lift_a_clerks_administrators_any(api, state, admin):
    for _ in range(5):
        sign_in(api, "101", "Wrong-2026", peer=GUESSER)
        sign_in(api, "900", "Wrong-2026", peer=GUESSER)
    listed = api.ok("get", "/sign-in/throttles", as_="900")
    assert {(t["client"], t["job_no"], t["refusing"]) for t in listed} == {(GUESSER, "101", True),
                                                                             (GUESSER, "900", True)}
    r = api.post("/sign-in/throttles/lift", {"client": GUESSER, "job_no": "900"}, as_="900")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "admin_only"
    api.ok("post", "/sign-in/throttles/lift", {"client": GUESSER, "job_no": "101"}, as_="900")
    assert sign_in(api, "101", peer=GUESSER).status_code == 200
    api.ok("post", "/sign-in/throttles/lift", {"client": GUESSER, "job_no": "900"}, as_=admin)
    assert api.ok("get", "/sign-in/throttles", as_=admin) == []
    r = api.post("/sign-in/throttles/lift", {"client": GUESSER, "job_no": "900"}, as_=admin)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_throttle"
    lifted = [e for e in journal(state, "sign_in_throttle_ended") if e["reason"] == "lifted"]
    assert [e["job_no"] for e in lifted] == ["101", "900"]


def test_the_accounts_page_lists_throttles_with_a_button(app, api):
    from tests.web.test_roles import Browser

    for _ in range(5):
        sign_in(api, "101", "Wrong-2026", peer=GUESSER)
    page = Browser(app, "900").client.get("/manager/accounts").text
    assert "登录限速" in page and GUESSER in page and 'data-lift-client="192.168.66.6"' in page
