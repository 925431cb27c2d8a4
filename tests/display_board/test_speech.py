"""The words of a call, by the domain rules: ticket digit by digit, window as a number, recalls say so."""

from __future__ import annotations

import pytest

from hallq.hallconfig import ConfigError
from display_board.settings import load_announcer
from display_board.speech import call_text, merged_text, ticket_words, zh_number
from tests.conftest import CITY
from tests.display_board.payloads import call

ANNOUNCER = CITY.parent / "announcer.toml"


@pytest.fixture(scope="module")
def langs():
    zh, en = load_announcer(ANNOUNCER).languages
    return zh, en


@pytest.mark.parametrize("n, words", [(0, "零"), (1, "一"), (3, "三"), (10, "十"), (12, "十二"), (20, "二十"),
                                      (21, "二十一"), (100, "一百"), (105, "一百零五"), (110, "一百一十"),
                                      (999, "九百九十九"), (1001, "一千零一"), (1010, "一千零一十")])
def test_window_numbers_are_read_as_numbers(n, words):
    assert zh_number(n) == words


def test_tickets_are_read_digit_by_digit():
    assert ticket_words("A001", "zh") == "A 零零一"
    assert ticket_words("AB120", "zh") == "A B 一二零"  # two letters are read as letters, not as a word
    assert ticket_words("C003", "en") == "C003"


def test_the_mandarin_sentences(langs):
    zh, _ = langs
    assert call_text(call(1, "A001", 3), zh) == "请 A 零零一 号到 三 号窗口办理"
    assert call_text(call(2, "A001", 12, kind="recall"), zh) == "请 A 零零一 号再次到 十二 号窗口办理"
    assert (call_text(call(3, "C010", 105, kind="call_back", business="social"), zh)
            == "请 C 零一零 号回到 一百零五 号窗口继续办理")


def test_english_after_mandarin(langs):
    _, en = langs
    assert call_text(call(1, "A001", 12), en) == "Number A001, please go to window 12."
    assert call_text(call(2, "A001", 12, kind="recall"), en) == "Number A001, once again, please go to window 12."


def test_stale_calls_are_merged_into_one_sentence(langs):
    zh, en = langs
    calls = [call(1, "A001", 3), call(2, "B002", 5)]
    assert merged_text(calls, zh) == "请 A 零零一 号到 三 号窗口，B 零零二 号到 五 号窗口 办理"
    assert merged_text(calls, en) == "Please go: number A001 to window 3; number B002 to window 5."


def test_templates_are_checked_when_loaded(tmp_path):
    bad = tmp_path / "announcer.toml"
    bad.write_text(f'hall = "{CITY}"\n[announcer]\nid = "x"\n[[announcer.languages]]\nlang = "zh"\n'
                   'voice = "cmn-latn-pinyin"\ncall = "请到 {window} 号窗口"\nrecall = "请 {tickt} 号"\n')
    with pytest.raises(ConfigError) as e:
        load_announcer(bad)
    text = str(e.value)
    assert "announcer.languages[0].call: must contain {ticket}" in text
    assert "announcer.languages[0].recall: bad placeholder 'tickt'" in text
