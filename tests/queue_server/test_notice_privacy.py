"""A notice and a window's pause reason reach every board, the retained MQTT topics and the public API: a full ID
number typed into one went everywhere as typed ("请身份证号520201198506151232的张三到服务台"), and a NUL cut a notice
short on the boards' ticker (the API refuses a NUL; a BEL, a line break, a tab or a bidi override passed and were
published as typed). Both are now stored one line with ID numbers masked, in every language (docs/privacy.md):
a notice keeps a mobile number (a hotline it gives on purpose: hallq.privacy.scrub_ids); a pause reason, typed by a
clerk about a resident, has mobile numbers masked too (scrub_text, as ratings and applications)."""

from __future__ import annotations

from hallq.privacy import mask_id_number
from tests.conftest import MqttCollector, make_id

SITE = "tiny"


def test_a_notice_is_stored_one_line_with_id_numbers_masked_in_every_language_and_a_hotline_kept(api):
    full = make_id()
    said = {"zh-Hans": f"请身份证号{full}的张三到服务台，\x07值班手机13812345678",
            "zh-Hant": f"請身份證號{full}的張三到服務台\n謝謝",
            "en": f"ID {full[:6]} {full[6:14]} {full[14:]}, please come to the desk\t\u202e"}
    made = api.ok("post", "/notices", {"text": said, "level": "urgent"}, as_="900", status=201)
    shown, = api.ok("get", "/notices")["notices"]
    assert shown["id"] == made["id"]
    masked = mask_id_number(full)
    assert shown["text"] == {"zh-Hans": f"请身份证号{masked}的张三到服务台，值班手机13812345678",
                             "zh-Hant": f"請身份證號{masked}的張三到服務台 謝謝",
                             "en": f"ID {masked}, please come to the desk"}
    assert full not in str(api.ok("get", "/notices")) and full[6:14] not in str(shown)


def test_a_pause_reason_is_one_line_with_an_id_number_masked(api):
    full = make_id(seq=456)
    api.open_window(1, "101")
    done = api.act(1, "pause", "101", {"reason": f"帮{full}\n查询材料"})
    assert done["window"]["pause_reason"] == f"帮{mask_id_number(full)} 查询材料"
    window = api.ok("get", "/windows/1")
    assert window["state"] == "paused" and window["pause_reason"] == f"帮{mask_id_number(full)} 查询材料"


def test_a_pause_reason_of_control_characters_only_is_refused(api):
    api.open_window(1, "101")
    r = api.post("/windows/1/pause", {"reason": "\x07\n\t\u202e"}, as_="101")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "invalid_fields" and err["fields"] == [{"field": "reason", "problem": "must not be empty"}]
    assert api.ok("get", "/windows/1")["state"] == "open"


def test_no_full_id_number_on_the_notices_or_windows_topics(mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url)
    sub = MqttCollector(mosquitto.url, f"hallq/{SITE}/#")
    try:
        full, other = make_id(), make_id(seq=789)
        manager = server.client()
        manager.login("900", "hallq-demo")
        manager.post("/notices", {"text": {"zh-Hans": f"请身份证号{full}的张三到服务台"}, "level": "urgent"})
        clerk = server.client()
        clerk.login("101", "hallq-demo")
        clerk.window_action(1, "sign-in")
        clerk.window_action(1, "pause", {"reason": f"核验{other}"})
        _, notices = sub.wait_for(lambda t, p: t == f"hallq/{SITE}/notices" and p["notices"])
        assert notices["notices"][0]["text"]["zh-Hans"] == f"请身份证号{mask_id_number(full)}的张三到服务台"
        _, window = sub.wait_for(lambda t, p: t == f"hallq/{SITE}/windows/1" and p["state"] == "paused")
        assert window["pause_reason"] == f"核验{mask_id_number(other)}"
        everything = "\n".join(f"{t} {p}" for t, p, _, _ in sub.messages)
        for secret in (full, other, full[6:14], other[6:14]):
            assert secret not in everything
    finally:
        sub.close()


def test_the_upgrade_cleans_the_notices_stored_before(tmp_path, monkeypatch):
    """Schema 030: a notice saved before texts were cleaned loses its full ID number and control characters."""
    import json as _json

    from queue_server import migrations
    from queue_server.db import Database

    files = migrations.migration_files()
    upto = next(i for i, f in enumerate(files) if f.name.startswith("030_"))
    db = Database(tmp_path / "old.sqlite3")
    try:
        with monkeypatch.context() as m:
            m.setattr(migrations, "migration_files", lambda: files[:upto])
            migrations.migrate(db)
        dirty = {"zh-Hans": "请身份证号520201198506151232的张三到服务台\x00今日", "en": "Mind your belongings"}
        with db.write() as conn:
            conn.execute("INSERT INTO notices (text, level, created_at) VALUES (?, 'info', '2026-11-23T09:00:00+08:00')",
                         (_json.dumps(dirty, ensure_ascii=False),))
        assert migrations.migrate(db) == ["030_notice_texts"]
        text = _json.loads(db.connection().execute("SELECT text FROM notices").fetchone()[0])
        assert "520201198506151232" not in text["zh-Hans"] and "\x00" not in text["zh-Hans"]
        assert text["zh-Hans"].startswith("请身份证号520201") and text["en"] == "Mind your belongings"
    finally:
        db.close()
