"""Guides edited in the browser by the manager (issue 17 item 5): checked as the services file is, kept as
versions, journaled, seen at once by GET /items and announced to kiosks by GET /hall's catalogue; the catalogue
exported and imported as services.toml (queue_server/domain/guides.py)."""

from __future__ import annotations

import json
import tomllib

from hallq.hallconfig import SERVICES_FILE, load_hall
from queue_server.hallsync import apply_config

ALPHA = "T-ALPHA-1"


def entry(api, code: str = ALPHA) -> dict:
    """The item as the page sends it: the [[items]] entry without its code."""
    it = api.ok("get", f"/items/{code}")
    return {"business": it["business"], "name": it["name"], **it["guide"]}


def journal(state, action: str) -> list[dict]:
    with state.db.read() as conn:
        return [{**dict(r), "data": json.loads(r["data"])}
                for r in conn.execute("SELECT * FROM journal WHERE action = ? ORDER BY seq", (action,))]


def test_a_material_edited_is_read_at_once_kept_as_a_version_and_journaled(api, state):
    before = api.ok("get", "/hall")["catalogue"]
    body = entry(api)
    body["materials"] = [{"name": "居民身份证", "form": "原件", "copies": 1, "note": "本人"},
                         {"name": "户口簿", "form": "原件及复印件", "copies": 2}]
    body["fee"] = "不收费"
    saved = api.ok("put", f"/items/{ALPHA}/guide", body, as_="900")
    assert saved == {"item": ALPHA, "version": 2, "changed": ["materials", "fee"]}

    guide = api.ok("get", f"/items/{ALPHA}")["guide"]  # the kiosk's guide read
    assert [m["name"] for m in guide["materials"]] == ["居民身份证", "户口簿"] and guide["fee"] == "不收费"
    listed = next(i for i in api.ok("get", "/items") if i["code"] == ALPHA)
    assert listed["guide"]["materials"][1]["copies"] == 2
    assert api.ok("get", "/hall")["catalogue"] != before  # kiosks that keep the items read them again

    versions = api.ok("get", f"/items/{ALPHA}/versions", as_="900")
    assert [(v["version"], v["source"], v["actor"]) for v in versions] == [(2, "console", "staff:900"),
                                                                          (1, "file", "staff:900")]
    assert "materials" not in versions[1]["item"] and versions[1]["item"]["promised_days"] == 3  # as before
    assert versions[0]["changed"] == ["materials", "fee"]
    [edited] = journal(state, "item_edited")
    assert edited["actor"] == "staff:900" and edited["business"] == "alpha"
    assert edited["data"] == {"item": ALPHA, "version": 2, "changed": ["materials", "fee"]}

    # the same body again changes nothing: no version, no journal entry
    assert api.ok("put", f"/items/{ALPHA}/guide", body, as_="900")["changed"] == []
    assert len(api.ok("get", f"/items/{ALPHA}/versions", as_="900")) == 2 and len(journal(state, "item_edited")) == 1


def test_a_wrong_edit_names_every_field_and_saves_nothing(api, state):
    body = entry(api)
    body.update(promised_days=30, statutory_days=10,
                materials=[{"name": "", "form": "原件", "copies": 0}],
                form=[{"key": "kind", "type": "select", "label": {"zh-Hans": "类别"}}])
    body["business"] = "alpah"
    r = api.put(f"/items/{ALPHA}/guide", body, as_="900")
    assert r.status_code == 422, r.get_json()  # the schema's problems and the config's rules, all at once
    problems = {f["field"]: f["problem"] for f in r.get_json()["error"]["fields"]}
    assert set(problems) == {"materials[0].name", "materials[0].copies", "business", "promised_days",
                             "form[0].options"}, problems
    assert 'did you mean "alpha"' in problems["business"]
    assert "exceeds the statutory 10" in problems["promised_days"]

    assert api.ok("get", f"/items/{ALPHA}")["guide"].get("materials") is None
    assert journal(state, "item_edited") == [] and api.ok("get", f"/items/{ALPHA}/versions", as_="900") == []


def test_only_managers_edit_guides_or_the_catalogue(api):
    body = entry(api)
    assert api.put(f"/items/{ALPHA}/guide", body, as_="101").status_code == 403
    assert api.put(f"/items/{ALPHA}/guide", body, as_="kiosk").status_code == 403
    assert api.put(f"/items/{ALPHA}/guide", body).status_code == 401
    assert api.get("/catalogue.toml", as_="101").status_code == 403
    assert api.get(f"/items/{ALPHA}/versions", as_="101").status_code == 403
    assert api.put("/items/NOPE/guide", body, as_="900").status_code == 404


def _export(api) -> str:
    r = api.get("/catalogue.toml", as_="900")
    assert r.status_code == 200 and r.mimetype == "application/toml"
    return r.get_data(as_text=True)


def _import(api, text: str, apply: bool):
    return api.client.post("/api/v1/catalogue.toml" + ("?apply=1" if apply else ""), data=text.encode(),
                           headers={**api._headers("900", None), "Content-Type": "application/toml"})


def test_the_catalogue_round_trips_as_services_toml(api, state, tmp_path):
    body = entry(api)
    body.update(conditions=['申请人须为本市户籍 "常住" 人口', "多行\n说明"], basis=["《条例》第三条"],
                materials=[{"name": "居民身份证", "form": "原件", "copies": 1, "required": True}],
                form=[{"key": "kind", "type": "select", "label": {"zh-Hans": "类别", "en": "Kind"}, "required": True,
                       "options": [{"value": "a", "label": {"zh-Hans": "甲"}}, {"value": "b", "label": {"en": "B"}}]}])
    api.ok("put", f"/items/{ALPHA}/guide", body, as_="900")
    text = _export(api)
    raw = tomllib.loads(text)
    assert SERVICES_FILE.validate(raw) == []
    exported = next(i for i in raw["items"] if i["code"] == ALPHA)
    assert exported["conditions"] == body["conditions"] and exported["form"] == body["form"]

    # the exported file is a services file the hall loads as it is
    hall = (tmp_path / "hall.toml")
    from hallq.testing import TINY
    hall.write_text(TINY.read_text(encoding="utf-8").replace('"services.toml"', '"exported.toml"'), encoding="utf-8")
    (tmp_path / "exported.toml").write_text(text, encoding="utf-8")
    assert load_hall(hall).items[ALPHA].guide["materials"][0]["name"] == "居民身份证"

    # importing it back changes nothing
    r = _import(api, text, apply=True)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["changes"] == [] and not r.get_json()["applied"]

    # a changed fee and a new item: the dry run says so and writes nothing, then apply does
    changed = text.replace(f'code = "{ALPHA}"', f'code = "{ALPHA}"\nfee = "每份 10 元"') + (
        '\n[[items]]\ncode = "T-NEW-1"\nbusiness = "beta"\nname = { zh-Hans = "新事项" }\npromised_days = 1\n')
    dry = _import(api, changed, apply=False).get_json()
    assert dry["applied"] is False and (dry["added"], dry["updated"]) == (1, 1)
    assert {c["item"]: c["changed"] for c in dry["changes"]}[ALPHA] == ["fee"]
    assert "fee" not in api.ok("get", f"/items/{ALPHA}")["guide"]
    assert journal(state, "catalogue_imported") == []

    done = _import(api, changed, apply=True).get_json()
    assert done["applied"] is True
    assert api.ok("get", f"/items/{ALPHA}")["guide"]["fee"] == "每份 10 元"
    assert api.ok("get", "/items/T-NEW-1")["name"] == {"zh-Hans": "新事项"}
    assert api.ok("get", f"/items/{ALPHA}/versions", as_="900")[0]["source"] == "import"
    [imported] = journal(state, "catalogue_imported")
    assert imported["data"] == {"added": 1, "updated": 1, "items": [ALPHA, "T-NEW-1"]}


def test_a_wrong_file_is_refused_whole_with_every_problem(api):
    text = _export(api)
    assert _import(api, "items = [", apply=True).get_json()["error"]["fields"][0]["field"] == "(file)"
    deep = _import(api, "a = " + "[" * 3000 + "]" * 3000, apply=True)  # Python's TOML parser gives up: not a 500
    assert deep.status_code == 422 and "nested too deeply" in deep.get_json()["error"]["fields"][0]["problem"]
    for empty in ("", "# nothing\n"):  # no body, or a file without items: refused, not a 500
        r = _import(api, empty, apply=True)
        assert r.status_code == 422 and "[[items]]" in r.get_json()["error"]["fields"][0]["problem"]
    bad = text.replace('business = "beta"', 'business = "gamma"') + (
        '\n[[items]]\ncode = "T-ALPHA-1"\nbusiness = "alpha"\nname = { zh-Hans = "重复" }\n')
    r = _import(api, bad, apply=True)
    assert r.status_code == 422
    fields = {f["field"] for f in r.get_json()["error"]["fields"]}
    assert fields == {"items[code=T-BETA-1].business", "items[code=T-ALPHA-1]"}, fields
    assert api.ok("get", "/items/T-BETA-1")["business"] == "beta"


def test_the_services_file_wins_when_it_changes_and_the_edit_is_kept_as_a_version(api, state):
    body = entry(api)
    body["fee"] = "不收费"
    api.ok("put", f"/items/{ALPHA}/guide", body, as_="900")
    assert apply_config(state.db, state.hall, force=True)  # as a start after the services file changed
    assert "fee" not in api.ok("get", f"/items/{ALPHA}")["guide"]
    versions = api.ok("get", f"/items/{ALPHA}/versions", as_="900")
    assert [(v["version"], v["source"]) for v in versions] == [(3, "file"), (2, "console"), (1, "file")]
    assert versions[0]["changed"] == ["fee"] and versions[1]["item"]["fee"] == "不收费"
    assert journal(state, "config_applied")[-1]["data"]["replaced"] == [ALPHA]


def test_check_config_says_which_edited_guides_the_file_would_replace(api, state, tmp_path, capsys):
    from hallq.testing import TINY
    from launcher.cli import main

    assert main(["check-config", str(TINY), "--data-dir", str(tmp_path / "data")]) == 0
    assert "edited in the browser" not in capsys.readouterr().out  # nothing edited yet
    body = entry(api)
    body["fee"] = "不收费"
    api.ok("put", f"/items/{ALPHA}/guide", body, as_="900")
    assert main(["check-config", str(TINY), "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert f"1 service item(s) edited in the browser differ from this file ({ALPHA})" in out
    assert "/manager/guides" in out
