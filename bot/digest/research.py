"""The researcher digest's own values: participation per trio and local authority with
their trend, questions, drafts, quiet trios, stalled cycles and the actions so far; and how
a trio is named in both digests. Plain data for the templates, as in bot/digest/render.py.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bot.digest.compile import Compiled

SPARK = "▁▂▃▄▅▆▇█"
ACTION_STATUSES = ("open", "in_progress", "done", "dropped")


def rate(answered: int, delivered: int) -> str | None:
    return f"{round(100 * answered / delivered)}%" if delivered else None


def sparkline(rates: list[float | None]) -> str:
    return "".join("·" if r is None else SPARK[min(7, int(r * 8))] for r in rates)


def trio_label(ref: str, name: object) -> dict[str, str | None]:
    """A trio's name, and its reference beside it only when the name says something else
    (a trio nobody has named yet is called by its reference: shown once, not "T001 T001")."""
    shown = str(name) if isinstance(name, str) and name.strip() else ref
    return {"ref": ref, "name": shown, "aside": ref if shown != ref else None}


def _trend_rates(trend: pd.DataFrame, by: str) -> dict[str, list[float | None]]:
    if trend.empty:
        return {}
    # One pass over the week-ordered rows (a groupby over 366 trios cost ~15 ms); each
    # name's list in week order, the names in order of their first row, as groupby gave.
    ordered = trend.sort_values("week")
    rates: dict[str, list[float | None]] = {}
    for name, a, d in zip(ordered[by], ordered["answered"], ordered["delivered"], strict=True):
        rates.setdefault(str(name), []).append((a / d) if d else None)
    return rates


def _rows(table: pd.DataFrame, by: str, trends: dict[str, list[float | None]]) -> list[Any]:
    rows = []
    for record in table.to_dict("records"):
        name = str(record[by])
        label = trio_label(name, record.get("trio_name") if by == "trio" else name)
        counts: dict[str, Any] = {
            str(k): (int(v) if isinstance(v, int | float) else v) for k, v in record.items()
        }
        rows.append(
            {
                **counts,
                **label,
                "rate": rate(int(record["answered"]), int(record["delivered"])),
                "trend": sparkline(trends.get(name, [])),
            }
        )
    return rows


def researcher_values(compiled: Compiled, trio_work: pd.DataFrame) -> dict[str, Any]:
    questions = trio_work[trio_work["kind"] == "question"]
    by_trio = compiled.figure("by_trio").sort_values("trio")
    return {
        "participation_trios": _rows(
            by_trio, "trio", _trend_rates(compiled.figure("trend_trio"), "trio")
        ),
        "participation_las": _rows(
            compiled.figure("by_la"),
            "local_authority",
            _trend_rates(compiled.figure("trend_la"), "local_authority"),
        ),
        "drafts": compiled.figure("drafts").to_dict("records"),
        "questions": [
            {"trio": str(t), "text": str(x)}
            for t, x in zip(questions["trio"], questions["text"], strict=True)
        ],
        "quiet": compiled.figure("quiet").fillna("").to_dict("records"),
        "stalled": compiled.figure("stalled").to_dict("records"),
        "actions_status": compiled.figure("actions").to_dict("records"),
        "actions_by_trio": _actions_by_trio(compiled),
    }


def _actions_by_trio(compiled: Compiled) -> list[dict[str, Any]]:
    """Every agreed action so far, counted per trio and status (the figure "actions")."""
    names = compiled.figure("by_trio").set_index("trio")["trio_name"].to_dict()
    counts = compiled.figure("actions")
    # One pass over the (trio, status, count) rows: a filter per trio and status cost 0.2 s
    # at 366 trios.
    by_trio: dict[Any, dict[str, int]] = {}
    for trio, status, count in zip(counts["trio"], counts["status"], counts["count"], strict=True):
        tally = by_trio.setdefault(trio, dict.fromkeys(ACTION_STATUSES, 0))
        if status in tally:
            tally[status] += int(count)
    return [
        {**trio_label(str(trio), names.get(trio)), "counts": by_trio[trio]}
        for trio in sorted(by_trio)
    ]


def trend_weeks(compiled: Compiled) -> int:
    """How many weeks of the trend had prompts delivered: the trend chart needs three."""
    trend = compiled.figure("trend_la")
    if trend.empty:
        return 0
    return int((trend.groupby("week")["delivered"].sum() > 0).sum())
