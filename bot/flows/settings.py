"""/settings: change one thing at a time — name, language, time zone, quiet hours, reminder."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.flows.answers import (
    JSON,
    NO_WORDS,
    YES_WORDS,
    Accepted,
    ChoiceIn,
    DateAnswer,
    Input,
    OneOf,
    Option,
    Parsed,
    Rejected,
    TimeAnswer,
    View,
    YesNo,
    parse_time,
    parse_zone,
)
from bot.flows.model import Flow, Step, StepContext
from bot.flows.onboarding import LANGUAGE_OPTIONS, parse_name, zone_options
from bot.scheduling.timing import in_quiet_hours
from bot.texts import Label
from storage.db import Transaction
from storage.people import PeopleRepo

WHAT = (
    Option("name", Label("setting_name")),
    Option("language", Label("setting_language")),
    Option("time_zone", Label("setting_time_zone")),
    Option("quiet_hours", Label("setting_quiet_hours")),
    Option("reminder_time", Label("setting_reminder_time")),
    Option("away_until", Label("setting_away_until")),
    Option("digest", Label("setting_digest")),
)

QUIET_CHOICES = ("20:00-07:00", "21:00-07:00", "22:00-06:30", "19:00-08:00")


def parse_quiet_hours(text: str) -> Parsed:
    """'22:00-07:00', '22-7', '10pm to 7am': a start and an end time of day."""
    parts = re.split(r"\s*(?:-|–|—|to|a|até|hasta)\s*", text.strip(), maxsplit=1)
    if len(parts) == 2:
        start, end = parse_time(parts[0]), parse_time(parts[1])
        if start is not None and end is not None and start != end:
            return Accepted(f"{start:%H:%M}-{end:%H:%M}")
    return Rejected("quiet_format")


@dataclass(frozen=True)
class AwayUntil:
    """A date from which prompts and reminders may reach them again, or "I'm back"."""

    day = DateAnswer(not_past=True)

    def options(self, view: View) -> Sequence[Option]:
        # While "did you mean next year's?" waits, its Yes and No are the buttons.
        return self.day.options(view) or (Option("back", Label("away_back")),)

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn) and not self.day.options(view):
            return Accepted("") if given.index == 0 else Rejected("stale_button")
        return self.day.parse(given, view)


def _route(view: View) -> str | None:
    return str(view.answers["what"])


def _times(answers: Mapping[str, JSON], context: Mapping[str, JSON]) -> tuple[str, str, str]:
    """Reminder time, quiet start and end as they stand now: just answered, or as they were."""
    person = context.get("person")
    was = person if isinstance(person, dict) else {}
    quiet = answers.get("quiet_hours") or was.get("quiet_hours") or ""
    start, _, end = str(quiet).replace("–", "-").partition("-")
    reminder = answers.get("reminder_time") or was.get("reminder_time") or ""
    return str(reminder), start, end


def _clashes(view: View) -> str | None:
    """After a change of quiet hours or reminder time: warn if the one falls in the other
    (prompts would wait until the quiet hours end), whichever was changed."""
    reminder, start, end = (parse_time(t) for t in _times(view.answers, view.context))
    if reminder is None or start is None or end is None:
        return None
    return "clash" if in_quiet_hours(reminder, start, end) else None


def _clash_context(view: View) -> dict[str, JSON]:
    reminder, start, end = _times(view.answers, view.context)
    return {"reminder": reminder, "quiet_start": start, "quiet_end": end}


def _clash_options(view: View) -> Sequence[Option]:
    end = _times(view.answers, view.context)[2]
    return (
        Option("move", Label("reminder_move_to", {"time": end})),
        Option("keep", Label("reminder_keep")),
    )


def _typed_yes_no(text: str) -> Parsed:
    """A typed "yes" moves the reminder time, a "no" keeps it (as do "1", "2", "move", "keep")."""
    word = text.strip().casefold().rstrip(".!")
    if word in YES_WORDS:
        return Accepted("move")
    if word in NO_WORDS:
        return Accepted("keep")
    return Rejected("pick_one")


async def _fix_clash(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    if value == "move":
        end = _times(ctx.answers, ctx.context)[2]
        await PeopleRepo.update(tx, ctx.person_id, reminder_time=end)


def _done(view: View) -> dict[str, JSON | Label]:
    moved = _times(view.answers, view.context)[2] if view.answers.get("clash") == "move" else None
    return {"what": Label(f"setting_{view.answers['what']}"), "reminder_moved": moved}


async def _save(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    what = str(ctx.answers["what"])
    if what == "quiet_hours":
        start, end = str(value).split("-")
        await PeopleRepo.update(tx, ctx.person_id, quiet_start=start, quiet_end=end)
    elif what == "away_until":
        await PeopleRepo.update(tx, ctx.person_id, away_until=str(value) or None)
    elif what == "digest":
        await PeopleRepo.update(tx, ctx.person_id, digest_choice="on" if value is True else "off")
    elif what == "name":
        await PeopleRepo.update(tx, ctx.person_id, display_name=str(value))
    else:
        await PeopleRepo.update(tx, ctx.person_id, **{what: str(value)})


def settings_flow() -> Flow:
    def current(view: View) -> dict[str, JSON]:
        return {"person": view.context.get("person", {})}

    return Flow(
        name="settings",
        command="/settings",
        done_template="settings/saved",
        done_context=_done,
        steps=(
            Step("what", "settings/choose", OneOf(WHAT), next=_route, prompt_context=current),
            Step("name", "settings/name", OneOf((), typed=parse_name), next=None, apply=_save),
            Step("language", "settings/language", OneOf(LANGUAGE_OPTIONS), next=None, apply=_save),
            Step(
                "time_zone",
                "settings/time_zone",
                OneOf(zone_options, typed=parse_zone),
                next=None,
                apply=_save,
                prompt_context=current,
            ),
            Step(
                "quiet_hours",
                "settings/quiet_hours",
                OneOf(
                    tuple(Option(q, Label(text=q.replace("-", "–"))) for q in QUIET_CHOICES),
                    typed=parse_quiet_hours,
                ),
                next=_clashes,
                apply=_save,
                prompt_context=current,
            ),
            Step(
                "reminder_time",
                "settings/reminder_time",
                TimeAnswer(),
                next=_clashes,
                apply=_save,
                prompt_context=current,
            ),
            Step(
                "away_until",
                "settings/away_until",
                AwayUntil(),
                next=None,
                apply=_save,
                prompt_context=current,
            ),
            Step(
                "digest",
                "settings/digest",
                YesNo(),
                next=None,
                apply=_save,
                prompt_context=current,
            ),
            # Reached only from quiet hours or reminder time, when one now falls in the other.
            Step(
                "clash",
                "settings/reminder_in_quiet",
                OneOf(_clash_options, typed=_typed_yes_no),
                next=None,
                apply=_fix_clash,
                prompt_context=_clash_context,
            ),
        ),
    )
