import shutil

import pytest

from hallq.hallconfig import ConfigError, load_hall
from tests.conftest import CITY, ROOT, TINY


def test_sample_city_hall_matches_seed_004():
    cfg = load_hall(CITY)
    kinds = [w.kind for w in cfg.windows.values()]
    # 18 acceptance-side windows (3+3+6 comprehensive, 3 dedicated, 3 tidal) + 2 result delivery windows
    assert kinds.count("acceptance") == 12 and kinds.count("dedicated") == 3
    assert kinds.count("tidal") == 3 and kinds.count("delivery") == 2
    assert {b.prefix for b in cfg.businesses.values()} == set("ABCDE")
    assert len(cfg.items) >= 20
    assert all({"conditions", "materials", "statutory_days", "promised_days", "fee", "basis", "online"}
               <= set(i.guide) for i in cfg.items.values())
    assert [str(p) for p in cfg.hours.workdays] == ["09:00-12:00", "13:00-17:00"]


def test_sample_village_station_is_small():
    cfg = load_hall(ROOT / "config" / "village-station" / "hall.toml")
    assert cfg.level == "village" and len(cfg.windows) <= 2 and len(cfg.businesses) == 1


@pytest.fixture
def hall_copy(tmp_path):
    for f in ("hall.toml", "services.toml"):
        shutil.copy(TINY.parent / f, tmp_path / f)
    return tmp_path / "hall.toml"


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def problems(path):
    with pytest.raises(ConfigError) as e:
        load_hall(path)
    return str(e.value)


def test_unknown_business_in_allocation_names_file_key_and_fix(hall_copy):
    edit(hall_copy, 'serves = ["beta", "alpha"]', 'serves = ["beta", "alhpa"]')
    msg = problems(hall_copy)
    assert "hall.toml: windows[number=2].serves[1]: unknown business \"alhpa\"" in msg
    assert 'did you mean "alpha"' in msg and "known: alpha, beta" in msg


def test_duplicate_prefix(hall_copy):
    edit(hall_copy, 'prefix = "B"', 'prefix = "A"')
    assert 'businesses[code=beta].prefix: duplicate prefix "A" (already used by business "alpha")' in problems(hall_copy)


def test_overlapping_hours(hall_copy):
    edit(hall_copy, 'workdays = ["09:00-12:00", "13:00-17:00"]', 'workdays = ["09:00-12:00", "11:30-17:00"]')
    assert "hours.workdays: periods 09:00-12:00 and 11:30-17:00 overlap" in problems(hall_copy)


def test_malformed_period_and_wrong_type_and_unknown_key(hall_copy):
    edit(hall_copy, '"13:00-17:00"]', '"13:00-1700"]')
    assert "hours.workdays[1]" in problems(hall_copy)
    edit(hall_copy, "daily_limit = 5", 'daily_limit = "five"')
    msg = problems(hall_copy)
    assert "businesses[0].daily_limit: must be an integer" in msg
    edit(hall_copy, "[queue]", "[queue]\nno_show_grace = 5")
    assert "queue.no_show_grace: is not a known field" in problems(hall_copy)


def test_item_of_unknown_business_is_reported_in_the_services_file(hall_copy):
    edit(hall_copy.parent / "services.toml", 'business = "beta"', 'business = "gamma"')
    msg = problems(hall_copy)
    assert "services.toml: items[code=T-BETA-1].business: unknown business \"gamma\"" in msg


def test_promised_longer_than_statutory(hall_copy):
    edit(hall_copy.parent / "services.toml", "promised_days = 3", "promised_days = 30")
    assert "promised 30 working days exceeds the statutory 10" in problems(hall_copy)


def test_bad_toml_and_missing_file(hall_copy, tmp_path):
    hall_copy.write_text("[hall\nsite=")
    assert "not valid TOML" in problems(hall_copy)
    assert "file not found" in problems(tmp_path / "nope.toml")


def test_several_mistakes_are_reported_together(hall_copy):
    edit(hall_copy, 'serves = ["alpha"]', 'serves = ["x"]')
    edit(hall_copy, 'prefix = "B"', 'prefix = "A"')
    with pytest.raises(ConfigError) as e:
        load_hall(hall_copy)
    assert len(e.value.problems) == 2


def test_env_overrides_broker_url(hall_copy, monkeypatch):
    monkeypatch.setenv("HALLQ_MQTT_URL", "mqtt://broker.lan:1883")
    assert load_hall(hall_copy).mqtt.effective_url == "mqtt://broker.lan:1883"


def test_content_hash_changes_with_services_file(hall_copy):
    before = load_hall(hall_copy).content_hash
    edit(hall_copy.parent / "services.toml", "甲事项", "甲事项（新）")
    assert load_hall(hall_copy).content_hash != before
