"""Compiling one ISO week: every source into one long table of contributions plus figures.

`Compiled` is what the archive keeps (storage/digests.py) and what both digests, the charts
and the exports are made from; it holds no rendering and no language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from bot.scheduling.timing import iso_week, local_instant
from storage import digest_sources as src
from storage import digest_sources_trio_work as trio_work
from storage.db import to_db_time

# The figures' tables and their columns (each a DataFrame; serialised as JSON in the archive).
FIGURES: dict[str, tuple[str, ...]] = {
    # this week, one row per trio
    "by_trio": (
        "trio",
        "trio_name",
        "members",
        "delivered",
        "answered",
        "meetings_scheduled",
        "meetings_held",
    ),
    # this week, one row per local authority (a trio's meetings count for each of its LAs)
    "by_la": (
        "local_authority",
        "people",
        "delivered",
        "answered",
        "meetings_scheduled",
        "meetings_held",
    ),
    # the trend weeks (this one last): one row per week and trio / local authority
    "trend_trio": ("week", "trio", "delivered", "answered", "meetings_scheduled", "meetings_held"),
    "trend_la": (
        "week",
        "local_authority",
        "delivered",
        "answered",
        "meetings_scheduled",
        "meetings_held",
    ),
    "drafts": ("trio", "trio_name", "since"),
    "quiet": ("trio", "trio_name", "last"),
    "stalled": ("trio", "trio_name", "stage", "since"),
    "actions": ("trio", "status", "count"),
}


@dataclass(frozen=True, slots=True)
class Options:
    quiet_weeks: float = 3.0
    trend_weeks: int = 8
    stalled_weeks: float = 3.0


@dataclass(frozen=True)
class Compiled:
    week: str
    built_at: datetime
    contributions: pd.DataFrame  # long format, with person_id (see storage/digest_sources.py)
    figures: dict[str, pd.DataFrame] = field(default_factory=dict)

    def figure(self, name: str) -> pd.DataFrame:
        return self.figures.get(name, pd.DataFrame(columns=list(FIGURES[name])))


def parse_week(text: str) -> str:
    """'2026-W48' (also '2026w48', '2026-48') → '2026-W48'; ValueError if it is no ISO week."""
    cleaned = text.strip().upper().replace("W", "-").replace("--", "-")
    year, _, number = cleaned.partition("-")
    monday = date.fromisocalendar(int(year), int(number), 1)
    iso_year, iso_number, _ = monday.isocalendar()
    return f"{iso_year}-W{iso_number:02d}"


def monday_of(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) local, as UTC instants."""
    monday = monday_of(week)
    return (
        local_instant(monday, time(0, 0), zone),
        local_instant(monday + timedelta(days=7), time(0, 0), zone),
    )


def shift_week(week: str, weeks: int) -> str:
    year, number, _ = (monday_of(week) + timedelta(weeks=weeks)).isocalendar()
    return f"{year}-W{number:02d}"


def last_complete_week(now: datetime, zone: ZoneInfo) -> str:
    return shift_week(iso_week(now, zone), -1)


async def compile_week(
    reader: src.Reader, week: str, zone: ZoneInfo, options: Options, now: datetime
) -> Compiled:
    """Read every source for `week` and put the digest's tables together."""
    start, end = week_bounds(week, zone)
    trend_start, _ = week_bounds(shift_week(week, 1 - options.trend_weeks), zone)
    have = await src.tables(reader)
    who = await src.people(reader)
    all_trios = await src.trios(reader)

    parts = [
        await src.reflections(reader, start, end, zone, who),
        await trio_work.summary_items(reader, have, start, end, zone, who),
        await trio_work.lesson_study_accounts(reader, have, start, end, zone, who),
    ]
    contributions = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    contributions = contributions.sort_values(["trio", "date", "kind"], kind="stable")

    delivered = await src.deliveries(reader, trend_start, end, zone, who)
    meetings = await trio_work.meetings(reader, have, trend_start, end, zone)
    meetings = meetings.merge(all_trios[["trio_id", "trio", "local_authorities"]], on="trio_id")
    weeks = [shift_week(week, -k) for k in range(options.trend_weeks - 1, -1, -1)]

    figures = {
        "by_trio": _by_trio(week, who, all_trios, delivered, meetings),
        "by_la": _by_la(week, who, delivered, meetings),
        "trend_trio": _trend(weeks, delivered, meetings, "trio", all_trios["trio"]),
        "trend_la": _trend(
            weeks,
            delivered,
            meetings.explode("local_authorities").rename(
                columns={"local_authorities": "local_authority"}
            ),
            "local_authority",
            who["local_authority"].dropna(),
        ),
        "drafts": await trio_work.drafts(reader, have, end, zone),
        "quiet": await _quiet(reader, have, end, zone, options, all_trios),
        "stalled": await trio_work.stalled_cycles(
            reader, have, end - timedelta(weeks=options.stalled_weeks), end, zone
        ),
        "actions": await trio_work.action_statuses(reader, have),
    }
    return Compiled(week, now, contributions.reset_index(drop=True), figures)


def _counts(frame: pd.DataFrame, by: str, column: str, how: str = "sum") -> pd.Series:
    if frame.empty:
        return pd.Series(dtype="int64")
    return frame.groupby(by)[column].agg(how)


def _by_trio(
    week: str,
    who: pd.DataFrame,
    all_trios: pd.DataFrame,
    delivered: pd.DataFrame,
    meetings: pd.DataFrame,
) -> pd.DataFrame:
    this = delivered[delivered["week"] == week]
    met = meetings[meetings["week"] == week]
    members = who[who["consented"] & (who["status"] == "active")]
    table = all_trios[["trio", "trio_name"]].set_index("trio")
    table["members"] = _counts(members, "trio", "person_id", "count")
    table["delivered"] = _counts(this, "trio", "answered", "count")
    table["answered"] = _counts(this, "trio", "answered")
    table["meetings_scheduled"] = _counts(met, "trio", "held", "count")
    table["meetings_held"] = _counts(met, "trio", "held")
    return _whole(table.reset_index(), FIGURES["by_trio"])


def _by_la(
    week: str, who: pd.DataFrame, delivered: pd.DataFrame, meetings: pd.DataFrame
) -> pd.DataFrame:
    this = delivered[delivered["week"] == week]
    met = meetings[meetings["week"] == week].explode("local_authorities")
    members = who[who["consented"] & (who["status"] == "active")]
    names = sorted(set(who["local_authority"].dropna()))
    table = pd.DataFrame(index=pd.Index(names, name="local_authority"))
    table["people"] = _counts(members, "local_authority", "person_id", "count")
    table["delivered"] = _counts(this, "local_authority", "answered", "count")
    table["answered"] = _counts(this, "local_authority", "answered")
    table["meetings_scheduled"] = _counts(met, "local_authorities", "held", "count")
    table["meetings_held"] = _counts(met, "local_authorities", "held")
    return _whole(table.reset_index(), FIGURES["by_la"])


def _trend(
    weeks: list[str], delivered: pd.DataFrame, meetings: pd.DataFrame, by: str, names: pd.Series
) -> pd.DataFrame:
    index = pd.MultiIndex.from_product([weeks, sorted(set(names))], names=["week", by])
    table = pd.DataFrame(index=index)
    if not delivered.empty:
        grouped = delivered.groupby(["week", by])["answered"]
        table["delivered"] = grouped.count()
        table["answered"] = grouped.sum()
    if not meetings.empty:
        table["meetings_scheduled"] = meetings.groupby(["week", by])["held"].count()
        table["meetings_held"] = meetings.groupby(["week", by])["held"].sum()
    columns = ("week", by, "delivered", "answered", "meetings_scheduled", "meetings_held")
    return _whole(table.reset_index(), columns)


def _whole(table: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Missing counts are zero counts; integer columns stay integers."""
    for column in columns:
        if column not in table:
            table[column] = 0
        elif column not in ("week", "trio", "trio_name", "local_authority"):
            table[column] = table[column].fillna(0).astype("int64")
    return table.loc[:, list(columns)]


async def _quiet(
    reader: src.Reader,
    have: frozenset[str],
    end: datetime,
    zone: ZoneInfo,
    options: Options,
    all_trios: pd.DataFrame,
) -> pd.DataFrame:
    """Trios with no answered reflection and no held meeting for `quiet_weeks` before `end`."""
    last = await src.last_activity(reader, end, have)
    table = all_trios[["trio_id", "trio", "trio_name"]].merge(last, on="trio_id", how="left")
    cutoff = to_db_time(end - timedelta(weeks=options.quiet_weeks))
    quiet = table[table["last"].isna() | (table["last"].fillna("") < cutoff)].copy()
    quiet["last"] = src.local_dates(quiet["last"].dropna(), zone).reindex(quiet.index)
    quiet = quiet.sort_values(["last", "trio"], na_position="first", kind="stable")
    return quiet.loc[:, list(FIGURES["quiet"])].reset_index(drop=True)


def figures_json(compiled: Compiled) -> dict[str, Any]:
    return {
        name: {
            "columns": list(table.columns),
            "data": table.astype(object).where(table.notna(), None).values.tolist(),
        }
        for name, table in compiled.figures.items()
    }


def figures_from_json(data: dict[str, Any]) -> dict[str, pd.DataFrame]:
    return {
        name: pd.DataFrame(value["data"], columns=value["columns"]) for name, value in data.items()
    }
