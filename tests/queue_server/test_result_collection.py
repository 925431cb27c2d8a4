"""领取结果: a resident whose result is ready scans the receipt at the kiosk, reads the ID card, and gets a number
of the 出件 window's business in the appointment class; the clerk at window 19 calls it like any number and hands
the result over. Refused with the cause: another's card, nothing ready yet, a result being mailed."""

from tests.conftest import make_id
from tests.queue_server.test_packages import MOTHER, city, file, move, review  # noqa: F401 (the fixture)


def collect(api, no, id_number=MOTHER, status=201):
    r = api.post(f"/applications/{no}/collect", {"id_number": id_number}, as_="kiosk")
    assert r.status_code == status, r.get_json()
    return r.get_json() if status == 201 else r.get_json()["error"]


def test_a_ready_package_part_gets_the_resident_called_to_the_delivery_window(city):  # noqa: F811
    api, st = city
    no = file(api)["tracking_no"]
    review(api, no, "accepted")
    assert collect(api, no, status=409)["code"] == "nothing_to_collect"  # nothing ready yet: no number
    move(api, f"{no}-3", "result_ready", decision="approved")
    assert collect(api, no, make_id(seq=77), status=403)["code"] == "not_yours"  # the receipt is no proof
    r = api.post(f"/applications/{no}/collect", {}, as_="kiosk")
    assert r.status_code == 400  # the ID card is required

    walk_in = api.issue("delivery", id_number=make_id(seq=78))  # came earlier to the same window, ordinary
    ticket = collect(api, no)
    assert ticket["business"] == "delivery" and ticket["ticket"].startswith("E")
    assert ticket["class"] == "appointment"  # the hall asked them to come: not behind the walk-ins
    assert ticket["collecting"] == {"tracking_no": no, "ready": 1}
    journal = st.db.connection().execute(
        "SELECT actor, data, ticket FROM journal WHERE action = 'result_collection'").fetchall()
    assert [(r["actor"], r["ticket"]) for r in journal] == [("kiosk:kiosk-1", ticket["ticket"])]
    assert no in journal[0]["data"] and MOTHER not in journal[0]["data"] and "张" not in journal[0]["data"]

    # the clerk at 统一出件 window 19 calls it first; the board says where to go
    api.ok("post", "/windows/19/sign-in", as_="1003")
    called = api.ok("post", "/windows/19/call-next", as_="1003")
    assert called["ticket"]["ticket"] == ticket["ticket"] != walk_in["ticket"]
    board = api.ok("get", "/board")
    assert ticket["ticket"] in str(board) and "19" in str(board)
    # and hands the part over with the identity check
    handed = move(api, f"{no}-3", "delivered", delivery={"method": "onsite", "id_number": MOTHER})
    assert handed["status"] == "delivered"
    assert collect(api, no, status=409)["code"] == "nothing_to_collect"  # that one is in the resident's hands


def test_a_result_being_mailed_gives_no_number(city):  # noqa: F811
    api, _ = city
    no = file(api, delivery="mail", address="贵州省六盘水市钟山区明湖路428号")["tracking_no"]
    review(api, no, "accepted")
    move(api, f"{no}-1", "result_ready", decision="approved")
    assert collect(api, no, status=409)["code"] == "nothing_to_collect"
