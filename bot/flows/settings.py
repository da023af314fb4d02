"""/settings: change one thing at a time — name, language, time zone, quiet hours, reminder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.flows.answers import (
    JSON,
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


async def _save(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    what = str(ctx.answers["what"])
    if what == "quiet_hours":
        start, end = str(value).split("-")
        await PeopleRepo.update(tx, ctx.person_id, quiet_start=start, quiet_end=end)
    elif what == "away_until":
        await PeopleRepo.update(tx, ctx.person_id, away_until=str(value) or None)
    elif what == "digest":
        await PeopleRepo.update(tx, ctx.person_id, digest_opt_in=int(value is True))
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
        done_context=lambda view: {"what": Label(f"setting_{view.answers['what']}")},
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
                next=None,
                apply=_save,
                prompt_context=current,
            ),
            Step(
                "reminder_time",
                "settings/reminder_time",
                TimeAnswer(),
                next=None,
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
        ),
    )
