"""一件事 packages in the hall config: merged form and materials, and what check-config refuses."""

import shutil
import subprocess
import sys

import pytest

from hallq.hallconfig import ConfigError, load_hall
from tests.conftest import CITY, ROOT, TINY

VILLAGE = ROOT / "config" / "village-station" / "hall.toml"

ITEMS = '''
[[items]]
code = "T-PKG-1"
business = "alpha"
name = { zh-Hans = "丙事项", zh-Hant = "丙事項", en = "Gamma item" }
department = "甲局"
materials = [
  { name = "居民身份证", form = "原件", copies = 1, required = true },
  { name = "申请表一", form = "原件", copies = 1, required = true },
]
form = [
  { key = "child_name", type = "person_name", required = true, label = { zh-Hans = "姓名", zh-Hant = "姓名", en = "Name" } },
  { key = "born", type = "date", required = false, label = { zh-Hans = "出生日期", zh-Hant = "出生日期", en = "Born" } },
]

[[items]]
code = "T-PKG-2"
business = "beta"
name = { zh-Hans = "丁事项", zh-Hant = "丁事項", en = "Delta item" }
department = "乙局"
materials = [
  { name = "居民身份证", form = "原件", copies = 2, required = false },
  { name = "申请表二", form = "原件", copies = 1, required = true },
]
form = [
  { key = "born", type = "date", required = true, label = { zh-Hans = "出生日期", zh-Hant = "出生日期", en = "Born" } },
]

[[packages]]
code = "life"
name = { zh-Hans = "一件事", zh-Hant = "一件事", en = "One thing" }
items = ["T-PKG-1", "T-PKG-2"]
'''


@pytest.fixture
def hall_copy(tmp_path):
    for f in ("hall.toml", "services.toml"):
        shutil.copy(TINY.parent / f, tmp_path / f)
    with open(tmp_path / "services.toml", "a") as f:
        f.write(ITEMS)
    return tmp_path / "hall.toml"


def edit(path, old, new):
    services = path.parent / "services.toml"
    text = services.read_text()
    assert old in text, old
    services.write_text(text.replace(old, new, 1))


def problems(path):
    with pytest.raises(ConfigError) as e:
        load_hall(path)
    return str(e.value)


def test_a_package_merges_the_form_by_key_and_the_materials_by_name(hall_copy):
    p = load_hall(hall_copy).packages["life"]
    assert p.items == ("T-PKG-1", "T-PKG-2") and p.business == "alpha" and p.lead_department == "甲局"
    form = {f["key"]: f for f in p.form}
    assert list(form) == ["child_name", "born"]  # asked once
    assert form["born"]["required"] and form["born"]["items"] == ["T-PKG-1", "T-PKG-2"]
    materials = {m["name"]: m for m in p.materials}
    assert list(materials) == ["居民身份证", "申请表一", "申请表二"]  # the ID card once
    assert materials["居民身份证"]["of"] == {"T-PKG-1": 0, "T-PKG-2": 0}
    assert materials["居民身份证"]["required"] and materials["居民身份证"]["copies"] == 2


def test_an_unknown_item_is_refused_naming_it(hall_copy):
    edit(hall_copy, 'items = ["T-PKG-1", "T-PKG-2"]', 'items = ["T-PKG-1", "T-PKG-3"]')
    msg = problems(hall_copy)
    assert 'services.toml: packages[code=life].items[1]: unknown service item "T-PKG-3"' in msg
    assert 'did you mean "T-PKG-2"' in msg


def test_fields_that_clash_in_type_are_refused_naming_both_items(hall_copy):
    edit(hall_copy, '{ key = "born", type = "date", required = true',
         '{ key = "born", type = "number", required = true')
    msg = problems(hall_copy)
    assert ('packages[code=life].items: field "born" is a date in item "T-PKG-1" but a number in item "T-PKG-2"'
            in msg), msg


def test_an_item_without_a_department_is_refused(hall_copy):
    edit(hall_copy, 'department = "乙局"\n', '')
    msg = problems(hall_copy)
    assert 'packages[code=life].items[1]: item "T-PKG-2" has no department' in msg
    assert "give the item a department" in msg


def test_a_package_of_one_item_or_an_unknown_business_is_refused(hall_copy):
    edit(hall_copy, 'items = ["T-PKG-1", "T-PKG-2"]', 'items = ["T-PKG-1"]\nbusiness = "gamma"')
    msg = problems(hall_copy)
    assert "packages[0].items" in msg and "at least 2" in msg, msg


def test_the_sample_halls_have_packages_from_the_national_list():
    city = load_hall(CITY).packages
    assert {"newborn", "retirement", "restaurant"} <= set(city)
    newborn = city["newborn"]
    assert len(newborn.items) == 4
    assert [m["name"] for m in newborn.materials].count("居民身份证") == 1
    departments = {load_hall(CITY).items[c].guide["department"] for c in newborn.items}
    assert len(departments) == 4  # 卫健, 公安, 医保, 人社: four back offices behind one window
    assert load_hall(VILLAGE).packages


def test_check_config_names_the_item_and_the_reason_and_exits_2(hall_copy):
    edit(hall_copy, 'items = ["T-PKG-1", "T-PKG-2"]', 'items = ["T-PKG-1", "T-NOPE"]')
    r = subprocess.run([sys.executable, "-m", "launcher", "check-config", str(hall_copy)], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and 'unknown service item "T-NOPE"' in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "launcher", "check-config", str(CITY)], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0 and "一件事 packages: newborn (4 items" in r.stdout, r.stderr
