"""Scaling-question charts as server-rendered SVG: no JavaScript, readable on a projector and
a phone (the SVG scales to its box; lines are thick, every point carries its number, and each
line is labelled with the person's name, not only its colour)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

#: Besides colour, lines differ in dash pattern, for readers who cannot tell colours apart.
DASHES = ("", "10 6", "3 5", "14 4 3 4", "2 8")

#: The drawing's own coordinate system; the browser scales it to the available width.
WIDTH = 640
HEIGHT = 300
LEFT = 34
RIGHT = 200  # room for the names at the end of each line
TOP = 16
BOTTOM = 40


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    #: (day, score 0-10), oldest first.
    points: tuple[tuple[date, int], ...]


def _x(day: date, first: date, last: date) -> float:
    span = (last - first).days
    width = WIDTH - LEFT - RIGHT
    if span == 0:
        return LEFT + width / 2
    return LEFT + width * (day - first).days / span


def _y(value: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (10 - value) / 10


def _spread(wanted: list[float], gap: float, low: float, high: float) -> list[float]:
    """Move labels apart (keeping their order) so that two names never print on top of each
    other when two people gave the same last score."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [0.0] * len(wanted)
    previous = low - gap
    for i in order:
        placed[i] = max(wanted[i], previous + gap)
        previous = placed[i]
    overflow = previous - high
    if overflow > 0:
        for i in order:
            placed[i] -= overflow
    return placed


def score_chart(
    series: Sequence[Series], *, title: str, description: str, ident: str = "chart"
) -> Markup:
    """An accessible line chart of 0-10 scores over time, one line per person.

    The SVG has role="img" with a title and description; the page shows the same numbers as a
    table beside it for screen readers and for printing."""
    days = sorted({day for s in series for day, _ in s.points})
    parts: list[str] = []
    parts.append(
        f'<svg class="score-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">'
    )
    parts.append(f'<title id="{ident}-title">{escape(title)}</title>')
    parts.append(f'<desc id="{ident}-desc">{escape(description)}</desc>')
    plot_right = WIDTH - RIGHT
    for value in (0, 5, 10):
        y = _y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 8}" y="{y + 5:.1f}" text-anchor="end">{value}</text>'
        )
    if not days:
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every text and colour in it is escaped
    first, last = days[0], days[-1]
    for day in days:
        x = _x(day, first, last)
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 14}" text-anchor="middle">'
            f"{day.strftime('%d-%m')}</text>"
        )
    ends: list[float] = []
    for s in series:
        if not s.points:
            ends.append(0.0)
            continue
        ends.append(_y(s.points[-1][1]))
    label_y = _spread(ends, 17, TOP + 6, HEIGHT - BOTTOM)
    for index, (s, y_label) in enumerate(zip(series, label_y, strict=True)):
        if not s.points:
            continue
        colour = escape(s.colour)
        coords = [(_x(day, first, last), _y(value)) for day, value in s.points]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        # Presentation attributes, not style="": the CSP allows no inline styles.
        parts.append('<g class="series">')
        if len(coords) > 1:
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="4" '
                f'stroke-dasharray="{DASHES[index % len(DASHES)]}" '
                f'stroke-linejoin="round" stroke-linecap="round"/>'
            )
        for (x, y), (day, value) in zip(coords, s.points, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{colour}">'
                f"<title>{escape(s.label)}, {day.strftime('%d-%m-%Y')}: {value}</title></circle>"
                f'<text class="point" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{value}</text>'
            )
        x_end = coords[-1][0]
        parts.append(
            f'<text class="name" x="{x_end + 14:.1f}" y="{y_label + 5:.1f}" fill="{colour}">'
            f"{escape(s.label)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and colour in it is escaped
