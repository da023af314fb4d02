"""Joining: consent, name, language and time zone; each answer applies at once."""

from __future__ import annotations

from collections.abc import Sequence

from bot.flows.answers import JSON, Accepted, OneOf, Option, Parsed, Rejected, View, parse_zone
from bot.flows.model import Flow, Step, StepContext
from bot.people.catch_up import CatchUp
from bot.texts import Label
from storage.db import Transaction
from storage.people import PeopleRepo

NAME_MAX = 64

LANGUAGE_OPTIONS = (
    Option("en", Label(text="English")),
    Option("es", Label(text="Español")),
    Option("pt", Label(text="Português")),
)

# Zones offered as buttons, by language: the places the programme's schools are.
ZONES_BY_LANGUAGE = {
    "en": ("Europe/London", "Europe/Dublin", "Europe/Madrid", "Europe/Lisbon"),
    "es": ("Europe/Madrid", "Atlantic/Canary", "Europe/London", "Europe/Lisbon"),
    "pt": ("Europe/Lisbon", "Atlantic/Azores", "America/Sao_Paulo", "Europe/London"),
}


def zone_options(view: View) -> Sequence[Option]:
    language = str(view.answers.get("language") or view.context.get("language") or "en")
    zones = ZONES_BY_LANGUAGE.get(language, ZONES_BY_LANGUAGE["en"])
    return tuple(Option(zone, Label(text=zone.replace("_", " "))) for zone in zones)


def name_options(view: View) -> Sequence[Option]:
    suggested = str(view.context.get("telegram_name") or "").strip()[:NAME_MAX]
    return (Option(suggested, Label("use_name", {"name": suggested})),) if suggested else ()


def parse_name(text: str) -> Parsed:
    name = " ".join(text.split())
    if not name:
        return Rejected("too_short", {"min": 1})
    if len(name) > NAME_MAX:
        return Rejected("too_long", {"length": len(name), "max": NAME_MAX})
    if name.startswith("/"):
        return Rejected("name_command")
    return Accepted(name)


def consent_options(view: View) -> Sequence[Option]:
    return (Option("yes", Label("consent_yes")), Option("no", Label("consent_no")))


async def _set_name(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    await PeopleRepo.update(tx, ctx.person_id, display_name=str(value))


async def _set_language(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    await PeopleRepo.update(tx, ctx.person_id, language=str(value))


async def _set_zone(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    await PeopleRepo.update(tx, ctx.person_id, time_zone=str(value))


def onboarding_flow(consent_version: str, catch_up: CatchUp | None = None) -> Flow:
    caught_up = catch_up or CatchUp()

    async def welcome(tx: Transaction, ctx: StepContext) -> None:
        await PeopleRepo.mark_onboarded(tx, ctx.person_id)
        # Active now: the invitations and prompts their trio already had, in the same commit.
        await caught_up(tx, ctx.person_id)

    async def record_consent(tx: Transaction, ctx: StepContext, value: JSON) -> None:
        given = value == "yes"
        await PeopleRepo.record_consent(tx, ctx.person_id, given=given, version=consent_version)

    return Flow(
        name="onboarding",
        command="/start",
        done_template="onboarding/welcome",
        done_context=lambda view: {"ctx": view.context},
        complete=welcome,
        steps=(
            Step(
                "consent",
                "onboarding/consent",
                OneOf(consent_options),
                apply=record_consent,
                prompt_context=lambda view: {"version": consent_version},
            ),
            Step("language", "onboarding/language", OneOf(LANGUAGE_OPTIONS), apply=_set_language),
            Step("name", "onboarding/name", OneOf(name_options, typed=parse_name), apply=_set_name),
            Step(
                "time_zone",
                "onboarding/time_zone",
                OneOf(zone_options, typed=parse_zone),
                apply=_set_zone,
            ),
        ),
    )
