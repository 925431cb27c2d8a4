"""就近办 on the platform: GET /api/v1/nearby on a real PostgreSQL, the halls' state ingested as events.

Four halls of a county around hall "home": "near" (about 5 km, serves alpha and beta, open, people waiting),
"far" (about 20 km, serves alpha, its server offline), "other" (next door but serves only gamma), and "nowhere"
(serves alpha, no coordinates). Events go in through :func:`county.store.apply`, as the ingester stores them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from county import db as cdb
from county import intake, registry, store
from county.app import create_app
from county.config import Ingest, load_county
from county.nearby import distance_km
from hallq import contract

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY = NOW.astimezone(timezone(timedelta(hours=8))).date().isoformat()
SITES = frozenset({"home", "near", "far", "other", "nowhere"})


def event(site: str, seq: int, action: str, minutes_ago: float, ticket: str | None = None, window: int | None = None,
          business: str | None = "alpha", **data):
    e = {"site": site, "seq": seq, "at": (NOW - timedelta(minutes=minutes_ago)).isoformat(), "day": DAY,
         "actor": "staff:1", "action": action, "ticket": ticket, "business": business, "window": window,
         "data": data}
    return intake.live(f"hallq/{site}/journal", contract.encode(contract.JOURNAL, e), SITES, Ingest(), NOW), None


@pytest.fixture
def cfg(county_db, tmp_path):
    halls = {  # site: (coordinates, businesses)
        "home": ("[26.6000, 104.8000]", '["alpha", "beta"]'),
        "near": ("[26.6400, 104.8200]", '["alpha", "beta"]'),  # ~4.9 km
        "far": ("[26.7800, 104.8000]", '["alpha"]'),  # ~20 km
        "other": ("[26.6010, 104.8010]", '["gamma"]'),
        "nowhere": (None, '["alpha"]'),
    }
    text = '[county]\nid = "t"\nname = { zh-Hans = "测试县" }\n[broker]\nurl = "mqtt://127.0.0.1:1"\n'
    for site, (coordinates, businesses) in halls.items():
        (tmp_path / f"{site}.key").write_text(f"county-key-{site}\n")
        text += (f'[[halls]]\nsite = "{site}"\nlevel = "town"\nname = {{ zh-Hans = "{site}镇", en = "{site}" }}\n'
                 f'address = "{site} road 1"\njournal_url = "http://127.0.0.1:1"\n'
                 f'credential = "file:{tmp_path / (site + ".key")}"\nbusinesses = {businesses}\n'
                 + (f"coordinates = {coordinates}\n" if coordinates else ""))
    path = tmp_path / "county.toml"
    path.write_text(text, encoding="utf-8")
    cdb.migrate(county_db)
    c = load_county(path, database_url=county_db)
    with cdb.connect(county_db) as conn:
        registry.sync(conn, c)
    return c


def a_morning(cfg) -> None:
    """near: window 1 open, online; A001 waited 10 min and was called, A002..A004 (alpha) and B001 (beta) wait.
    far: online then offline, one alpha ticket waiting. nowhere: two alpha tickets waiting, online, no window."""
    with cdb.connect(cfg.database_url) as conn:
        store.apply(conn, [
            event("near", 1, "open_window", 60, window=1, business=None),
            event("near", 2, "issue", 40, "A001", item="x"),
            event("near", 3, "call", 30, "A001", window=1, call_seq=1, recalls=0),
            event("near", 4, "issue", 25, "A002", item="x"),
            event("near", 5, "issue", 20, "A003", item="x"),
            event("near", 6, "issue", 5, "A004", item="x"),
            event("near", 7, "issue", 5, "B001", business="beta", item="y"),
            event("far", 1, "open_window", 60, window=1, business=None),
            event("far", 2, "issue", 10, "A001", item="x"),
            event("nowhere", 1, "issue", 10, "A001", item="x"),
            event("nowhere", 2, "issue", 8, "A002", item="x"),
        ])
        for site in ("near", "far", "nowhere"):
            store.hall_heard(conn, site, "online")
        store.hall_heard(conn, "far", "offline")
        conn.commit()


def ask(client, site: str, business: str, key: str | None = None, **args):
    headers = {"Authorization": f"Bearer {key if key is not None else 'county-key-' + site}"}
    query = "&".join([f"site={site}", f"business={business}", *(f"{k}={v}" for k, v in args.items())])
    return client.get(f"/api/v1/nearby?{query}", headers=headers)


def test_nearby_halls_serving_the_business_nearest_first_with_their_waits(cfg):
    a_morning(cfg)
    client = create_app(cfg, ingest=False).test_client()
    r = ask(client, "home", "alpha,beta")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    alpha = body["businesses"]["alpha"]
    assert [h["site"] for h in alpha] == ["near", "far", "nowhere"]  # nearest first; no coordinates last
    near, far, nowhere = alpha
    assert near["name"] == {"zh-Hans": "near镇", "en": "near"} and near["level"] == "town"
    assert near["address"] == "near road 1"
    assert (near["waiting"], near["est_wait_minutes"], near["open_now"]) == (3, 10, True)
    # A002 was issued 25 min ago by the hall's clock, which its latest event (5 min ago) shows 5 min behind
    assert 19 <= near["longest_wait_minutes"] <= 21
    assert near["distance_km"] == round(distance_km(26.6, 104.8, 26.64, 104.82), 1) and 4 < near["distance_km"] < 6
    # far: its server said offline; one waits, no one called yet today: no estimate
    assert (far["waiting"], far["est_wait_minutes"], far["open_now"]) == (1, None, False)
    assert 19 < far["distance_km"] < 21
    # nowhere: online but no window open; no coordinates, so no distance
    assert (nowhere["waiting"], nowhere["open_now"], nowhere["distance_km"]) == (2, False, None)
    # beta: only near serves it; its one beta ticket; no one called for beta today yet
    assert [(h["site"], h["waiting"], h["est_wait_minutes"]) for h in body["businesses"]["beta"]] == \
        [("near", 1, None)]
    # a business no other hall serves: an empty list; limit keeps the nearest
    gamma = ask(client, "home", "gamma").get_json()["businesses"]["gamma"]
    assert [h["site"] for h in gamma] == ["other"] and gamma[0]["distance_km"] < 0.2
    assert ask(client, "near", "delta").get_json()["businesses"] == {"delta": []}
    assert [h["site"] for h in ask(client, "home", "alpha", limit=1).get_json()["businesses"]["alpha"]] == ["near"]
    # seen from near, home is not listed (it serves alpha but has no state) and near itself never is
    from_near = [h["site"] for h in ask(client, "near", "alpha").get_json()["businesses"]["alpha"]]
    assert from_near[:2] == ["home", "far"] and "near" not in from_near
    home = ask(client, "near", "alpha").get_json()["businesses"]["alpha"][0]
    assert (home["waiting"], home["est_wait_minutes"], home["open_now"]) == (0, 0, False)


def test_only_the_halls_own_county_key_may_ask_never_anonymous(cfg):
    client = create_app(cfg, ingest=False).test_client()
    assert client.get("/api/v1/nearby?site=home&business=alpha").status_code == 401  # no key
    assert ask(client, "home", "alpha", key="county-key-near").status_code == 401  # another hall's key
    assert ask(client, "home", "alpha", key="wrong").status_code == 401
    assert ask(client, "ghost", "alpha", key="county-key-ghost").status_code == 401  # not a hall of the county
    assert ask(client, "home", "alpha").status_code == 200
    # a supervisor's session is not a hall's key
    token = client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
    assert token.status_code == 401
    # the key reaches nothing else on the platform
    assert client.get("/api/v1/halls", headers={"Authorization": "Bearer county-key-home"}).status_code == 401
    for bad in ("", "ALPHA", "a%20b", ",".join(f"b{i}" for i in range(40))):
        assert ask(client, "home", bad).status_code == 400, bad
    assert ask(client, "home", "alpha", limit=0).status_code == 400


def test_two_halls_given_one_key_are_refused_until_each_has_its_own(cfg, tmp_path, caplog):
    """With one key in two halls' credentials, either hall could file and read as the other: neither is served, and the
    log says why and what to do."""
    (tmp_path / "near.key").write_text("county-key-home\n")
    client = create_app(cfg, ingest=False).test_client()
    assert ask(client, "home", "alpha").status_code == 401
    assert ask(client, "near", "alpha", key="county-key-home").status_code == 401
    assert "also hall(s) near's" in caplog.text and "give each hall its own key" in caplog.text
    assert ask(client, "far", "alpha").status_code == 200  # the others are served
