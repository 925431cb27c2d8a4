"""Which items a hall routes, and to which hall: county.toml's routes, checked (hallq check-config), the demo's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from county.config import CountyConfigError, load_county
from hallq.hallconfig import load_hall
from hallq.testing import ROOT
from launcher.county import DEFAULT_DEMO, load_demo, write_county

BASE = '''[county]
id = "c"
name = { zh-Hans = "测试县" }
[broker]
url = "mqtt://127.0.0.1:1"
[[halls]]
site = "town"
level = "town"
name = { zh-Hans = "镇" }
journal_url = "http://127.0.0.1:1"
credential = "env:K"
routing_credential = "env:R"
[[halls]]
site = "other-town"
level = "town"
name = { zh-Hans = "另一镇" }
journal_url = "http://127.0.0.1:2"
credential = "env:K"
[[halls]]
site = "village"
level = "village"
parent = "town"
name = { zh-Hans = "村" }
journal_url = "http://127.0.0.1:3"
credential = "env:K"
'''


def county(tmp_path, routes: str):
    path = tmp_path / "county.toml"
    path.write_text(BASE + routes, encoding="utf-8")
    return path


def test_a_route_goes_to_the_parent_unless_named(tmp_path):
    cfg = load_county(county(tmp_path, 'routes = [{ item = "A-1" }, { item = "B-2", to = "town" }]\n'),
                      need_database=False)
    assert cfg.halls["village"].routes == {"A-1": "town", "B-2": "town"}
    assert cfg.halls["town"].routes == {} and cfg.halls["town"].routing_credential == "env:R"


@pytest.mark.parametrize("routes, problem", [
    ('routes = [{ item = "A-1", to = "nowhere" }]', "unknown hall 'nowhere'"),
    ('routes = [{ item = "A-1", to = "village" }]', "does not route to itself"),
    ('routes = [{ item = "A-1", to = "other-town" }]', "has no routing_credential"),
    ('routes = [{ item = "A-1" }, { item = "A-1" }]', "routed twice"),
    ('routes = [{ item = "bad code!" }]', "halls[2].routes[0].item: has the wrong format"),
])
def test_a_wrong_route_is_refused_with_its_key(tmp_path, routes, problem):
    with pytest.raises(CountyConfigError) as e:
        load_county(county(tmp_path, routes + "\n"), need_database=False)
    assert problem in str(e.value) and ".routes[" in str(e.value)


def test_a_hall_without_a_parent_names_the_target(tmp_path):
    path = county(tmp_path, "")
    path.write_text(path.read_text(encoding="utf-8").replace(
        'routing_credential = "env:R"\n', 'routing_credential = "env:R"\nroutes = [{ item = "A-1" }]\n', 1),
        encoding="utf-8")
    with pytest.raises(CountyConfigError, match="no parent to route to"):
        load_county(path, need_database=False)


def test_check_config_refuses_an_unknown_target(tmp_path):
    good = subprocess.run([sys.executable, "-m", "launcher", "check-config", str(ROOT / "config" / "county" /
                                                                                   "county.toml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert good.returncode == 0 and "zhoujia-village routes 520201-CL-GG-0001 -> liupanshui" in good.stdout
    bad = subprocess.run([sys.executable, "-m", "launcher", "check-config",
                          str(county(tmp_path, 'routes = [{ item = "A-1", to = "nowhere" }]\n'))],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "unknown hall 'nowhere'" in bad.stderr


def test_the_demo_routes_two_items_of_the_centre_from_a_village(tmp_path):
    county_toml, halls = write_county(load_demo(DEFAULT_DEMO), tmp_path / "data")
    cfg = load_county(county_toml, need_database=False)
    routes = cfg.halls["zhoujia-village"].routes
    assert routes == {"520201-CL-GG-0001": "zhongshan-centre", "520201-GA-GG-0001": "zhongshan-centre"}
    confs = {h.site: load_hall(h.conf) for h in halls}
    centre, village = confs["zhongshan-centre"], confs["zhoujia-village"]
    for item in routes:  # the centre handles them (with a form), the station does not
        assert "form" in centre.items[item].guide and item not in village.items
    assert any(d.kind == "routing" for d in centre.devices)
    # a smaller demo without the centre drops the routes that have nowhere to go
    small = load_demo(DEFAULT_DEMO, only=["dahe-town", "zhoujia-village"])
    cfg = load_county(write_county(small, tmp_path / "small")[0], need_database=False)
    assert cfg.halls["zhoujia-village"].routes == {}
