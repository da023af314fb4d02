"""The researcher digest's charts, drawn with matplotlib (Agg, no display) as PNG bytes.

Figures are made with the object API, not pyplot: no global state, safe in a worker thread.

Text is sized for the narrowest screen the digest is read on. The page shows a chart at
the width of its section (`width: 100%`, at most CHART_MAX_CSS_PX), which at a 390 px
phone is PHONE_CHART_PX; a chart drawn WIDTH_IN inches wide is scaled to that, so a font of
`pt` points shows at pt / 72 * PHONE_CHART_PX / WIDTH_IN px. TEXT_PT is chosen so that this
is MIN_TEXT_PX: the text is a fixed share of the chart's width, readable on the phone, and
larger on a laptop. layout="constrained" (not bbox_inches="tight") keeps the PNG exactly
WIDTH_IN × DPI pixels wide, so the arithmetic holds; tests/test_digest_page.py measures it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.figure import Figure

COLOURS = (
    "#1b6ca8",
    "#e07a1f",
    "#3a9d5d",
    "#c0392b",
    "#8e5ea2",
    "#6b7f8e",
    "#d4a017",
    "#17a2b8",
    "#a0522d",
    "#2c3e50",
)
MIN_TEXT_PX = 11  # the smallest chart text on a 390 px screen
# 390 px less the page's padding (2 × 16 px), the section's (2 × 17.6 px) and its borders.
PHONE_CHART_PX = 320
CHART_MAX_CSS_PX = 480  # prompts/digest_page.html.j2: img.chart { max-width: 30rem }
WIDTH_IN = 5.0
DPI = 200  # sharp on high-density screens and in print
TEXT_PT = math.ceil(10 * MIN_TEXT_PX * 72 * WIDTH_IN / PHONE_CHART_PX) / 10
TREND_MIN_WEEKS = 3  # fewer weeks with prompts and a trend is a dot or two: no chart


def shown_text_px(shown_width_px: float, png_width_px: int, points: float = TEXT_PT) -> float:
    """How tall text of `points` looks when a chart PNG is shown `shown_width_px` wide."""
    return points * DPI / 72 * shown_width_px / png_width_px


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def response_rate_by_la(trend: pd.DataFrame, *, ylabel: str) -> bytes:
    """Lines: the share of delivered prompts answered, week by week, per local authority."""
    figure = Figure(figsize=(WIDTH_IN, 4.2), layout="constrained")
    axes = figure.subplots()
    weeks = sorted(set(trend["week"]))
    if not trend.empty:
        table = trend.pivot_table(
            index="week",
            columns="local_authority",
            values=["delivered", "answered"],
            aggfunc="sum",
            fill_value=0,
        )
        answered, delivered = table["answered"], table["delivered"]
        rates = (answered / delivered.where(delivered > 0)).mul(100).reindex(weeks)
        for index, name in enumerate(rates.columns):
            axes.plot(
                [w.split("-")[1] for w in weeks],
                rates[name],
                marker="o",
                linewidth=2,
                color=COLOURS[index % len(COLOURS)],
                label=str(name),
            )
        if len(rates.columns):
            # Below the plot, not over the lines: the chart is narrow on a phone.
            figure.legend(
                loc="outside lower center",
                ncol=min(2, len(rates.columns)),
                frameon=False,
                fontsize=TEXT_PT,
            )
    axes.set_ylim(0, 100)
    axes.set_ylabel(ylabel, fontsize=TEXT_PT)
    axes.tick_params(labelsize=TEXT_PT)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def barriers_by_arena(counts: Sequence[int], labels: Sequence[str]) -> bytes:
    """Bars: barriers raised this week in each arena of the ecology of equity."""
    figure = Figure(figsize=(WIDTH_IN, 2.4), layout="constrained")
    axes = figure.subplots()
    bars = axes.barh(list(labels), list(counts), color=COLOURS[:3])
    axes.bar_label(bars, padding=3, fontsize=TEXT_PT)
    axes.invert_yaxis()
    axes.set_xlim(0, max(max(counts, default=0), 1) * 1.25)
    axes.xaxis.set_visible(False)
    axes.tick_params(labelsize=TEXT_PT)
    axes.spines[["top", "right", "bottom"]].set_visible(False)
    return _png(figure)
