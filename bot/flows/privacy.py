"""/privacy: what is held about a person, and their consent to research use, either way."""

from __future__ import annotations

from collections.abc import Sequence

from bot.flows.answers import JSON, Label, OneOf, Option, View
from bot.flows.model import Flow, Step, StepContext
from storage.db import Transaction
from storage.people import PeopleRepo


def privacy_options(view: View) -> Sequence[Option]:
    if view.context.get("consent_given"):
        return (Option("withdraw", Label("withdraw_consent")),)
    return (Option("give", Label("give_consent")),)


def privacy_flow(consent_version: str) -> Flow:
    async def change(tx: Transaction, ctx: StepContext, value: JSON) -> None:
        given = value == "give"
        await PeopleRepo.record_consent(tx, ctx.person_id, given=given, version=consent_version)

    return Flow(
        name="privacy",
        command="/privacy",
        done_template="privacy/changed",
        steps=(
            Step(
                "consent",
                "privacy/overview",
                OneOf(privacy_options),
                apply=change,
                prompt_context=lambda view: {"held": view.context},
            ),
        ),
    )
