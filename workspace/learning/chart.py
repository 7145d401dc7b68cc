"""Themes and tags over time as server-rendered SVG: grouped bars per month, no JavaScript.

Like the plan's score chart (workspace/plan/chart.py): presentation attributes, never
``style=""`` (the CSP forbids inline styles); every bar carries its number and every series
its name in a legend, so colour is never the only cue; the page shows the same numbers as a
table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from workspace.i18n import N_, _
from workspace.notes import PALETTE

WIDTH = 760
HEIGHT = 290
LEFT = 34
TOP = 16
BOTTOM = 46
LEGEND = 250  # room on the right for the names

MONTHS = (
    N_("jan"), N_("feb"), N_("mrt"), N_("apr"), N_("mei"), N_("jun"),
    N_("jul"), N_("aug"), N_("sep"), N_("okt"), N_("nov"), N_("dec"),
)  # fmt: skip
#: Besides colour, bars differ in their outline pattern.
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 4", "10 2")


@dataclass(frozen=True)
class Bars:
    label: str
    #: One count per month, in the order of the chart's months.
    counts: tuple[int, ...]


def month_label(month: str) -> str:
    """ "2026-11" -> "11-2026": the order people here write dates."""
    year, _, number = month.partition("-")
    return f"{number}-{year}"


def bar_chart(
    months: Sequence[str], series: Sequence[Bars], *, title: str, description: str, ident: str
) -> Markup:
    parts = [
        f'<svg class="learning-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    plot_right = WIDTH - LEGEND
    top_value = max([1, *(c for s in series for c in s.counts)])
    step = max(1, -(-top_value // 4))
    ceiling = step * 4

    def y(value: int) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (ceiling - value) / ceiling

    for value in range(0, ceiling + 1, step):
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y(value):.1f}" x2="{plot_right}" '
            f'y2="{y(value):.1f}" stroke="#c9c9c9" stroke-width="1"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y(value) + 5:.1f}" text-anchor="end">{value}</text>'
        )
    if months and series:
        slot = (plot_right - LEFT) / len(months)
        bar = min(28.0, (slot - 8) / len(series))
        for m, month in enumerate(months):
            x0 = LEFT + slot * m + (slot - bar * len(series)) / 2
            year, _sep, number = month.partition("-")
            centre = LEFT + slot * m + slot / 2
            parts.append(
                f'<text class="axis" x="{centre:.1f}" y="{HEIGHT - 24}" text-anchor="middle">'
                f"{escape(_(MONTHS[int(number) - 1]))}</text>"
            )
            if m == 0 or number == "01":
                # The year once, under its first month: twelve full dates would not fit.
                parts.append(
                    f'<text class="axis" x="{centre:.1f}" y="{HEIGHT - 6}" '
                    f'text-anchor="middle">{escape(year)}</text>'
                )
            for i, s in enumerate(series):
                count = s.counts[m] if m < len(s.counts) else 0
                if not count:
                    continue
                colour = PALETTE[i % len(PALETTE)]
                x = x0 + bar * i
                parts.append(
                    f'<rect x="{x:.1f}" y="{y(count):.1f}" width="{bar - 2:.1f}" '
                    f'height="{y(0) - y(count):.1f}" fill="{colour}" stroke="#111" '
                    f'stroke-dasharray="{DASHES[i % len(DASHES)]}">'
                    f"<title>{escape(s.label)}, {escape(month_label(month))}: {count}</title></rect>"
                    f'<text class="value" x="{x + (bar - 2) / 2:.1f}" y="{y(count) - 4:.1f}" '
                    f'text-anchor="middle">{count}</text>'
                )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        ly = TOP + 20 * i
        parts.append(
            f'<rect x="{plot_right + 14}" y="{ly:.1f}" width="14" height="14" fill="{colour}" '
            f'stroke="#111" stroke-dasharray="{DASHES[i % len(DASHES)]}"/>'
            f'<text class="name" x="{plot_right + 34}" y="{ly + 12:.1f}">{escape(s.label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped
