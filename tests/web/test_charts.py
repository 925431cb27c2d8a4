"""The statistics charts' axes: four steps a manager reads at a glance."""

from __future__ import annotations

import re

import pytest

from queue_server.web.charts import _nice_max, bars


@pytest.mark.parametrize("top, expected", [(0, 4), (3, 4), (7, 8), (12.5, 20), (25, 40), (99, 100), (130, 200),
                                           (0.8, 0.8), (0.9, 2)])
def test_the_axis_top_is_four_round_steps_above_the_data(top, expected):
    assert _nice_max(top) == pytest.approx(expected)
    assert _nice_max(top) >= top


def test_gridline_labels_are_whole_or_one_decimal_numbers():
    svg = str(bars("每日取号", ["周一", "周二"], [("取号", [25.0, 12.0])], unit="张"))
    labels = re.findall(r'text-anchor="end" fill="#444">([0-9.]+)</text>', svg)
    assert labels == ["0", "10", "20", "30", "40"]
