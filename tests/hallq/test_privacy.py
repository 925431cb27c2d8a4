from datetime import date

import pytest

from hallq.privacy import (IdNumber, InvalidIdNumber, id_check_char, keyed_hash, mask_id_number, mask_name,
                           mask_phone, normalise_phone, scrub_text)
from tests.conftest import make_id


def test_known_valid_number_from_the_standard():
    # GB 11643-1999's worked example: 11010519491231002X
    n = IdNumber.parse("11010519491231002x")
    assert n.value == "11010519491231002X"
    assert n.birth_date == date(1949, 12, 31)
    assert not n.male  # sequence 002 is even
    assert n.age_on(date(2026, 11, 23)) == 76


@pytest.mark.parametrize("raw, why", [
    ("11010519491231002", "18 characters"),
    ("1101051949123100211", "18 characters"),
    ("11010519491231002A", "17 digits"),
    ("110105194902300021", "does not exist"),   # 30 February
    ("110105180001010020", "not plausible"),     # born 1800
    ("110105194912310021", "check digit"),
    ("000000194912310027", "area code"),       # 000000: no region at all (check digit right)
    ("990105194912310023", "area code"),       # no province 99
    ("720105194912310023", "area code"),       # 71 is Taiwan; 72 is nothing
])
def test_invalid_numbers_say_why(raw, why):
    with pytest.raises(InvalidIdNumber) as e:
        IdNumber.parse(raw, today=date(2026, 11, 23))
    assert why in e.value.reason and why in str(e.value)
    said = e.value.messages()
    assert e.value.key.startswith("common.id_number.") and said["zh-Hans"] and said["zh-Hant"] and said["en"] == e.value.reason


@pytest.mark.parametrize("province", sorted(__import__("hallq.privacy").privacy.PROVINCES))
def test_every_province_and_region_is_accepted(province):
    n = make_id(area=f"{province}0101")
    assert IdNumber.parse(n).value == n


def test_the_area_refusal_names_the_digits_in_three_languages():
    first17 = "00000019850615123"
    with pytest.raises(InvalidIdNumber) as e:
        IdNumber.parse(first17 + id_check_char(first17))
    said = e.value.messages()
    assert "000000" in said["en"] and "000000" in said["zh-Hans"] and "000000" in said["zh-Hant"]
    assert "地区代码" in said["zh-Hans"] and "地區代碼" in said["zh-Hant"]


def test_future_birth_date_is_refused():
    with pytest.raises(InvalidIdNumber):
        IdNumber.parse(make_id("20300101"), today=date(2026, 11, 23))


def test_check_char_covers_x_and_residence_permits():
    # every remainder maps to its character; HK/Macao/Taiwan permits (81/82/83) use the same check
    for area in ("810000", "820000", "830000", "520201"):
        n = make_id(area=area)
        assert IdNumber.parse(n).value == n
    assert {id_check_char(f"52020119850615{s:03d}") for s in range(200)} >= set("10X98765432")


def test_repr_never_shows_the_full_number():
    n = IdNumber.parse(make_id())
    assert n.value not in repr(n) and n.value not in str(n)
    assert repr(n).count("*") == 8


def test_masks():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("Li Lei") == "L* L**"
    assert mask_name("") == ""


def test_phone_normalisation():
    assert normalise_phone("+86 138 1234 5678") == "13812345678"
    assert normalise_phone("0858-6807233") == "0858-6807233"
    for bad in ("12345", "23812345678", "abc"):
        with pytest.raises(ValueError):
            normalise_phone(bad)


def test_keyed_hash_depends_on_the_secret():
    n = make_id()
    assert keyed_hash(b"a" * 32, "id", n) == keyed_hash(b"a" * 32, "id", n)
    assert keyed_hash(b"a" * 32, "id", n) != keyed_hash(b"b" * 32, "id", n)
    assert n not in keyed_hash(b"a" * 32, "id", n)


def test_free_text_keeps_its_words_but_not_the_numbers_it_quotes():
    said = "窗口把我的身份证号520201198506151007念出来了，电话136 1111 2222，旧证110105850101001"
    assert scrub_text(said) == "窗口把我的身份证号520201********1007念出来了，电话136****2222，旧证110105*****1001"
    assert scrub_text("账号6217001234567890123、票号A001、等了30分钟") == "账号6217001234567890123、票号A001、等了30分钟"
    assert scrub_text("11010519491231002x") == "110105********002X"
    assert scrub_text("") == "" and scrub_text("很好") == "很好"
