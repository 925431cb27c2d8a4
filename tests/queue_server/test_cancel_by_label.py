"""A clerk cancels a resident's waiting number by what is printed on it (代为弃号)."""

import json

from tests.queue_server.test_tickets import count


def test_a_clerk_cancels_a_waiting_number_by_its_label_journaled_with_the_reason(api, state):
    a1 = api.issue("alpha")
    a2 = api.issue("alpha")
    r = api.post("/tickets/cancel", {"ticket": "a001", "reason": "duplicate"}, as_="101")
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["ticket"] == "A001" and out["state"] == "cancelled"
    # the clerk does not hold the slip: no public id, no page (the id rates the service)
    assert "id" not in out and "track_url" not in out and a1["id"] not in json.dumps(out)
    assert api.ok("get", f"/tickets/{a1['id']}")["state"] == "cancelled"
    entry = state.db.connection().execute(
        "SELECT actor, data FROM journal WHERE action = 'cancel' AND ticket = 'A001'").fetchone()
    assert json.loads(entry["data"]) == {"reason": "duplicate"} and "101" in entry["actor"]
    # the queue goes on with the next one
    api.open_window(1, "101")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == a2["ticket"]


def test_only_a_waiting_number_of_today_and_only_staff(api, state):
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    journal_before = count(state, "SELECT COUNT(*) FROM journal")
    r = api.post("/tickets/cancel", {"ticket": "A001", "reason": "left"}, as_="101")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_waiting"
    r = api.post("/tickets/cancel", {"ticket": "A099", "reason": "left"}, as_="101")
    assert r.status_code == 404
    assert count(state, "SELECT COUNT(*) FROM journal") == journal_before
    api.issue("alpha")
    # a kiosk (or anyone without a staff account) cannot cancel someone's number by typing it
    assert api.post("/tickets/cancel", {"ticket": "A002", "reason": "left"}, as_="kiosk").status_code == 403
    assert api.post("/tickets/cancel", {"ticket": "A002", "reason": "left"}).status_code == 401
    for bad in ({"ticket": "A002"}, {"ticket": "A002", "reason": "because"}, {"ticket": "<b>", "reason": "left"},
                {"reason": "left"}):
        r = api.post("/tickets/cancel", bad, as_="101")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_fields", bad
    assert api.ok("get", "/windows/1", as_="101")  # nothing moved
    assert count(state, "SELECT COUNT(*) FROM tickets WHERE state = 'waiting'") == 1


def test_a_retry_with_the_same_key_is_answered_not_repeated(api):
    api.issue("alpha")
    body = {"ticket": "A001", "reason": "left"}
    first = api.post("/tickets/cancel", body, as_="101", headers={"Idempotency-Key": "k-cancel-1"})
    again = api.post("/tickets/cancel", body, as_="101", headers={"Idempotency-Key": "k-cancel-1"})
    assert first.status_code == again.status_code == 200
    assert again.get_json().get("replayed") is True and again.get_json()["state"] == "cancelled"
