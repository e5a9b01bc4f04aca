"""The sign-in chart's geometry: stacked bars a day, drawn as SVG by the template (no script)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.overview.services import Day

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 26  # room for the axis labels
# Stacked bottom to top: the successes by way in, then what went wrong. Colours keep 3:1 against white.
SERIES = (
    (("password", "success"), "Password", "#2456c9"),
    (("passkey", "success"), "Passkey", "#6b3fb8"),
    (("sso", "success"), "SSO", "#0f7b6c"),
    ("failed", "Failed", "#b3261e"),
    ("throttled", "Throttled", "#a15c00"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # "2026-12-01: 4 Password"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines
    labels: list[tuple[float, str]]  # (x, text) under the bars
    active_points: str  # SVG polyline points of active people a day
    series: tuple
    plot: tuple[float, float, float, float]  # left, top, right, bottom


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n (or 4) at least `value`, so the grid reads in round numbers."""
    if value <= 4:
        return 4
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step * 4 >= value:
                return factor * step * 4
        step *= 10


def _series_value(day: Day, key) -> int:
    if isinstance(key, tuple):
        return day.counts.get(key, 0)
    return day.total(key)


def build(days: list[Day]) -> Chart:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max([day.total() for day in days] + [day.active for day in days] + [1]))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1)
    bars, points = [], []
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = TOP + plot_h
        for key, name, colour in SERIES:
            value = _series_value(day, key)
            if not value:
                continue
            height = value / top * plot_h
            base -= height
            bars.append(Bar(round(x, 1), round(base, 1), round(bar_w, 1), round(height, 1), colour,
                            f"{day.day.isoformat()}: {value} {name.lower()}"))
        points.append(f"{round(LEFT + i * slot + slot / 2, 1)},{round(TOP + plot_h - day.active / top * plot_h, 1)}")
    ticks = [(round(TOP + plot_h - plot_h * k / 4, 1), top * k // 4) for k in range(5)]
    labels = [(round(LEFT + i * slot + slot / 2, 1), day.day.strftime("%b %-d"))
              for i, day in enumerate(days) if (len(days) - 1 - i) % 7 == 0]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, " ".join(points), SERIES,
                 (LEFT, TOP, LEFT + plot_w, TOP + plot_h))
