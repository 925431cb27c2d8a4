"""Names with rare characters (生僻字) through the API (issue 12, item 6): booked, filed, stored as given,
masked by characters (never by UTF-16 units or bytes), shown whole to the back office, and staff names too.

Real examples: 𪚥 U+2A6A5 and 𠇔 U+201D4 (Ext B), 𬌗 U+2C317 (Ext E), 䶮 U+4DAE (Ext A), 𰻞 U+30EDE (Ext G, biáng).
"""

import pytest

from hallq.testing import TINY
from tests.conftest import CITY, Api, make_id

NAMES = [  # (name, mask)
    ("𪚥小明", "𪚥*明"),
    ("𠇔明", "𠇔*"),
    ("王𬌗", "王*"),
    ("刘䶮", "刘*"),
    ("𰻞丽华", "𰻞*华"),
    ("欧阳𪚥𠇔", "欧**𠇔"),
    ("葛\U000e0100小明", "葛\U000e0100*明"),   # an ideographic variation selector stays on its character
]

SERVICES = """
[[items]]
code = "T-ALPHA-1"
business = "alpha"
name = { zh-Hans = "甲事项", zh-Hant = "甲事項", en = "Alpha item" }
appointment = true
"""


@pytest.fixture
def tiny(tmp_path, clock):
    """The tiny hall with a bookable item and staff 101 named with an Ext B character."""
    from queue_server.app import create_app

    cfg = tmp_path / "hall"
    cfg.mkdir()
    text = TINY.read_text(encoding="utf-8").replace('name = "张小三"', 'name = "𠇔小三"', 1)
    (cfg / "hall.toml").write_text(text + "\n[appointments]\ncapacity = 20\n", encoding="utf-8")
    (cfg / "services.toml").write_text(SERVICES, encoding="utf-8")
    app = create_app(cfg / "hall.toml", data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield Api(app.test_client()), app.extensions["hallq"]
    app.extensions["hallq"].close()


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    app = create_app(CITY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield Api(app.test_client()), app.extensions["hallq"]
    app.extensions["hallq"].close()


def test_appointments_are_booked_stored_and_masked_by_characters(tiny):
    api, st = tiny
    for seq, (name, mask) in enumerate(NAMES, 1):
        r = api.post("/appointments", {"item": "T-ALPHA-1", "date": "2026-11-24", "start": "09:00", "name": name,
                                       "id_number": make_id(seq=seq), "phone": "13812345678"}, as_="kiosk")
        assert r.status_code == 201, (name, r.get_json())
        a = r.get_json()
        assert a["name_masked"] == mask, name
        assert name not in r.get_data(as_text=True)                        # the kiosk sees the mask only
        assert api.ok("get", f"/appointments/{a['code']}", as_="101")["name"] == mask   # the back office: masked
        assert api.ok("get", f"/appointments/{a['code']}/applicant-name", as_="900")["name"] == name  # on request
        stored = st.db.connection().execute("SELECT name, name_masked FROM appointments WHERE code = ?",
                                            (a["code"],)).fetchone()
        assert tuple(stored) == (name, mask)                               # stored as given, compared as Unicode


@pytest.mark.parametrize("bad", ["𪚥", "1𪚥", "\ue000\ue001", "䷀䷁", "𪚥\U000e0100"[1:] + "明"])
def test_what_is_still_not_a_name(tiny, bad):
    # one character, digits, private-use code points (an old reader's own encoding), Yijing hexagrams (not
    # ideographs), a variation selector with no character before it
    api, st = tiny
    r = api.post("/appointments", {"item": "T-ALPHA-1", "date": "2026-11-24", "start": "09:00", "name": bad,
                                   "id_number": make_id(seq=99), "phone": "13812345678"}, as_="kiosk")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_name", bad
    assert st.db.connection().execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 0


def test_forty_rare_characters_are_a_name_of_forty(tiny):
    api, _ = tiny   # forty code points, eighty UTF-16 units, 160 UTF-8 bytes: the limit counts characters
    r = api.post("/appointments", {"item": "T-ALPHA-1", "date": "2026-11-24", "start": "09:00", "name": "𪚥" * 40,
                                   "id_number": make_id(seq=98), "phone": "13812345678"}, as_="kiosk")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["name_masked"] == "𪚥" + "*" * 38 + "𪚥"
    r = api.post("/appointments", {"item": "T-ALPHA-1", "date": "2026-11-25", "start": "09:00", "name": "𪚥" * 41,
                                   "id_number": make_id(seq=97), "phone": "13812345678"}, as_="kiosk")
    assert r.status_code == 400 and r.get_json()["error"]["fields"][0]["field"] == "name"   # the schema's limit


def test_an_application_is_filed_under_a_rare_name(city):
    api, st = city
    body = {"item": "520200-RS-GG-0002",
            "applicant": {"name": "𪚥小明", "id_number": make_id(seq=7), "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"},
            "materials": [0, 1, 2], "delivery": "mail", "address": "贵州省六盘水市钟山区明湖路428号"}
    r = api.post("/applications", body, as_="kiosk")
    assert r.status_code == 201, r.get_json()
    app = r.get_json()
    assert app["applicant"]["name"] == "𪚥*明" and "𪚥小明" not in r.get_data(as_text=True)
    staff = api.ok("get", f"/applications/{app['tracking_no']}", as_="1001")
    assert staff["applicant"]["name"] == "𪚥*明" and staff["mail_to"]["recipient"] == "𪚥*明"
    full = api.ok("get", f"/applications/{app['tracking_no']}/applicant-name", as_="2001")  # on request, journaled
    assert full["name"] == "𪚥小明" and full["mail_to"]["recipient"] == "𪚥小明"


def test_staff_names_from_the_config_and_the_accounts_api(tiny):
    api, _ = tiny
    accounts = {a["job_no"]: a for a in api.ok("get", "/accounts", as_="900")}
    assert accounts["101"]["name"] == "𠇔小三" and accounts["101"]["name_masked"] == "𠇔*三"
    api.ok("post", "/accounts", {"job_no": "130", "name": "𰻞丽华", "role": "staff", "password": "Hallq-Rare-2026!x"},
           as_="900", status=201)
    accounts = {a["job_no"]: a for a in api.ok("get", "/accounts", as_="900")}
    assert accounts["130"]["name"] == "𰻞丽华" and accounts["130"]["name_masked"] == "𰻞*华"
