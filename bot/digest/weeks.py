"""Which week a person means, and which weeks there is a digest for.

What people type after /digest: an ISO week (`2026-W49`, `2026w49`, `2026-49`), a week
number without a year (`W47`, `w47`, `47`, `week 47`, `semana 47`), or words (`this week`,
`last week`, `esta semana`, `la semana pasada`, `semana passada`). A number without a year
means the nearest such week that is not in the future: `47` typed in week 49 is this year's
week 47, typed in week 2 last year's. The reply says which week it took (`year_guessed`).

Pure: the clock and the programme's first week come from the caller (bot/digest/service.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from bot.digest.compile import FIRST_YEAR, LAST_YEAR, monday_of, parse_week, shift_week

# Words for a week, in each language of the prompts (accents and case do not matter: they
# are compared without them). The value is the week's distance from this week ("next week"
# is read, so that the reply can say it has not begun rather than that it is no week).
WORDS: dict[str, int] = {
    # English
    "this week": 0,
    "this": 0,
    "current": 0,
    "current week": 0,
    "now": 0,
    "last week": -1,
    "last": -1,
    "previous week": -1,
    "next week": 1,
    # Spanish
    "esta semana": 0,
    "semana actual": 0,
    "la semana actual": 0,
    "la semana pasada": -1,
    "semana pasada": -1,
    "la ultima semana": -1,
    "la semana que viene": 1,
    "la proxima semana": 1,
    # Portuguese
    "essa semana": 0,
    "semana atual": 0,
    "a semana atual": 0,
    "semana passada": -1,
    "a semana passada": -1,
    "a ultima semana": -1,
    "a semana que vem": 1,
    "semana que vem": 1,
    "a proxima semana": 1,
    # Spanish and Portuguese alike
    "ultima semana": -1,
    "proxima semana": 1,
}

_WEEK_WORD = r"(?:w|wk|week|semana|sem|s)"
_WITH_YEAR = (
    re.compile(rf"(?P<year>\d{{4}})\s*[-/ ]?\s*{_WEEK_WORD}?\s*(?P<number>\d{{1,2}})"),
    re.compile(rf"{_WEEK_WORD}\s*(?P<number>\d{{1,2}})\s*(?:[-/, ]|of|de)+\s*(?P<year>\d{{4}})"),
)
_WITHOUT_YEAR = re.compile(rf"(?:{_WEEK_WORD}\s*)?(?P<number>\d{{1,2}})")
# A week 53 is not in every year; the nearest one not in the future may be years back.
_YEARS_BACK = 7


@dataclass(frozen=True, slots=True)
class AskedWeek:
    """The ISO week read, and whether its year was worked out rather than typed."""

    week: str
    year_guessed: bool = False


def _plain(text: str) -> str:
    """Lower case, no accents, single spaces, no closing punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split()).rstrip(".!?")


def _iso(year: int, number: int) -> str | None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    try:
        return parse_week(f"{year}-W{number:02d}")
    except ValueError:
        return None


def read_week(text: str, current: str) -> AskedWeek | None:
    """The week `text` names, `current` being this week; None when it names no week."""
    plain = _plain(text)
    if plain in WORDS:
        return AskedWeek(shift_week(current, WORDS[plain]))
    for pattern in _WITH_YEAR:
        match = pattern.fullmatch(plain)
        if match:
            week = _iso(int(match["year"]), int(match["number"]))
            return None if week is None else AskedWeek(week)
    match = _WITHOUT_YEAR.fullmatch(plain)
    if not match:
        return None
    number = int(match["number"])
    this_year = monday_of(current).isocalendar()[0]
    for year in range(this_year, this_year - _YEARS_BACK, -1):
        week = _iso(year, number)
        if week is not None and monday_of(week) <= monday_of(current):
            return AskedWeek(week, year_guessed=True)
    return None


Place = Literal["before", "within", "future"]


@dataclass(frozen=True, slots=True)
class WeekRange:
    """The weeks there is a digest for: from the week the programme began to this week
    (which, until it ends, is built as it stands: the week so far)."""

    first: str
    current: str

    def place(self, week: str) -> Place:
        monday = monday_of(week)
        if monday < monday_of(self.first):
            return "before"
        if monday > monday_of(self.current):
            return "future"
        return "within"

    @property
    def last_complete(self) -> str | None:
        """Last week, if the programme had begun by then."""
        last = shift_week(self.current, -1)
        return last if self.place(last) == "within" else None
