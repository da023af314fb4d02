"""The research exports' tables beyond contributions and participation: actions, action
history, lesson study and attendance, with consent applied and pseudonyms in place of ids.

What consent does here (README "Data dictionary" says the same for the people using it):
a pseudonym column names only people whose research consent is current; a row that is one
person's own words or their own record (a lesson-study note, an agreed account, an
attendance mark) is left out when that person does not consent; an action stays (it is the
trio's), with its owner blank when the owner does not consent and its words blank when the
summary's author, who wrote them, does not; a post-lesson discussion has no single author
(the trio records it together), so it is exported only while every member of the cycle
consents. Every table has `week` (the ISO week, programme time) and `partial` (1 for a week
that had not ended when exported).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.digest.exports import pseudonym
from storage import digest_sources as src
from storage import question_digest as qd
from storage import research_exports as rx
from storage.db import Reader

ACTIONS = (
    "action",
    "summary",
    "trio",
    "trio_name",
    "school",
    "local_authority",
    "owner",
    "what",
    "voice",
    "due",
    "status",
    "created",
    "agreed",
    "week",
    "partial",
)
ACTION_HISTORY = ("action", "trio", "status", "how", "by", "changed_at", "week", "partial")
LESSON_STUDY = (
    "cycle",
    "trio",
    "trio_name",
    "subject",
    "focus",
    "round",
    "kind",
    "part",
    "person",
    "pupil",
    "moment",
    "date",
    "text",
    "voice",
    "week",
    "partial",
)
ATTENDANCE = ("meeting", "trio", "trio_name", "date", "person", "attended", "week", "partial")
TABLES = {
    "actions": ACTIONS,
    "action_history": ACTION_HISTORY,
    "lesson_study": LESSON_STUDY,
    "attendance": ATTENDANCE,
}
WHOLE_TRIO = "trio"  # the owner of an action the whole trio took on


@dataclass(frozen=True)
class Research:
    """What the tables are made from: the sources of one span, read once, and who consents."""

    actions: pd.DataFrame
    events: pd.DataFrame
    lesson_study: pd.DataFrame
    members: pd.DataFrame
    attendance: pd.DataFrame
    consenting: frozenset[int]
    zone: ZoneInfo
    current_week: str | None  # the week not yet over when read (its rows are partial)
    # The partnership loop (bot/digest/question_tables.py, bot/digest/questions.py): every
    # question and reply before `end`, whatever the span's start, and the span itself.
    questions: pd.DataFrame = field(default_factory=lambda: src.frame([], qd.QUESTION_COLUMNS))
    replies: pd.DataFrame = field(default_factory=lambda: src.frame([], qd.REPLY_COLUMNS))
    span: tuple[datetime, datetime] | None = None

    def tables(self, key: bytes) -> dict[str, pd.DataFrame]:
        name = Names(key, self.consenting)
        return {
            "actions": self._actions(name),
            "action_history": self._history(name),
            "lesson_study": self._lesson_study(name),
            "attendance": self._attendance(name),
        }

    def _actions(self, name: Names) -> pd.DataFrame:
        found = self.actions
        table = pd.DataFrame(
            {
                "action": found["action_id"],
                "summary": found["summary_id"],
                "trio": found["trio"],
                "trio_name": found["trio_name"],
                "school": found["school"],
                "local_authority": found["local_authority"],
                "owner": [
                    WHOLE_TRIO if person_number(owner) is None else name(owner)
                    for owner in found["owner_id"]
                ],
                "due": found["due_on"],
                "status": found["status"],
                "created": src.local_dates(found["created_at"], self.zone),
                "agreed": src.local_dates(found["agreed_at"], self.zone),
            }
        )
        written = found["author_id"].map(name.consents).astype(bool)
        table.insert(7, "what", found["what"].where(written, ""))
        table.insert(8, "voice", found["voice"].where(written, pd.NA))
        return self.finish(table, src.local_weeks(found["agreed_at"], self.zone), ACTIONS)

    def _history(self, name: Names) -> pd.DataFrame:
        found = self.events
        table = pd.DataFrame(
            {
                "action": found["action_id"],
                "trio": found["trio"],
                "status": found["status"],
                "how": found["how"],
                "by": found["changed_by"].map(name),
                "changed_at": local_times(found["changed_at"], self.zone),
            }
        )
        return self.finish(table, src.local_weeks(found["changed_at"], self.zone), ACTION_HISTORY)

    def _lesson_study(self, name: Names) -> pd.DataFrame:
        found = self.lesson_study
        together = found["kind"] == "discussion"
        everyone = self.members.groupby("cycle")["person_id"].agg(
            lambda ids: all(name.consents(i) for i in ids)
        )
        agreed = found["cycle"].map(everyone).fillna(False).astype(bool)
        own = found["person_id"].map(name.consents).astype(bool)
        kept = found[(together & agreed) | (~together & own)]
        table = kept.drop(columns=["person_id", "at"]).copy()
        table.insert(8, "person", kept["person_id"].map(name))
        table.insert(11, "date", src.local_dates(kept["at"], self.zone))
        table["pupil"] = table["pupil"].astype("Int64")
        table["moment"] = table["moment"].astype("Int64")
        return self.finish(table, src.local_weeks(kept["at"], self.zone), LESSON_STUDY)

    def _attendance(self, name: Names) -> pd.DataFrame:
        found = self.attendance
        kept = found[found["person_id"].map(name.consents).astype(bool)]
        table = pd.DataFrame(
            {
                "meeting": kept["meeting_id"],
                "trio": kept["trio"],
                "trio_name": kept["trio_name"],
                "date": src.local_dates(kept["starts_at"], self.zone),
                "person": kept["person_id"].map(name),
                "attended": kept["attended"],
            }
        )
        return self.finish(table, src.local_weeks(kept["starts_at"], self.zone), ATTENDANCE)

    def finish(
        self, table: pd.DataFrame, weeks: pd.Series, columns: tuple[str, ...]
    ) -> pd.DataFrame:
        table = table.copy()
        table["week"] = weeks.astype("object")
        table["partial"] = partial_flags(table["week"], self.current_week)
        return table.loc[:, list(columns)].reset_index(drop=True)


class Names:
    """Pseudonyms for consenting people; "" for anyone else (and for nobody)."""

    def __init__(self, key: bytes, consenting: Collection[int]) -> None:
        self.key = key
        self.consenting = consenting
        self.made: dict[int, str] = {}

    def consents(self, person_id: object) -> bool:
        number = person_number(person_id)
        return number is not None and number in self.consenting

    def __call__(self, person_id: object) -> str:
        number = person_number(person_id)
        if number is None or number not in self.consenting:
            return ""
        if number not in self.made:
            self.made[number] = pseudonym(self.key, number)
        return self.made[number]


def person_number(value: object) -> int | None:
    """A person id as read into a frame (int, numpy int, or float beside NULLs), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and not math.isnan(value):
        return int(value)
    return None


def partial_flags(weeks: pd.Series, current_week: str | None) -> pd.Series:
    """1 for the rows of the week that had not ended when exported, else 0."""
    if current_week is None:
        return pd.Series(0, index=weeks.index, dtype="int64")
    return (weeks == current_week).astype("int64")


def local_times(values: pd.Series, zone: ZoneInfo) -> pd.Series:
    """UTC text timestamps → local "YYYY-MM-DD HH:MM" in the programme's zone."""
    if values.empty:
        return pd.Series([], index=values.index, dtype="object")
    moments = pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_convert(zone)
    return moments.dt.strftime("%Y-%m-%d %H:%M").astype("object")


async def read(
    reader: Reader,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    consenting: frozenset[int],
    current_week: str | None,
) -> Research:
    """The sources for [start, end), read in the caller's transaction."""
    have = await src.tables(reader)
    return Research(
        actions=await rx.actions(reader, have, start, end),
        events=await rx.action_events(reader, have, start, end),
        lesson_study=await rx.lesson_study(reader, have, start, end),
        members=await rx.cycle_members(reader, have),
        attendance=await rx.attendance(reader, have, start, end),
        consenting=consenting,
        zone=zone,
        current_week=current_week,
        questions=await qd.questions(reader, have, end),
        replies=await qd.replies(reader, have, end),
        span=(start, end),
    )
