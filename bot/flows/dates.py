"""How typed text becomes a date or a time of day: the formats people use, a day and month
without a year, and the bounds on any date. Pure; the answer types in `answers.py` use it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y")

# A day and month without a year mean the nearest such date. One that passed this year less
# than RECENT_PAST ago is read as that date, already past: typed on 1 December, 30/11 most
# likely means yesterday (a slip, or a look back), not a date a year away. A step that takes
# no past dates then asks whether next year's was meant, rather than moving the date a year
# on without a word. Further back, the next such date is meant: 15/1 typed in December is
# next January. Half a year keeps every date taken without a question within six months.
RECENT_PAST = timedelta(days=183)


@dataclass(frozen=True, slots=True)
class TypedDate:
    day: date
    year_given: bool


def read_date(text: str, today: date) -> TypedDate | None:
    """The date `text` names, and whether it named the year (see RECENT_PAST)."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return TypedDate(datetime.strptime(text, fmt).date(), year_given=True)
        except ValueError:
            continue
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})", text)
    if not match:
        return None
    day, month = int(match[1]), int(match[2])
    for year in range(today.year - 1, today.year + 5):  # 29/2: up to the next leap year
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 29/2 outside a leap year: try the next
        if candidate >= today - RECENT_PAST:
            return TypedDate(candidate, year_given=False)
    return None


def parse_date(text: str, today: date) -> date | None:
    typed = read_date(text, today)
    return None if typed is None else typed.day


def next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


# Bounds on any date answer. Nothing the programme plans lies years ahead, and a date near
# the calendar's end overflows datetime once a flow adds a time or duration to it. The
# reasons date_too_early and date_too_far state these bounds in words: change them together.
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 2


def latest_date(today: date) -> date:
    """The last date a date answer accepts: YEARS_AHEAD years after `today`."""
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def parse_time(text: str) -> time | None:
    text = text.strip().lower().replace(" ", "")
    match = re.fullmatch(r"(\d{1,2})(?:[:.h](\d{2}))?(am|pm)?", text) or re.fullmatch(
        r"(\d{2})(\d{2})()", text
    )
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if match[3] == "pm" and hour < 12:
        hour += 12
    elif match[3] == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or (match[3] and int(match[1]) > 12):
        return None
    return time(hour, minute)
