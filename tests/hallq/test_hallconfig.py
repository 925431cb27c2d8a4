import shutil
import subprocess
import sys

import pytest

from hallq.hallconfig import ConfigError, load_hall
from hallq.targets import Targets
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


# -- service-level targets (hallq/targets.py) ------------------------------------------------------

QUEUE_TARGETS = "targets = { green = 10, appointment = 10, ordinary = 40 }\n"
ALPHA_TARGETS = "targets = { green = 8, appointment = 8 }\n"
BETA_TARGETS = "targets = { ordinary = 50 }\n"


def targets(cfg):
    return {code: b.targets.as_dict() for code, b in cfg.businesses.items()}


def test_targets_dispatch_and_run_guard_default_when_the_file_gives_none(hall_copy):
    for line in (QUEUE_TARGETS, 'dispatch = "promises"\n', "max_promises_in_a_row = 2\n", ALPHA_TARGETS, BETA_TARGETS):
        edit(hall_copy, line, "")
    cfg = load_hall(hall_copy)
    assert cfg.queue.targets == Targets() and cfg.queue.targets.as_dict() == {"green": 10, "appointment": 10,
                                                                              "ordinary": 40}
    assert targets(cfg) == {"alpha": cfg.queue.targets.as_dict(), "beta": cfg.queue.targets.as_dict()}
    assert (cfg.queue.dispatch, cfg.queue.max_promises_in_a_row) == ("promises", 2)


def test_a_business_overrides_some_targets_and_takes_the_rest_from_the_hall(hall_copy):
    edit(hall_copy, QUEUE_TARGETS, "targets = { green = 12, appointment = 15, ordinary = 45 }\n")
    edit(hall_copy, 'dispatch = "promises"', 'dispatch = "age_limit"')
    edit(hall_copy, "max_promises_in_a_row = 2", "max_promises_in_a_row = 3")
    cfg = load_hall(hall_copy)
    assert cfg.queue.targets == Targets(12, 15, 45)
    assert targets(cfg) == {"alpha": {"green": 8, "appointment": 8, "ordinary": 45},
                            "beta": {"green": 12, "appointment": 15, "ordinary": 50}}
    assert (cfg.queue.dispatch, cfg.queue.max_promises_in_a_row) == ("age_limit", 3)


def test_a_partial_hall_default_fills_in_from_the_built_in_one(hall_copy):
    edit(hall_copy, QUEUE_TARGETS, "targets = { ordinary = 30 }\n")
    assert load_hall(hall_copy).queue.targets == Targets(10, 10, 30)


def test_age_limit_minutes_is_still_read_as_the_ordinary_target(hall_copy):
    """A hall file written before the targets keeps working, in [queue] and per business."""
    edit(hall_copy, QUEUE_TARGETS, "age_limit_minutes = 30\n")
    edit(hall_copy, BETA_TARGETS, "age_limit_minutes = 55\n")
    cfg = load_hall(hall_copy)
    assert cfg.queue.targets == Targets(10, 10, 30)
    assert targets(cfg) == {"alpha": {"green": 8, "appointment": 8, "ordinary": 30},
                            "beta": {"green": 10, "appointment": 10, "ordinary": 55}}


def test_age_limit_minutes_beside_targets_ordinary_is_refused_in_queue_and_business(hall_copy):
    edit(hall_copy, QUEUE_TARGETS, QUEUE_TARGETS + "age_limit_minutes = 30\n")
    edit(hall_copy, BETA_TARGETS, BETA_TARGETS + "age_limit_minutes = 55\n")
    msg = problems(hall_copy)
    assert "hall.toml: queue.age_limit_minutes: give the ordinary target once: targets.ordinary" in msg
    assert "hall.toml: businesses[code=beta].age_limit_minutes: give the ordinary target once" in msg


def test_age_limit_minutes_beside_other_targets_is_fine(hall_copy):
    edit(hall_copy, ALPHA_TARGETS, ALPHA_TARGETS + "age_limit_minutes = 35\n")
    assert targets(load_hall(hall_copy))["alpha"] == {"green": 8, "appointment": 8, "ordinary": 35}


@pytest.mark.parametrize("value, reason", [(0, "must be at least 1"), (-5, "must be at least 1"),
                                           (481, "must be at most 480")])
def test_a_target_out_of_range_is_a_schema_error_naming_the_key(hall_copy, value, reason):
    edit(hall_copy, QUEUE_TARGETS, f"targets = {{ green = 10, appointment = {value}, ordinary = 40 }}\n")
    edit(hall_copy, BETA_TARGETS, f"targets = {{ ordinary = {value} }}\n")
    msg = problems(hall_copy)
    assert f"hall.toml: queue.targets.appointment: {reason}" in msg
    assert f"hall.toml: businesses[1].targets.ordinary: {reason}" in msg


def test_the_older_name_and_the_run_guard_are_range_checked_too(hall_copy):
    edit(hall_copy, QUEUE_TARGETS, "age_limit_minutes = 0\n")
    edit(hall_copy, "max_promises_in_a_row = 2", "max_promises_in_a_row = 21")
    edit(hall_copy, BETA_TARGETS, "age_limit_minutes = 481\n")
    msg = problems(hall_copy)
    assert "queue.age_limit_minutes: must be at least 1" in msg
    assert "queue.max_promises_in_a_row: must be at most 20" in msg
    assert "businesses[1].age_limit_minutes: must be at most 480" in msg


def test_an_unknown_target_class_is_refused(hall_copy):
    edit(hall_copy, BETA_TARGETS, "targets = { elderly = 5 }\n")
    assert "businesses[1].targets.elderly: is not a known field" in problems(hall_copy)


def test_a_promise_looser_than_the_ordinary_target_is_refused(hall_copy):
    edit(hall_copy, BETA_TARGETS, "targets = { green = 60, ordinary = 50 }\n")
    msg = problems(hall_copy)
    assert ("hall.toml: businesses[code=beta].targets.green: 60 min is looser than the ordinary target (50 min): "
            "a promise must be at least as tight") in msg
    assert "targets.appointment" not in msg


def test_a_promise_taken_from_the_hall_default_says_where_to_change_it(hall_copy):
    edit(hall_copy, QUEUE_TARGETS, "targets = { green = 45, appointment = 10, ordinary = 40 }\n")
    assert targets(load_hall(hall_copy))["beta"]["green"] == 45  # below beta's own ordinary target (50): fine
    edit(hall_copy, BETA_TARGETS, "targets = { ordinary = 44 }\n")
    msg = problems(hall_copy)
    assert "businesses[code=alpha]" not in msg  # alpha's own green (8) stays below the hall's ordinary (40)
    assert ("businesses[code=beta].targets.green: 45 min is looser than the ordinary target (44 min): a promise must "
            "be at least as tight (green = 45 comes from [queue] targets; give this business its own targets.green)"
            ) in msg


def test_a_promise_below_what_any_allocation_can_keep_is_refused_with_the_windows(hall_copy):
    # alpha: 30-minute services, 3 windows in the hall: a window comes free every 10 minutes, 20 at least
    edit(hall_copy, 'ticket_requires = "none"', 'ticket_requires = "none"\nservice_minutes = 30')
    edit(hall_copy, ALPHA_TARGETS, "targets = { green = 19, appointment = 20 }\n")
    msg = problems(hall_copy)
    assert ("hall.toml: businesses[code=alpha].targets.green: 19 min cannot be kept by any allocation: even with all "
            "3 windows on this business (30 min a service) it needs at least 20 min") in msg
    assert "targets.appointment" not in msg


def test_a_promise_nobody_set_follows_a_small_hall_and_an_old_file_still_loads(hall_copy):
    """One window, 10-minute services: the 10-minute default cannot be kept, so an unset promise is 20 minutes;
    an old age limit below 10 makes the unset promises as tight as it. A promise the file sets is checked."""
    for line in (QUEUE_TARGETS, BETA_TARGETS, ALPHA_TARGETS):
        edit(hall_copy, line, "")
    text = hall_copy.read_text()
    hall_copy.write_text(text.replace('[[windows]]\nnumber = 2\nserves = ["beta", "alpha"]\n', "")
                         .replace('[[windows]]\nnumber = 3\nkind = "tidal"\nserves = ["beta"]\n', "")
                         .replace('serves = ["alpha"]', 'serves = ["alpha", "beta"]'))
    assert load_hall(hall_copy).businesses["alpha"].targets == Targets(green=20, appointment=20, ordinary=40)
    edit(hall_copy, "[queue]\n", "[queue]\nage_limit_minutes = 25\n")
    assert load_hall(hall_copy).businesses["beta"].targets == Targets(green=20, appointment=20, ordinary=25)
    edit(hall_copy, "[queue]\n", "[queue]\ntargets = { green = 10 }\n")
    msg = problems(hall_copy)
    assert ("businesses[code=alpha].targets.green: 10 min cannot be kept by any allocation: even with all 1 windows "
            "on this business (10 min a service) it needs at least 20 min (green = 10 comes from [queue] targets; "
            "give this business its own targets.green)") in msg


def test_an_unknown_dispatch_rule_is_refused(hall_copy):
    edit(hall_copy, 'dispatch = "promises"', 'dispatch = "fifo"')
    assert "hall.toml: queue.dispatch: must be one of: promises, age_limit" in problems(hall_copy)


def check_config(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", "check-config", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_check_config_lists_every_target_problem_at_once_and_exits_2(hall_copy):
    edit(hall_copy, ALPHA_TARGETS, "targets = { green = 50, appointment = 2 }\nage_limit_minutes = 45\n")
    edit(hall_copy, BETA_TARGETS, "targets = { ordinary = 50 }\nage_limit_minutes = 50\n")
    r = check_config(hall_copy)
    assert r.returncode == 2 and r.stdout == ""
    found = [line.strip() for line in r.stderr.splitlines() if "hall.toml:" in line]
    assert [line.split(": ")[1] for line in found] == [
        "businesses[code=beta].age_limit_minutes",
        "businesses[code=alpha].targets.green",
        "businesses[code=alpha].targets.appointment",
    ], r.stderr
    assert "50 min is looser than the ordinary target (45 min)" in found[1]
    assert "2 min cannot be kept by any allocation: even with all 3 windows" in found[2]


def test_check_config_shows_the_targets_of_a_good_file(hall_copy):
    r = check_config(hall_copy)
    assert r.returncode == 0, r.stderr
    assert ("dispatch: promises, at most 2 promises in a row before an overdue ticket; targets (min) "
            "green/appointment/ordinary: alpha 8/8/40, beta 10/10/50") in r.stdout


def test_only_a_gateway_or_a_tablet_may_be_bound_to_windows(hall_copy):
    """A key bound to a window may act there (call, complete, sign the clerk out): a kiosk, a board or the county's
    key given ``windows`` would get those powers, so the file is refused, naming the entry and what is allowed."""
    edit(hall_copy, 'kind = "kiosk"\nplace = "大厅入口"', 'kind = "kiosk"\nwindows = [1]\nplace = "大厅入口"')
    msg = problems(hall_copy)
    assert "devices[id=kiosk-1].windows: a kiosk acts at no window: windows are for gateway and tablet only" in msg
