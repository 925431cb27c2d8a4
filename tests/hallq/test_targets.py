"""The one check of a business's service-level targets (hallq/targets.py), shared by the config and the console."""

from __future__ import annotations

import pytest

from hallq.targets import CLASSES, DEFAULT, Targets, problems, soonest_keepable


@pytest.mark.parametrize("service, windows, soonest", [
    (10, 2, 10),    # a window comes free every 5 minutes; half of a 10-minute promise holds one such interval
    (10, 3, 7),     # 6.67 rounds up: 6 minutes would be half a minute short
    (3, 20, 1),     # never below one minute
    (10, 0, 20),    # a hall with no window counts as one (the message still says 0)
    (30, 3, 20),
])
def test_soonest_keepable_promise(service, windows, soonest):
    assert soonest_keepable(service, windows) == soonest


def test_keepable_targets_have_no_problem():
    assert problems({"green": 8, "appointment": 40, "ordinary": 40}, 10, 3) == []  # a promise may equal the ordinary
    assert problems(Targets().as_dict(), 10, 2) == []
    assert Targets().as_dict() == DEFAULT
    assert [Targets(1, 2, 3).of(k) for k in (0, 1, 2)] == [1, 2, 3]


@pytest.mark.parametrize("wrong", [0, -5, 481, True, "10", 10.5, None])
def test_out_of_range_or_not_whole_minutes(wrong):
    found = problems({"green": wrong, "appointment": 10, "ordinary": wrong}, 10, 3)
    assert [p.klass for p in found] == ["green", "ordinary"]  # every class at once, in order
    assert found[0].reason == "must be a whole number of minutes from 1 to 480"
    assert found[0].says("zh-Hans") == "绿色通道目标应为 1 到 480 分钟的整数。"
    assert found[1].says("zh-Hant") == "普通號目標應為 1 到 480 分鐘的整數。"


def test_range_problems_come_alone():
    """A target out of range says only that: comparing it with the others would add noise."""
    found = problems({"green": 481, "appointment": 1, "ordinary": 40}, 10, 3)
    assert [p.klass for p in found] == ["green"]


def test_a_promise_looser_than_the_ordinary_target_is_refused():
    found = problems({"green": 45, "appointment": 50, "ordinary": 40}, 10, 3)
    assert [p.klass for p in found] == ["green", "appointment"]
    zh, hant, en = found[0].says("zh-Hans"), found[0].says("zh-Hant"), found[0].reason
    assert en == "45 min is looser than the ordinary target (40 min): a promise must be at least as tight"
    assert zh == "绿色通道承诺（45 分钟）不能长于普通号的目标（40 分钟）。"
    assert hant.startswith("綠色通道承諾（45 分鐘）")
    assert found[1].says("zh-Hans").startswith("预约承诺（50 分钟）")


def test_a_promise_no_allocation_can_keep_is_refused_with_the_floor_and_the_windows():
    # 30-minute services on 3 windows: one comes free every 10 minutes, so a promise needs at least 20
    found = problems({"green": 19, "appointment": 20, "ordinary": 40}, 30, 3)
    assert [p.klass for p in found] == ["green"]
    zh, hant, en = found[0].says("zh-Hans"), found[0].says("zh-Hant"), found[0].reason
    assert en == ("19 min cannot be kept by any allocation: even with all 3 windows on this business "
                  "(30 min a service) it needs at least 20 min")
    assert "绿色通道 19 分钟的承诺" in zh and "3 个窗口" in zh and "至少需要 20 分钟" in zh and "每件 30 分钟" in zh
    assert "3 個窗口" in hant and "至少需要 20 分鐘" in hant


def test_the_ordinary_target_is_no_promise_and_has_no_floor():
    assert problems({"green": 20, "appointment": 20, "ordinary": 20}, 30, 3) == []
    assert [p.klass for p in problems({"green": 5, "appointment": 5, "ordinary": 5}, 30, 3)] == ["green", "appointment"]


def test_every_problem_is_in_three_languages():
    for targets in ({"green": 0, "appointment": 0, "ordinary": 0}, {"green": 50, "appointment": 1, "ordinary": 40}):
        for p in problems(targets, 30, 3):
            zh, hant, en = p.says("zh-Hans"), p.says("zh-Hant"), p.says("en")
            assert p.klass in CLASSES and zh and hant and en and zh != hant != en
