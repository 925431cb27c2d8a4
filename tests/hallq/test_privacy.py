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


@pytest.mark.parametrize("said, scrubbed", [
    # a mobile after the country code, written every way
    ("请回电+8613812345678", "请回电+86138****5678"),
    ("请回电8613812345678", "请回电86138****5678"),
    ("+86 138 1234 5678", "+86 138****5678"),
    ("+86-138-1234-5678", "+86-138****5678"),
    ("0086 13812345678", "0086 138****5678"),
    ("（+86）13812345678", "（+86）138****5678"),
    ("Tel13812345678 or 13812345678a", "Tel138****5678 or 138****5678a"),  # letters around it: still a mobile
    ("电话１３８１２３４５６７８", "电话138****5678"),  # full-width digits
    ("电话１３８－１２３４－５６７８", "电话138****5678"),
    # an ID number in groups, with spaces or hyphens, or in full-width digits
    ("身份证520201 19850615 1007", "身份证520201********1007"),
    ("身份证520201-19850615-1007", "身份证520201********1007"),
    ("身份证 5202 0119 8506 1510 07 谢谢", "身份证 520201********1007 谢谢"),
    ("身份证520201\u300019850615\u30001007", "身份证520201********1007"),
    ("身份证５２０２０１１９８５０６１５１００７", "身份证520201********1007"),
    ("身份证11010519491231002x", "身份证110105********002X"),
    ("身份证110105 19491231 002x", "身份证110105********002X"),
    ("旧证520201 850615 100", "旧证520201*****5100"),  # the 15-digit card of before 1999
    ("2026年 520201 19850615 1007 办的", "2026年 520201********1007 办的"),  # a number before it stays
    ("身份证520201 19850615 1007 电话138 1234 5678", "身份证520201********1007 电话138****5678"),
])
def test_free_text_numbers_are_found_as_people_write_them(said, scrubbed):
    assert scrub_text(said) == scrubbed
    assert scrub_text(scrubbed) == scrubbed  # scrubbing twice changes nothing more


@pytest.mark.parametrize("said", [
    "票号A012，请到3号窗口",
    "2026-12-07 14:30 办的，2026-12-08 再来",
    "2026 12 07 2026 12 08 1234",
    "收费1380元，退了 1,380.00 元",
    "受理编号 SQ20261206-K7Q2M9XP-1",
    "单据 100 200 300 400 500 600",           # 18 digits in groups: no province, no birth date
    "订单号 20261207138123",
    "账号6217001234567890123",
    "卡号 6222 0212 3456 7890 123",
    "电话 0858-8280128",                      # a landline: not a mobile
    "QQ 1381234567",                          # 10 digits
    "A0121381234567",
    "86138123456",                            # too short for +86 and a mobile
    "等了30分钟，排在第86位",
])
def test_free_text_keeps_ticket_numbers_dates_amounts_and_other_numbers(said):
    assert scrub_text(said) == said


def test_the_examples_of_scrub_text_hold():
    import doctest

    from hallq import privacy

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(privacy.scrub_text, "scrub_text", globs={"scrub_text": privacy.scrub_text}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and runner.summarize(verbose=False).attempted >= 3
