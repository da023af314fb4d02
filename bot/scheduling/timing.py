"""When a message may reach a person: their zone, reminder time, quiet hours, school days.

Pure functions over dates and zones; DST-safe: local wall times are built with zoneinfo and
a time that does not exist (the spring-forward gap) moves to the first instant after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

MAX_DAYS_AHEAD = 400  # a calendar with no school day in a year is a mistake, not a wait
# "This evening": the hours we call evening, the time we aim for within them, and how soon
# at the earliest (a tap at 18:31 must not be asked again at 18:36).
EVENING_FROM, EVENING_AIM, EVENING_UNTIL = time(17, 0), time(18, 30), time(22, 0)
EVENING_STEP = timedelta(minutes=30)
EVENING_GAP = timedelta(minutes=15)
EVENING_DAYS = 14
RelativeDay = Literal["today", "tomorrow", "later"]
# Reminders before a meeting or a research lesson, by name; each goes only if still ahead.
REMINDER_LEADS = (("day", timedelta(days=1)), ("hour", timedelta(hours=1)))


@dataclass(frozen=True, slots=True)
class Calendar:
    """The programme's school days: term ranges minus closures, weekdays only.

    With no terms at all every weekday counts (a programme that has not entered its
    calendar still gets prompts, just not at weekends).
    """

    terms: tuple[tuple[date, date], ...] = ()
    closures: tuple[tuple[date, date], ...] = ()

    def is_school_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        if any(start <= day <= end for start, end in self.closures):
            return False
        return not self.terms or any(start <= day <= end for start, end in self.terms)


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a person asked for; times are local wall-clock times in `zone`."""

    zone: ZoneInfo
    reminder: time
    quiet_start: time
    quiet_end: time
    away_until: date | None = None


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day` at wall time `at` in `zone`, as UTC; a wall time in a DST gap moves past it."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:  # no such wall time today: the clocks jumped over it
        aware = (naive + timedelta(hours=1)).replace(tzinfo=zone)
    return aware.astimezone(UTC)


def in_quiet_hours(at: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end  # spans midnight, e.g. 20:00–07:00


def allowed(moment: datetime, prefs: Preferences, calendar: Calendar) -> bool:
    """May a message reach this person at `moment` (UTC)?"""
    local = moment.astimezone(prefs.zone)
    if prefs.away_until is not None and local.date() < prefs.away_until:
        return False
    if not calendar.is_school_day(local.date()):
        return False
    return not in_quiet_hours(local.time(), prefs.quiet_start, prefs.quiet_end)


def next_allowed(
    earliest: datetime, prefs: Preferences, calendar: Calendar, *, at: time | None = None
) -> datetime:
    """The first moment from `earliest` on when the person may be reached.

    With `at` (e.g. the person's reminder time) the answer is that wall time on the first
    allowed day whose `at` is not before `earliest`; without it, the earliest allowed instant.
    """
    zone = prefs.zone
    start_day = earliest.astimezone(zone).date()
    for offset in range(MAX_DAYS_AHEAD):
        day = start_day + timedelta(days=offset)
        if prefs.away_until is not None and day < prefs.away_until:
            continue
        if not calendar.is_school_day(day):
            continue
        if at is not None:
            candidate = local_instant(day, at, zone)
            if candidate < earliest:
                continue
            if in_quiet_hours(at, prefs.quiet_start, prefs.quiet_end):
                candidate = local_instant(day, prefs.quiet_end, zone)
                if candidate < earliest:
                    continue
            return candidate
        candidate = max(earliest, local_instant(day, time(0, 0), zone))
        local = candidate.astimezone(zone)
        if in_quiet_hours(local.time(), prefs.quiet_start, prefs.quiet_end):
            end = local_instant(day, prefs.quiet_end, zone)
            if end < candidate:  # quiet until midnight: try the next day
                continue
            candidate = end
        if allowed(candidate, prefs, calendar):
            return candidate
    raise ValueError("no allowed moment within a year: check the term calendar")


def deferred(
    earliest: datetime, prefs: Preferences, calendar: Calendar, latest: datetime | None = None
) -> datetime:
    """When a message meant for `earliest` should go: then if the person may be reached,
    else their next allowed moment — unless that is later than `latest` (a reminder must come
    before its meeting, even in quiet hours) or the calendar has no allowed day left (better
    now than never)."""
    if allowed(earliest, prefs, calendar):
        return earliest
    try:
        later = next_allowed(earliest, prefs, calendar)
    except ValueError:
        return earliest
    return earliest if latest is not None and later > latest else later


def reminders_ahead(starts_at: datetime, now: datetime) -> tuple[str, ...]:
    """The reminders ("day", "hour") an event at `starts_at` still gets when armed, or read
    about, at `now`: what a confirmation may promise (none "a day before" at 27 minutes)."""
    return tuple(name for name, before in REMINDER_LEADS if starts_at - before > now)


def relative_day(event: datetime, seen_at: datetime, zone: ZoneInfo) -> RelativeDay:
    """How the day of `event` reads to someone reading at `seen_at`, on their wall clock:
    a reminder made on Sunday but delivered on Monday morning speaks of "today"."""
    days = (event.astimezone(zone).date() - seen_at.astimezone(zone).date()).days
    return "today" if days <= 0 else "tomorrow" if days == 1 else "later"


def evening(now: datetime, prefs: Preferences, calendar: Calendar) -> datetime:
    """When "this evening" is, for a person tapping it at `now`.

    Their evening (18:30, or their reminder time when that is later in the evening), or the
    evening moment nearest it that is outside their quiet hours; tomorrow's (or the next
    school day's) once today's has passed or is only minutes away. With no evening moment
    outside quiet hours at all, their first allowed moment after the evening they meant.
    """
    zone = prefs.zone
    aim = prefs.reminder if EVENING_AIM < prefs.reminder < EVENING_UNTIL else EVENING_AIM
    slots = []
    at = datetime.combine(date.min, EVENING_FROM)
    while at.time() <= EVENING_UNTIL:
        slots.append(at.time())
        at += EVENING_STEP
    # Nearest the aim first; on a tie the later one (evening is after, not before, the aim).
    reference = datetime.combine(date.min, aim)
    slots.sort(key=lambda t: (abs(datetime.combine(date.min, t) - reference), -t.hour, -t.minute))
    slots = [aim, *(t for t in slots if t != aim)]
    today = now.astimezone(zone).date()
    for offset in range(EVENING_DAYS):
        day = today + timedelta(days=offset)
        for slot in slots:
            candidate = local_instant(day, slot, zone)
            if candidate >= now + EVENING_GAP and allowed(candidate, prefs, calendar):
                return candidate
    wanted = local_instant(today, aim, zone)
    return next_allowed(max(wanted, now + EVENING_GAP), prefs, calendar)


def iso_week(moment: datetime, zone: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def week_start(period: str, zone: ZoneInfo) -> datetime:
    """Monday 00:00 local of an ISO week like 2026-W48, as UTC."""
    year, week = period.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    return local_instant(monday, time(0, 0), zone)


def preferences(row: Any, default_zone: str) -> Preferences:
    """A person's Preferences from their `person` row (or anything indexable the same way)."""
    return Preferences(
        zone=ZoneInfo(row["time_zone"] or default_zone),
        reminder=time.fromisoformat(row["reminder_time"]),
        quiet_start=time.fromisoformat(row["quiet_start"]),
        quiet_end=time.fromisoformat(row["quiet_end"]),
        away_until=datetime.fromisoformat(row["away_until"]).date() if row["away_until"] else None,
    )


def promising(values: dict[str, Any], starts_at: datetime) -> Callable[[datetime], dict[str, Any]]:
    """An invitation's values as worded when it arrives: it promises only the reminders still
    to come then (none for a meeting 27 minutes away)."""

    def at(delivered: datetime) -> dict[str, Any]:
        return {**values, "reminders": reminders_ahead(starts_at, delivered)}

    return at
