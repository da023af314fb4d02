"""The researcher digest's charts, drawn with matplotlib (Agg, no display) as PNG bytes.

Figures are made with the object API, not pyplot: no global state, safe in a worker thread.
"""

from __future__ import annotations

import io
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


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    return out.getvalue()


def response_rate_by_la(trend: pd.DataFrame, *, ylabel: str) -> bytes:
    """Lines: the share of delivered prompts answered, week by week, per local authority."""
    figure = Figure(figsize=(7.2, 3.6))
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
                linewidth=1.6,
                color=COLOURS[index % len(COLOURS)],
                label=str(name),
            )
        if len(rates.columns):
            axes.legend(fontsize=7, ncol=2, frameon=False, loc="best")
    axes.set_ylim(0, 100)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def barriers_by_arena(counts: Sequence[int], labels: Sequence[str]) -> bytes:
    """Bars: barriers raised this week in each arena of the ecology of equity."""
    figure = Figure(figsize=(5.6, 2.6))
    axes = figure.subplots()
    bars = axes.barh(list(labels), list(counts), color=COLOURS[:3])
    axes.bar_label(bars, padding=3)
    axes.invert_yaxis()
    axes.set_xlim(0, max(max(counts, default=0), 1) * 1.2)
    axes.xaxis.set_visible(False)
    axes.spines[["top", "right", "bottom"]].set_visible(False)
    return _png(figure)
