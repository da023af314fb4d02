"""What a flow step accepts, and how a raw input becomes a stored answer or a reason."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.flows.dates import EARLIEST_DATE, latest_date, next_year, read_date
from bot.flows.dates import parse_time as parse_time  # settings reads quiet hours with it
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
    # What the step understood but wants confirmed ("did you mean next year's?"): the engine
    # keeps it in the flow's context under HOLD, where the next parse of the step finds it.
    hold: JSON = None


HOLD = "_hold"


def taken(given: Input) -> JSON:
    """What a message said, as a free reflection would store it."""
    if isinstance(given, TextIn):
        return given.text.strip()
    if isinstance(given, VoiceIn):
        return {"voice": given.file_id, "duration": given.duration}
    return None


def holding(context: Mapping[str, JSON], hold: JSON) -> dict[str, JSON]:
    """The flow context keeping `hold` (what a step understood but asks to confirm), or
    forgetting it when `hold` is None."""
    kept = {k: v for k, v in context.items() if k != HOLD}
    if hold is not None:
        kept[HOLD] = hold
    return kept


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


def _asked_at(view: View) -> str:
    """Which question a held answer belongs to: the answers so far, where in a list. Once
    the step is answered (or another asked) they differ, and the hold no longer applies."""
    seen = json.dumps([view.index, view.answers], sort_keys=True, default=str)
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DateAnswer:
    """A calendar date, typed as 2026-12-01 or 1/12/2026 or 1/12; stored as ISO text.

    With `not_past` (meetings, lessons, due dates) a date before today is refused, and a day
    and month that passed recently (see RECENT_PAST) bring a question instead: "30/11 has
    passed — did you mean Tue, 30 Nov 2027?", answered Yes or No (tapped or typed)."""

    not_past: bool = False

    def _held(self, view: View) -> str | None:
        hold = view.context.get(HOLD)
        if isinstance(hold, dict) and hold.get("at") == _asked_at(view):
            return str(hold["day"])
        return None

    def options(self, view: View) -> Sequence[Option]:
        held = self._held(view)
        if held is None:
            return ()
        return (Option("yes", Label("date_yes", {"day": held})), Option("no", Label("no")))

    def parse(self, given: Input, view: View) -> Parsed:
        held = self._held(view)
        if held is not None:
            meant = YesNo().parse(given, view)
            if isinstance(meant, Accepted):
                return Accepted(held) if meant.value else Rejected("date_other")
        if not isinstance(given, TextIn):
            return Rejected("date_format")
        today = view.now.astimezone(view.tz).date()
        typed = read_date(given.text, today)
        if typed is None:
            return Rejected("date_format")
        parsed = typed.day
        if self.not_past and parsed < today:
            later = next_year(parsed)
            if not typed.year_given and later <= latest_date(today):
                params = {"typed": given.text.strip(), "on": later.isoformat()}
                return Rejected(
                    "date_passed", params, hold={"day": later.isoformat(), "at": _asked_at(view)}
                )
            return Rejected("date_past", {"on": parsed.isoformat()})
        if parsed < EARLIEST_DATE:
            return Rejected("date_too_early")
        if parsed > latest_date(today):
            return Rejected("date_too_far")
        return Accepted(parsed.isoformat())


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
