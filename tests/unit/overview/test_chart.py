"""The sign-in chart's geometry."""

from __future__ import annotations

from datetime import date, timedelta

from gateway.overview import chart
from gateway.overview.rollups import METHODS, OUTCOMES
from gateway.overview.services import Day


def days(values):
    first = date(2026, 11, 8)
    zero = {(m, o): 0 for m in METHODS for o in OUTCOMES}
    return [Day(first + timedelta(days=i), {**zero, ("password", "success"): n, ("sso", "failed"): n // 2}, n // 3)
            for i, n in enumerate(values)]


def test_the_grid_reads_in_round_numbers():
    assert [chart._nice_ceiling(n) for n in (0, 3, 5, 9, 41, 150, 201, 4001)] == [4, 4, 8, 20, 80, 200, 400, 8000]


def test_bars_stack_within_the_plot_and_each_says_what_it_is():
    built = chart.build(days([10 * i for i in range(30)]))
    left, top, right, bottom = built.plot
    assert all(left <= bar.x and bar.x + bar.width <= right + 0.1 for bar in built.bars)
    assert all(top - 0.1 <= bar.y and bar.y + bar.height <= bottom + 0.1 for bar in built.bars)
    assert built.bars[-1].label == "2026-12-07: 145 failed"
    assert len(built.active_points.split()) == 30


def test_the_last_day_is_labelled_and_every_seventh_before_it():
    built = chart.build(days([1] * 30))
    assert [text for _, text in built.labels] == ["Nov 9", "Nov 16", "Nov 23", "Nov 30", "Dec 7"]


def test_a_month_without_sign_ins_draws_no_bars():
    built = chart.build(days([0] * 30))
    assert built.bars == [] and built.ticks[-1][1] == 4
