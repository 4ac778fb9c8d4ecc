"""Charts drawn on the server as SVG (no chart library, nothing from a CDN, nothing for the CSP to
refuse): the geometry and the columns' SVG here, the rest in templates/dashboard/."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 220
LEFT = 48  # room for the y axis labels
BOTTOM = 24  # room for the day labels
TOP = 8


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # a CSS class: the colour
    title: str  # the tooltip and what a screen reader hears
    value: str  # the exact figure, as the CSV has it


TICKS = 4


def nice_ceiling(value: float, *, whole: bool = False) -> float:
    """The axis top: four steps of 1, 2, 2.5 or 5 times a power of ten, reaching `value`. With
    `whole`, steps are whole numbers (counts of messages)."""
    if value <= 0:
        return TICKS if whole else 1
    least = value / TICKS
    power = 10 ** math.floor(math.log10(least))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= least * (1 - 1e-9))
    if whole:
        step = max(1, math.ceil(step))
    return step * TICKS


def columns(
    days: list[date], series: list[tuple[str, str, list]], *, unit: str = "", ceiling=None
) -> dict:
    """Bars per day, the series side by side. `series`: (name, css class, values)."""
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    values = [float(v) for _, _, vs in series for v in vs if v is not None]
    top = ceiling or nice_ceiling(max(values, default=0), whole=not unit)
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.8 / max(len(series), 1), 1)
    bars = []
    for i, day in enumerate(days):
        for j, (name, css, vs) in enumerate(series):
            v = vs[i]
            if v is None:
                continue
            h = plot_h * float(v) / top
            shown = f"{v:.0%}" if unit == "%" else (f"{v:.2f}" if unit == "$" else f"{v}")
            bars.append(
                Bar(
                    x=round(LEFT + i * slot + slot * 0.1 + j * bar_w, 2),
                    y=round(TOP + plot_h - h, 2),
                    width=round(bar_w, 2),
                    height=round(h, 2),
                    series=css,
                    title=f"{day:%b %-d}: {shown} {name}",
                    value=str(v),
                )
            )
    label_every = max(1, len(days) // 8)
    labels = [
        {"x": round(LEFT + i * slot + slot / 2, 2), "text": f"{d:%b %-d}"}
        for i, d in enumerate(days)
        if i % label_every == 0
    ]
    ticks = [
        {
            "y": round(TOP + plot_h - plot_h * k / TICKS, 2),
            "text": _tick(top * k / TICKS, unit),
        }
        for k in range(TICKS + 1)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH,
        "base": TOP + plot_h,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "legend": [(name, css) for name, css, _ in series],
    }


def _tick(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0%}"
    if unit == "$":
        return f"${value:,.2f}"
    return f"{value:,.0f}"


def rows(items: list[tuple[str, Decimal | int]], *, unit: str = "") -> list[dict]:
    """Horizontal bars: (label, value) → label, value and the bar's width in percent."""
    top = max((float(v) for _, v in items), default=0) or 1
    return [
        {
            "label": label,
            "value": f"${float(v):,.2f}" if unit == "$" else f"{v:,}",
            "raw": str(v),
            "percent": round(100 * float(v) / top, 1),
        }
        for label, v in items
    ]


def columns_svg(chart: dict, name: str) -> SafeString:
    """The markup of `columns()`'s chart, written here rather than in a template: a month of
    bars is a thousand values, and the template engine (lookups, localisation, escaping each)
    made that most of the page's time. Numbers are written as Python writes them, whatever the
    locale; text is escaped."""
    left, height = chart["left"], chart["height"]
    parts = [
        f'<svg class="columns" viewBox="0 0 {chart["width"]} {height}" role="img" '
        f'aria-labelledby="chart-{name}-title" data-chart="{name}">'
    ]
    for t in chart["ticks"]:
        parts.append(
            f'<line class="grid" x1="{left}" x2="{chart["right"]}" y1="{t["y"]}" y2="{t["y"]}">'
            f'</line><text class="tick" x="{left - 4}" y="{t["y"]}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(t["text"])}</text>'
        )
    for b in chart["bars"]:
        parts.append(
            f'<rect class="{b.series}" x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}" '
            f'data-value="{escape(b.value)}"><title>{escape(b.title)}</title></rect>'
        )
    for label in chart["labels"]:
        parts.append(
            f'<text class="tick" x="{label["x"]}" y="{height - 6}" text-anchor="middle">'
            f"{escape(label['text'])}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every text above is escaped
