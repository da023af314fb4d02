"""The digest's sources: each reads the store into a pandas DataFrame of a documented shape.

A source is independent of the others, so a feature that lands later (meetings and summaries,
lesson study) adds a source without touching the rest; the sources for tables that are not in
this database yet return empty frames of the right shape (checked in storage/catalogue.py).

The long format every contribution source returns, one row per contribution:

    person_id        the contributor's person id (exports replace it by a pseudonym)
    role             their main role: trio_lead, teacher, researcher, coordinator
    school           school reference;  local_authority  its local authority's name
    trio, trio_name  the trio's reference and name (a person in two trios: the first)
    date             local date in the programme's zone, YYYY-MM-DD
    kind             reflection | focus | shared | evidence | barrier | action | question |
                     other | lesson_study | meeting_reflection
    tags             "key=value" pairs joined by ";", e.g. "prompt=practice;voice=34"
    text             the words ("" for a voice note: the recording itself is never exported)

Contribution sources keep every row, whoever wrote it and whatever their consent: consent is
applied when a week is read (bot/digest/consent.py, the written policy), so the archive holds
what both digests need and a withdrawal, or consent given again, reaches archived weeks too.
A row of agreed trio work whose author was erased has person_id NULL and role "".
The participation sources (`deliveries`) count only people consenting when they run.
Every source takes an `end` instant and reads nothing recorded at or after it, so a past week
compiles the same way whenever it is compiled (the archive in storage/digests.py adds the rest).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from storage.catalogue import tables as tables  # src.tables: which sources can read
from storage.db import Reader, to_db_time
from storage.digest_statements import (
    DELIVERIES_POSTGRESQL,
    DELIVERIES_SQLITE,
    REFLECTIONS_POSTGRESQL,
    REFLECTIONS_SQLITE,
)

CONTRIBUTION_COLUMNS = (
    "person_id",
    "role",
    "school",
    "local_authority",
    "trio",
    "trio_name",
    "date",
    "kind",
    "tags",
    "text",
)
ITEM_KINDS = ("focus", "shared", "evidence", "barrier", "action", "question", "other")
# The trio's jointly agreed work: an agreed summary's parts and an agreed lesson-study account.
# What the shared digest may show (bot/digest/consent.py); erasure keeps these rows of the
# archive (storage/personal_data.py names the same kinds in SQL).
AGREED_KINDS = (*ITEM_KINDS, "lesson_study")
ARENAS = ("within", "between", "beyond")
ROLE_ORDER = ("trio_lead", "teacher", "researcher", "coordinator")


def frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=list(columns))


def empty_contributions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype="int64" if c == "person_id" else "object")
            for c in CONTRIBUTION_COLUMNS
        }
    )


def local_dates(values: pd.Series, zone: ZoneInfo) -> pd.Series:
    """UTC text timestamps → local dates (YYYY-MM-DD text) in the programme's zone."""
    return _bucket(values, zone, days=1)


def local_weeks(values: pd.Series, zone: ZoneInfo) -> pd.Series:
    """UTC text timestamps → ISO weeks (YYYY-Www) in the programme's zone."""
    return _bucket(values, zone, days=7)


def _bucket(values: pd.Series, zone: ZoneInfo, *, days: int) -> pd.Series:
    """Label each timestamp with its local day or week by binary search over the local
    midnights (as sortable UTC text, like the stored times): DST-correct, and far faster
    than converting every value to an aware datetime."""
    present = values.dropna()
    if present.empty:
        return pd.Series([None] * len(values), index=values.index, dtype="object")
    first = datetime.fromisoformat(str(present.min())).astimezone(zone).date()
    last = datetime.fromisoformat(str(present.max())).astimezone(zone).date()
    first -= timedelta(days=first.weekday() if days == 7 else 0)
    bounds, labels = [], []
    while first <= last:
        bounds.append(to_db_time(local_midnight(first, zone)))
        year, week, _ = first.isocalendar()
        labels.append(first.isoformat() if days == 1 else f"{year}-W{week:02d}")
        first += timedelta(days=days)
    where = np.searchsorted(np.array(bounds), present.to_numpy(dtype=str), side="right") - 1
    found = pd.Series(np.array(labels, dtype=object)[where], index=present.index)
    return found.reindex(values.index)


def local_weeks_of_dates(values: pd.Series) -> pd.Series:
    """Local dates (YYYY-MM-DD text) → their ISO weeks (YYYY-Www)."""
    weeks = {d: "{}-W{:02d}".format(*date.fromisoformat(d).isocalendar()[:2]) for d in set(values)}
    return values.map(weeks).astype("object")


# --- people ------------------------------------------------------------------------------
PEOPLE_COLUMNS = (
    "person_id",
    "status",
    "roles",
    "consented",
    "school",
    "school_name",
    "local_authority",
    "trio_id",
    "trio",
    "trio_name",
)


async def people(reader: Reader) -> pd.DataFrame:
    """Everyone, with their main role, school, local authority, first trio and current consent.

    The trio is the first trio they are a member of, else the trio their school is in.
    """
    rows = await reader.fetchall(
        "SELECT p.id, p.status,"
        " (SELECT group_concat(role) FROM person_role r WHERE r.person_id = p.id),"
        " (SELECT c.given FROM consent c WHERE c.person_id = p.id ORDER BY c.id DESC LIMIT 1),"
        " s.ref, s.name, la.name, t.id, t.ref, t.name"
        " FROM person p LEFT JOIN school s ON s.id = p.school_id"
        " LEFT JOIN local_authority la ON la.id = s.local_authority_id"
        " LEFT JOIN trio t ON t.id = COALESCE("
        "  (SELECT MIN(m.trio_id) FROM trio_member m WHERE m.person_id = p.id),"
        "  (SELECT MIN(ts.trio_id) FROM trio_school ts WHERE ts.school_id = p.school_id))"
    )
    found = frame(rows, PEOPLE_COLUMNS)
    found["consented"] = found["consented"].fillna(0).astype(int) == 1
    found["roles"] = found["roles"].fillna("").map(_main_role)
    return found.rename(columns={"roles": "role"})


def _main_role(roles: str) -> str:
    held = set(roles.split(","))
    return next((r for r in ROLE_ORDER if r in held), "teacher")


async def trios(reader: Reader) -> pd.DataFrame:
    """Every trio: trio_id, trio, trio_name, and its schools' local authorities (a list)."""
    # One row per trio and school, gathered here: the same lists from either store.
    rows = await reader.fetchall(
        "SELECT t.id, t.ref, t.name, la.name"
        " FROM trio t LEFT JOIN trio_school ts ON ts.trio_id = t.id"
        " LEFT JOIN school s ON s.id = ts.school_id"
        " LEFT JOIN local_authority la ON la.id = s.local_authority_id"
        " ORDER BY t.ref, t.id"
    )
    gathered: dict[int, tuple[str, str, set[str]]] = {}
    for trio_id, ref, name, authority in rows:
        found_trio = gathered.setdefault(int(trio_id), (ref, name, set()))
        if authority:
            found_trio[2].add(str(authority))
    return frame(
        [(i, ref, name, sorted(las)) for i, (ref, name, las) in gathered.items()],
        ("trio_id", "trio", "trio_name", "local_authorities"),
    )


async def trio_members(reader: Reader) -> pd.DataFrame:
    """Who is in each trio: trio (ref), person_id. A person counts in every trio they are a
    member of (a teacher trio as well as their school's trio); someone in no trio_member row
    yet counts in the trios their school is in."""
    rows = await reader.fetchall(
        "SELECT t.ref, m.person_id FROM trio_member m JOIN trio t ON t.id = m.trio_id"
        " UNION SELECT t.ref, p.id FROM person p"
        " JOIN trio_school ts ON ts.school_id = p.school_id JOIN trio t ON t.id = ts.trio_id"
        " WHERE NOT EXISTS (SELECT 1 FROM trio_member m WHERE m.person_id = p.id)"
    )
    return frame(rows, ("trio", "person_id"))


async def schools(reader: Reader) -> pd.DataFrame:
    """Every school: school (ref), school_name, local_authority (its name)."""
    rows = await reader.fetchall(
        "SELECT s.ref, s.name, la.name FROM school s"
        " LEFT JOIN local_authority la ON la.id = s.local_authority_id ORDER BY s.ref"
    )
    return frame(rows, ("school", "school_name", "local_authority"))


async def display_names(reader: Reader, person_ids: Sequence[int]) -> dict[int, str]:
    """The names these people go by now (nobody erased), for the shared digest's action
    owners; read when a digest is rendered, never archived."""
    if not person_ids:
        return {}
    rows = await reader.fetchall(
        "SELECT id, display_name FROM person"
        " WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))"
        " AND status != 'erased' AND display_name IS NOT NULL",
        (json.dumps(sorted({int(i) for i in person_ids})),),
    )
    return {int(r[0]): str(r[1]) for r in rows}


def with_person_ids(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that name a person, with person_id as int64, ready to merge on it.

    An erased author's shared work keeps its rows with person_id NULL; read from SQLite,
    such a column is object (all NULL) or float (some NULL), and pandas refuses to merge an
    object column with an integer one.
    """
    named = rows[rows["person_id"].notna()]
    return named.astype({"person_id": "int64"})


_WHO = ("person_id", "role", "school", "local_authority", "trio", "trio_name")


def attribute(contributions: pd.DataFrame, who: pd.DataFrame) -> pd.DataFrame:
    """Add role, school, local authority and trio from `who` to every row.

    Nobody is dropped here: consent is applied when the rows are read (bot/digest/consent.py).
    A row without a person (agreed work whose author was erased) keeps person_id NULL, role ""
    and only the school and trio it names itself; person_id is then the nullable Int64.
    """
    columns = list(CONTRIBUTION_COLUMNS)
    named = with_person_ids(contributions).merge(
        with_person_ids(who.loc[:, list(_WHO)]), on="person_id", how="inner", suffixes=("_own", "")
    )
    for column in ("trio", "trio_name", "school", "local_authority"):
        own = f"{column}_own"
        # The contribution names its trio, or the school it belongs to (a summary's items):
        # that one wins.
        if own in named:
            named[column] = named[own].where(named[own].notna(), named[column])
    nobody = contributions[contributions["person_id"].isna()]
    if nobody.empty:
        return named.loc[:, columns].reset_index(drop=True) if len(named) else empty_contributions()
    # What the contribution says of itself (its trio, and its school once items name one)
    # stays; what only the author could have told is empty.
    nobody = nobody.reindex(columns=columns).assign(person_id=None)
    nobody["role"] = nobody["role"].astype(object).where(nobody["role"].notna(), "")
    joined = pd.concat([p for p in (named.loc[:, columns], nobody) if len(p)], ignore_index=True)
    return joined.astype({"person_id": "Int64"})


# --- reflections --------------------------------------------------------------------------
async def reflections(
    reader: Reader, start: datetime, end: datetime, zone: ZoneInfo, who: pd.DataFrame
) -> pd.DataFrame:
    """Answered reflections in [start, end), as contributions (kind "reflection")."""
    # The answer is JSON: text, a list of choices, or a voice note {"voice", "duration"},
    # whose words are not here (only its length) and whose file id is never read.
    rows = await reader.fetchall(
        REFLECTIONS_SQLITE if reader.dialect == "sqlite" else REFLECTIONS_POSTGRESQL,
        (to_db_time(start), to_db_time(end)),
    )
    found = frame(rows, ("person_id", "answered_at", "text", "tags"))
    if found.empty:
        return empty_contributions()
    found["text"] = found["text"].fillna("")
    found["date"] = local_dates(found["answered_at"], zone)
    found["kind"] = "reflection"
    return attribute(found, who)


async def deliveries(
    reader: Reader, start: datetime, end: datetime, zone: ZoneInfo, who: pd.DataFrame
) -> pd.DataFrame:
    """Prompts delivered in [start, end) to consenting people, counted per ISO week (programme
    time; `start` a local Monday midnight), trio and local authority of each person in `who`:
    week, trio, local_authority (None where the person has none), delivered, answered
    (answered before `end`).

    Counted in the database, not row by row here: at 1,100 schools eight trend weeks are 79,200
    deliveries, and reading each into pandas cost a third of a second. The week's bounds and
    who is in which (trio, local authority) go in as JSON; each week is one range of the
    reflection_delivered index (migration 0014).
    """
    weeks: list[tuple[str, str, str]] = []
    monday = start.astimezone(zone).date()
    while (low := local_midnight(monday, zone)) < end:
        year, number, _ = monday.isocalendar()
        monday += timedelta(days=7)
        high = min(local_midnight(monday, zone), end)
        weeks.append((f"{year}-W{number:02d}", to_db_time(low), to_db_time(high)))
    consenting = with_person_ids(
        who.loc[who["consented"], ["person_id", "trio", "local_authority"]]
    )
    places: dict[tuple[object, object], int] = {}
    group: dict[str, int] = {}
    for person, trio, authority in consenting.itertuples(index=False, name=None):
        key = (
            trio if isinstance(trio, str) else None,
            authority if isinstance(authority, str) else None,
        )
        group[str(person)] = places.setdefault(key, len(places))
    rows = await reader.fetchall(
        DELIVERIES_SQLITE if reader.dialect == "sqlite" else DELIVERIES_POSTGRESQL,
        {"weeks": json.dumps(weeks), "groups": json.dumps(group), "end": to_db_time(end)},
    )
    named = list(places)
    return frame(
        [(r[0], *named[int(r[1])], int(r[2]), int(r[3] or 0)) for r in rows],
        ("week", "trio", "local_authority", "delivered", "answered"),
    )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant `day` begins on the programme's wall clock."""
    return datetime.combine(day, time(0, 0)).replace(tzinfo=zone)


async def last_activity(reader: Reader, end: datetime, have: frozenset[str]) -> pd.DataFrame:
    """Per trio: the latest answered reflection or held meeting before `end` (trio_id, last)."""
    parts = [
        # Each member's latest answer is one step down reflection_person_answered (migration
        # 0014), not a scan of every answered reflection of the programme; materialized, so
        # that the step is taken once per member (flattened into MAX(...) with a HAVING on
        # it, SQLite took it twice: 23 → 16 ms at 9,900 members).
        "SELECT trio_id, MAX(answered) AS last FROM latest GROUP BY trio_id"
        " HAVING MAX(answered) IS NOT NULL"
    ]
    if "meeting" in have:
        parts.append(
            "SELECT trio_id, MAX(starts_at) FROM meeting WHERE status = 'held'"
            " AND starts_at < :end GROUP BY trio_id"
        )
    # The parts are fixed text chosen above; only :end is a value.
    union = " UNION ALL ".join(parts)
    latest = (
        "WITH latest AS MATERIALIZED (SELECT m.trio_id AS trio_id,"
        " (SELECT MAX(r.answered_at) FROM reflection r WHERE r.person_id = m.person_id"
        "  AND r.status = 'answered' AND r.answered_at < :end) AS answered FROM trio_member m)"
    )
    sql = f"{latest} SELECT trio_id, MAX(last) FROM ({union}) AS parts GROUP BY trio_id"  # noqa: S608
    return frame(await reader.fetchall(sql, {"end": to_db_time(end)}), ("trio_id", "last"))
