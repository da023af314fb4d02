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
from storage.db import Reader, to_db_time

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
    # every school, to name the school a contribution belongs to
    "schools": ("school", "school_name", "local_authority"),
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
    # long format, with person_id (storage/digest_sources.py): every row, whatever its
    # author's consent; bot/digest/consent.py decides what each audience may read
    contributions: pd.DataFrame
    figures: dict[str, pd.DataFrame] = field(default_factory=dict)

    def figure(self, name: str) -> pd.DataFrame:
        return self.figures.get(name, pd.DataFrame(columns=list(FIGURES[name])))


# Weeks a digest may be asked for: the calendar's ends overflow datetime as the week's
# bounds and trend weeks are worked out, and no programme data lies outside these years.
FIRST_YEAR = 2000
LAST_YEAR = 2100


def parse_week(text: str) -> str:
    """'2026-W48' (also '2026w48', '2026-48') → '2026-W48'; ValueError if it is no ISO week
    of the years FIRST_YEAR to LAST_YEAR."""
    cleaned = text.strip().upper().replace("W", "-").replace("--", "-")
    year, _, number = cleaned.partition("-")
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise ValueError(f"week {text!r} is outside {FIRST_YEAR}–{LAST_YEAR}")
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
    reader: Reader,
    week: str,
    zone: ZoneInfo,
    options: Options,
    now: datetime,
    *,
    who: pd.DataFrame | None = None,
) -> Compiled:
    """Read every source for `week` and put the digest's tables together. `who`: everyone
    as `src.people` reads them, when the caller has read them already in this transaction."""
    _, end = week_bounds(week, zone)
    have = await src.tables(reader)
    if who is None:
        who = await src.people(reader)
    all_trios = await src.trios(reader)
    contributions, trend_trio, trend_la = await compile_span(
        reader,
        shift_week(week, 1 - options.trend_weeks),
        week,
        zone,
        have,
        who,
        all_trios,
        contributions_from=week,
    )
    this_trio = trend_trio[trend_trio["week"] == week]
    members = who[who["consented"] & (who["status"] == "active")]
    by_trio = all_trios[["trio", "trio_name"]].merge(this_trio, on="trio", how="left")
    by_trio["members"] = by_trio["trio"].map(await _member_counts(reader, members))
    by_la = trend_la[trend_la["week"] == week].copy()
    by_la["people"] = by_la["local_authority"].map(
        members.groupby("local_authority")["person_id"].count()
    )
    figures = {
        "by_trio": _whole(by_trio, FIGURES["by_trio"]),
        "by_la": _whole(by_la, FIGURES["by_la"]),
        "trend_trio": trend_trio,
        "trend_la": trend_la,
        "drafts": await trio_work.drafts(reader, have, end, zone),
        "quiet": await _quiet(reader, have, end, zone, options, all_trios),
        "stalled": await trio_work.stalled_cycles(
            reader, have, end - timedelta(weeks=options.stalled_weeks), end, zone
        ),
        "actions": await trio_work.action_statuses(reader, have),
        "schools": await src.schools(reader),
    }
    return Compiled(week, now, contributions, figures)


async def compile_span(
    reader: Reader,
    first_week: str,
    last_week: str,
    zone: ZoneInfo,
    have: frozenset[str],
    who: pd.DataFrame,
    all_trios: pd.DataFrame,
    *,
    contributions_from: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Contributions (from `contributions_from`, default `first_week`) and participation
    week by week per trio and per local authority, for the weeks first_week..last_week."""
    start, _ = week_bounds(first_week, zone)
    words_start, _ = week_bounds(contributions_from or first_week, zone)
    _, end = week_bounds(last_week, zone)
    parts = [
        await src.reflections(reader, words_start, end, zone, who),
        await trio_work.summary_items(reader, have, words_start, end, zone, who),
        await trio_work.lesson_study_accounts(reader, have, words_start, end, zone, who),
        await trio_work.meeting_reflections(reader, have, words_start, end, zone, who),
    ]
    contributions = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    contributions = contributions.sort_values(["date", "trio", "kind"], kind="stable")

    delivered = await src.deliveries(reader, start, end, zone, who)
    meetings = await trio_work.meetings(reader, have, start, end, zone)
    meetings = meetings.merge(all_trios[["trio_id", "trio", "local_authorities"]], on="trio_id")
    weeks = [first_week]
    while weeks[-1] != last_week:
        weeks.append(shift_week(weeks[-1], 1))
    by_la = meetings.explode("local_authorities").rename(
        columns={"local_authorities": "local_authority"}
    )
    return (
        contributions.reset_index(drop=True),
        _trend(weeks, delivered, meetings, "trio", all_trios["trio"]),
        _trend(weeks, delivered, by_la, "local_authority", who["local_authority"].dropna()),
    )


async def _member_counts(reader: Reader, members: pd.DataFrame) -> pd.Series:
    """Per trio ref: its members among `members` (consenting, active people)."""
    pairs = await src.trio_members(reader)
    counted = pairs[pairs["person_id"].isin(set(members["person_id"]))]
    return counted.groupby("trio")["person_id"].nunique()


def _counts(frame: pd.DataFrame, by: str, column: str, how: str = "sum") -> pd.Series:
    if frame.empty:
        return pd.Series(dtype="int64")
    return frame.groupby(by)[column].agg(how)


def _trend(
    weeks: list[str], delivered: pd.DataFrame, meetings: pd.DataFrame, by: str, names: pd.Series
) -> pd.DataFrame:
    index = pd.MultiIndex.from_product([weeks, sorted(set(names))], names=["week", by])
    table = pd.DataFrame(index=index)
    if not delivered.empty:  # counted per week, trio and local authority already
        grouped = delivered.groupby(["week", by])
        table["delivered"] = grouped["delivered"].sum()
        table["answered"] = grouped["answered"].sum()
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
    reader: Reader,
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
