"""What a flow step accepts, and how a raw input becomes a stored answer or a reason."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.texts import Label

JSON = Any


# --- what the person sent --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TextIn:
    text: str


@dataclass(frozen=True, slots=True)
class VoiceIn:
    file_id: str
    duration: int


@dataclass(frozen=True, slots=True)
class ChoiceIn:
    index: int


@dataclass(frozen=True, slots=True)
class OtherIn:
    """A sticker, photo, document, location…: something no step takes."""

    kind: str


Input = TextIn | VoiceIn | ChoiceIn | OtherIn


# --- what a step does with it ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: Label


@dataclass(frozen=True, slots=True)
class Accepted:
    value: JSON


@dataclass(frozen=True, slots=True)
class Rejected:
    """`reason` names a template in prompts/<lang>/reasons/; params fill it in."""

    reason: str
    params: Mapping[str, Any] = field(default_factory=dict)


Parsed = Accepted | Rejected


@dataclass(frozen=True, slots=True)
class View:
    """What a step may look at: answers so far, the flow's context, the clock and zone."""

    answers: Mapping[str, JSON]
    context: Mapping[str, JSON]
    now: datetime
    tz: ZoneInfo
    # Inside an item of a Repeat: `answers` are the item's own, `outer` the whole flow's,
    # `index` the item's position and `item` what it is for (with `each`: a school, an action).
    index: int = 0
    item: JSON = None
    outer: View | None = None


class AnswerType(Protocol):
    def options(self, view: View) -> Sequence[Option]: ...

    def parse(self, given: Input, view: View) -> Parsed: ...


def _not_text(given: Input) -> Rejected:
    """A step that wants a button got a sticker, photo, voice note…"""
    if isinstance(given, OtherIn):
        return Rejected("wrong_kind", {"kind": given.kind})
    if isinstance(given, ChoiceIn):
        return Rejected("stale_button")
    return Rejected("wrong_kind", {"kind": "voice"})


@dataclass(frozen=True)
class FreeText:
    """Free text within length bounds; a voice note is taken instead when `voice` is on."""

    min_len: int = 1
    max_len: int = 2000
    voice: bool = True
    # Text over max_len may be saved split: the answer is then a list of parts (drafts.py).
    parts: bool = False

    def options(self, view: View) -> Sequence[Option]:
        return ()

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, VoiceIn) and self.voice:
            return Accepted({"voice": given.file_id, "duration": given.duration})
        if not isinstance(given, TextIn):
            if isinstance(given, ChoiceIn):
                return Rejected("stale_button")
            return Rejected(
                "wrong_kind_text",
                {
                    "kind": given.kind if isinstance(given, OtherIn) else "voice",
                    "voice": self.voice,
                },
            )
        text = given.text.strip()
        if len(text) < self.min_len:
            return Rejected("too_short", {"min": self.min_len})
        if len(text) > self.max_len:
            return Rejected("too_long", {"length": len(text), "max": self.max_len})
        return Accepted(text)


OptionSource = Sequence[Option] | Callable[[View], Sequence[Option]]


def _resolve(source: OptionSource, view: View) -> Sequence[Option]:
    return source(view) if callable(source) else source


def _match_typed(text: str, options: Sequence[Option]) -> Option | None:
    """Let people type a choice: its number, its value or its literal label."""
    wanted = text.strip().casefold()
    if wanted.isdigit() and 1 <= int(wanted) <= len(options):
        return options[int(wanted) - 1]
    for option in options:
        if wanted in (option.value.casefold(), (option.label.text or "").casefold()):
            return option
    return None


@dataclass(frozen=True)
class OneOf:
    """One choice from buttons. `typed` may accept free text too (e.g. any IANA zone)."""

    choices: OptionSource
    typed: Callable[[str], Parsed] | None = None

    def options(self, view: View) -> Sequence[Option]:
        return _resolve(self.choices, view)

    def parse(self, given: Input, view: View) -> Parsed:
        options = self.options(view)
        if isinstance(given, ChoiceIn):
            if 0 <= given.index < len(options):
                return Accepted(options[given.index].value)
            return Rejected("stale_button")
        if isinstance(given, TextIn):
            found = _match_typed(given.text, options)
            if found is not None:
                return Accepted(found.value)
            if self.typed is not None:
                return self.typed(given.text)
            return Rejected("pick_one")
        return _not_text(given)


@dataclass(frozen=True)
class ManyOf:
    """Several choices: taps toggle, a Done button finishes. Picks are kept in flow state."""

    choices: OptionSource
    min_picks: int = 1
    max_picks: int | None = None

    def options(self, view: View) -> Sequence[Option]:
        return _resolve(self.choices, view)

    def parse(self, given: Input, view: View) -> Parsed:
        # The engine handles toggles; this is called on Done with the picked values, or on
        # typed text like "1, 3".
        options = self.options(view)
        if isinstance(given, TextIn):
            picked = []
            for part in re.split(r"[,;\s]+", given.text.strip()):
                if not part:
                    continue
                found = _match_typed(part, options)
                if found is None:
                    return Rejected("pick_many", {"min": self.min_picks})
                picked.append(found.value)
            return self.check(list(dict.fromkeys(picked)))
        if isinstance(given, OtherIn | VoiceIn):
            return _not_text(given)
        return Rejected("pick_many", {"min": self.min_picks})

    def check(self, picked: list[str]) -> Parsed:
        if len(picked) < self.min_picks:
            return Rejected("pick_many", {"min": self.min_picks})
        if self.max_picks is not None and len(picked) > self.max_picks:
            return Rejected("too_many", {"max": self.max_picks})
        return Accepted(picked)


YES_WORDS = frozenset({"yes", "y", "si", "sí", "sim", "s", "ok"})
NO_WORDS = frozenset({"no", "n", "não", "nao"})


@dataclass(frozen=True)
class YesNo:
    def options(self, view: View) -> Sequence[Option]:
        return (Option("yes", Label("yes")), Option("no", Label("no")))

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn) and given.index in (0, 1):
            return Accepted(given.index == 0)
        if isinstance(given, TextIn):
            word = given.text.strip().casefold().rstrip(".!")
            if word in YES_WORDS:
                return Accepted(True)
            if word in NO_WORDS:
                return Accepted(False)
        if isinstance(given, OtherIn | VoiceIn):
            return _not_text(given)
        return Rejected("yes_or_no")


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y")


def parse_date(text: str, today: date) -> date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    # Day and month only: the next such date from today.
    match = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})", text)
    if match:
        day, month = int(match[1]), int(match[2])
        for year in (today.year, today.year + 1):
            try:
                candidate = date(year, month, day)
            except ValueError:
                return None
            if candidate >= today:
                return candidate
    return None


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


@dataclass(frozen=True)
class DateAnswer:
    """A calendar date, typed as 2026-12-01 or 1/12/2026 or 1/12; stored as ISO text."""

    not_past: bool = False

    def options(self, view: View) -> Sequence[Option]:
        return ()

    def parse(self, given: Input, view: View) -> Parsed:
        if not isinstance(given, TextIn):
            return Rejected("date_format")
        today = view.now.astimezone(view.tz).date()
        parsed = parse_date(given.text, today)
        if parsed is None:
            return Rejected("date_format")
        if self.not_past and parsed < today:
            return Rejected("date_past")
        if parsed < EARLIEST_DATE:
            return Rejected("date_too_early")
        if parsed > latest_date(today):
            return Rejected("date_too_far")
        return Accepted(parsed.isoformat())


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


@dataclass(frozen=True)
class TimeAnswer:
    """A time of day, typed as 16:00, 4pm or 16.00; stored as HH:MM."""

    def options(self, view: View) -> Sequence[Option]:
        return ()

    def parse(self, given: Input, view: View) -> Parsed:
        parsed = parse_time(given.text) if isinstance(given, TextIn) else None
        if parsed is None:
            return Rejected("time_format")
        return Accepted(parsed.strftime("%H:%M"))


_ZONES: frozenset[str] | None = None


def parse_zone(text: str) -> Parsed:
    """Any IANA zone name, matched without regard to case."""
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    wanted = text.strip().replace(" ", "_")
    for zone in (wanted, *(z for z in _ZONES if z.casefold() == wanted.casefold())):
        if zone in _ZONES:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                break
            return Accepted(zone)
    return Rejected("unknown_zone", {"given": text.strip()[:60]})
