"""The kiosk's pieces that need no server: idle timeout and wipe, press keys, scans, config, validation."""

from __future__ import annotations

import pytest

from hallq.hallconfig import ConfigError
from kiosk.api import PressKey
from kiosk.config import load_kiosk
from kiosk.presenters.take_number import TakeNumber
from kiosk.scans import Scan, normalise_code, normalise_tracking, parse_scan
from kiosk.texts import keys, tr
from kiosk.validation import check_form_field, check_id_number, check_name, check_phone
from tests.conftest import make_id
from tests.kiosk.conftest import make_session
from hallq.testing import ROOT


def test_idle_timeout_warns_then_wipes_what_was_typed():
    now = [0.0]
    s = make_session("http://127.0.0.1:9", clock=lambda: now[0], idle_timeout_seconds=60, idle_warning_seconds=15)
    flow = TakeNumber(s)
    flow.business = {"code": "social", "ticket_requires": "id", "items": []}
    flow._after_item()
    flow.handle("action", "type_id")
    flow.handle("submit", "52020119850615")
    assert flow.identity.typed["type_id"] == "52020119850615"
    s.set_lang("en")
    s.elderly = True
    now[0] += 44
    assert s.idle_state() == "active"
    now[0] += 2
    assert s.idle_state() == "warning"
    now[0] += 14
    assert s.idle_state() == "expired"
    s.wipe()
    assert flow.identity is None and flow.step == "business" and flow.business is None
    assert (s.lang, s.elderly, s.idle_state()) == ("zh-Hans", False, "active")
    s.devices.close()


def test_press_key_is_kept_for_the_same_request_and_renewed_for_another():
    press = PressKey()
    a = press.for_body({"business": "social"})
    assert press.for_body({"business": "social"}) == a
    assert press.for_body({"business": "commerce"}) != a
    b = press.for_body({"business": "commerce"})
    press.done()
    assert press.for_body({"business": "commerce"}) != b


def test_a_press_left_unanswered_keeps_its_key_for_the_same_request_until_the_visit_is_forgotten():
    press = PressKey()
    a = press.for_body({"business": "construction"})
    press.leave()                        # 返回 while it was being retried: the server may have issued the number
    assert not press.pending and press.held
    assert press.for_body({"business": "social"}) != a
    assert press.for_body({"business": "construction"}) == a       # the same request again: the same key
    press.done()                         # answered: nothing held any more
    assert not press.held and press.for_body({"business": "construction"}) != a
    b = press.for_body({"business": "commerce"})
    press.leave()
    press.forget()                       # the idle wipe: nothing of the visit for the next resident
    assert not press.held and press.for_body({"business": "commerce"}) != b


@pytest.mark.parametrize("text, expected", [
    ("HALLQ-APPT:k7q2m9xp", Scan("appointment", "K7Q2M9XP")),
    ("K7Q2-M9XP", Scan("appointment", "K7Q2M9XP")),
    ("http://127.0.0.1:8080/t/4agpv5JkRhlcMETj", Scan("ticket", "4agpv5JkRhlcMETj")),
    ("SQ20261123-K7Q2M9XP", Scan("application", "SQ20261123-K7Q2M9XP")),
    ("sq20261123k7q2m9xp", Scan("application", "SQ20261123-K7Q2M9XP")),
    ("https://pay.example.com/qr/123", None),
    ("6901234567892", None),
    ("HALLQ-APPT:K7Q2M9X0", None),          # 0 is not in the booking alphabet
    ("http://[x", None),                     # not a URL at all (an unclosed IPv6 host): urlsplit raises
    ("https://[::1/t/4agpv5JkRhlcMETj", None),
])
def test_scans(text, expected):
    assert parse_scan(text) == expected


def test_normalisers():
    assert normalise_code(" k7q2 m9xp ") == "K7Q2M9XP" and normalise_code("K7Q2M9X") is None
    assert normalise_tracking("SQ20261123-K7Q2M9XP") == "SQ20261123-K7Q2M9XP"


def test_every_text_in_three_languages_and_formats():
    import string

    from hallq import i18n
    from kiosk.texts import PREFIX

    for key in keys():
        for lang in ("zh-Hans", "zh-Hant", "en"):
            # every field the message names, in every language, is filled: a field one language names and the
            # others do not, or a malformed brace, fails here
            raw = i18n.catalogue(lang).get(PREFIX + key) or i18n.catalogue("zh-Hans")[PREFIX + key]
            fields = {f for _, f, _, _ in string.Formatter().parse(raw) if f}
            assert tr(key, lang, **{f: 1 for f in fields}).strip()
    assert tr("take.ahead", "zh-Hant", n=3) == "前面還有 3 人"


def test_validation_sentences():
    assert check_id_number(make_id(), "zh-Hans")[0] == make_id()
    bad = make_id()[:-1] + ("1" if make_id()[-1] != "1" else "2")
    assert check_id_number(bad, "en")[1] == "The ID number is wrong: the check digit does not match; please check the number"
    assert check_phone("138 1234 5678", "zh-Hans")[0] == "13812345678"
    assert "11 位" in check_phone("12345", "zh-Hans")[1]
    assert check_name("阿依古丽·买买提", "zh-Hans")[0] == "阿依古丽·买买提"
    assert check_name("张3", "zh-Hans")[1]
    # variation selectors (a rare character's chosen glyph) are part of the name, counted with their character
    for name in ("葛\U000e0100优", "邉\ufe00子", "𪚥\U000e0101明", "阿依古丽\U000e0100·买买提"):
        assert check_name(name, "zh-Hans") == (name, ""), name
    assert check_name("葛\U000e0100", "zh-Hans")[1]  # one character with its selector: too short for a name
    assert check_name("\U000e0100葛", "zh-Hans")[1]  # a selector on nothing is not a name
    assert check_name("张\ufe00" * 40, "zh-Hans")[0] is not None  # 40 characters in 80 code points: not too long
    assert check_name("张\ufe00" * 41, "zh-Hans")[1]  # 41: too long
    from hallq.privacy import mask_name
    assert mask_name("葛\U000e0100优明") == "葛\U000e0100*明" and mask_name("邉\ufe00子") == "邉\ufe00*"  # one each
    # another person's name on a form (新生儿, 母亲...): typed and checked as the applicant's name is
    baby = {"key": "child_name", "type": "person_name", "required": True, "max_len": 40,
            "label": {"zh-Hans": "新生儿姓名", "zh-Hant": "新生兒姓名", "en": "Baby's name"}}
    assert check_form_field(baby, "欧阳安然", "zh-Hans") == ("欧阳安然", "")
    assert check_form_field(baby, "宝宝1号", "zh-Hans")[1] == check_name("宝宝1号", "zh-Hans")[1] != ""
    assert check_form_field(baby, "𪚥\U000e0100明", "zh-Hans")[0] == "𪚥\U000e0100明"
    from kiosk.presenters.forms import PERSON_FIELDS, FormState
    applicant_kind = FormState(PERSON_FIELDS).fields("zh-Hans")[0].kind
    assert FormState([baby]).fields("zh-Hans")[0].kind == applicant_kind == "name"  # the same keyboard
    spec = {"key": "capital", "type": "number", "min": 0, "max": 100, "required": True,
            "label": {"zh-Hans": "资金", "zh-Hant": "資金", "en": "Capital"}}
    assert check_form_field(spec, "150", "zh-Hans")[1] == "“资金”应在 0 到 100 之间"
    assert check_form_field(spec, "", "en")[1] == "\"Capital\" is required"
    assert check_form_field(spec, "abc", "zh-Hant")[1] == "「資金」應為數字"


def test_sample_kiosk_configs_load():
    city = load_kiosk("config/city-hall/kiosk.toml")
    village = load_kiosk("config/village-station/kiosk.toml")
    assert city.size == (1080, 1920) and village.size == (1920, 1080)
    assert village.elderly_mode and village.idle_timeout_seconds > city.idle_timeout_seconds
    assert village.scanner.driver == "none" and city.printer.options["paper_mm"] == 80
    assert city.text_input == village.text_input == "onscreen"     # no physical keyboard: the pinyin keyboard


def test_kiosk_config_errors_are_listed_with_their_keys(tmp_path):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[kiosk]\nid = "Kiosk 1"\nserver_url = "ftp://x"\nlayout = "square"\ntext_input = "keyboard"\n'
                   'idle_timeout_seconds = 20\nidle_warning_seconds = 30\n[printer]\ndriver = "laser"\n', "utf-8")
    with pytest.raises(ConfigError) as e:
        load_kiosk(bad)
    text = str(e.value)
    for key in ("kiosk.id", "kiosk.server_url", "kiosk.layout", "kiosk.text_input", "printer.driver"):
        assert key in text
    ok = tmp_path / "ok.toml"
    ok.write_text('[kiosk]\nid = "k1"\nserver_url = "http://h:1"\nidle_timeout_seconds = 20\n'
                  'idle_warning_seconds = 30\n[printer]\ndriver = "none"\n', "utf-8")
    with pytest.raises(ConfigError) as e:
        load_kiosk(ok)
    assert "kiosk.device_key" in str(e.value) and "must be shorter than idle_timeout_seconds" in str(e.value)


def test_automatic_retries_do_not_keep_an_abandoned_screen_alive():
    now = [0.0]
    s = make_session("http://127.0.0.1:9", clock=lambda: now[0], idle_timeout_seconds=60, idle_warning_seconds=15)
    flow = TakeNumber(s)
    flow.start()                     # the server is unreachable: a retry is pending
    assert flow.view().retry_in == 1.0
    for _ in range(3):
        now[0] += 25
        flow.handle("retry")
    assert flow.view().retry_in == 1.0           # still retrying (nothing is given up silently)...
    assert s.idle_state() == "expired"           # ...but the screen goes home for the next resident
    s.devices.close()


def test_screens_offer_only_the_ways_this_kiosk_has():
    from kiosk.presenters.after_service import Requeue
    from kiosk.presenters.checkin import CheckIn
    from kiosk.presenters.progress import Progress

    s = make_session("http://127.0.0.1:9")
    s.devices.scanner = None                      # the village station: a reader, no scanner
    checkin, progress, requeue = CheckIn(s), Progress(s), Requeue(s)
    assert checkin.view().listens == ("card",) and checkin.view().prompt == "请刷身份证，或输入预约码"
    assert progress.view().prompt == "请刷身份证，或输入受理编号"
    assert requeue.view().listens == () and requeue.view().prompt == "请输入号票上的号码"
    s.devices.reader = None
    assert checkin.view().listens == () and checkin.view().prompt == "请输入预约码"
    s.devices.close()


def test_every_kiosk_config_key_is_documented():
    import re

    from hallq.schema import Obj
    from kiosk.config import KIOSK_FILE

    text = (ROOT / "docs" / "kiosk.md").read_text("utf-8")
    keys = [f"{section}.{k}" if section != "kiosk" else f"kiosk.{k}"
            for section, schema in KIOSK_FILE.fields.items() if isinstance(schema, Obj) for k in schema.fields]
    missing = [k for k in keys if not re.search(rf"`[^`]*\b{re.escape(k.split('.')[-1])}\b[^`]*`", text)]
    assert not missing, f"kiosk.toml keys not in docs/kiosk.md: {missing}"
