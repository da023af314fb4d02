"""/privacy: what is held about a person, their consent either way, a copy of their data,
and erasure (asked twice: it cannot be undone)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.flows.answers import JSON, OneOf, Option, View
from bot.flows.model import END, Flow, Step, StepContext
from bot.texts import Label
from storage import personal_data
from storage.db import Transaction
from storage.people import PeopleRepo

DOWNLOAD = Option("download", Label("download_my_data"))
ERASE = Option("erase", Label("erase_me"))
CONFIRM = (Option("erase", Label("erase_confirm")), Option("keep", Label("erase_keep")))


def privacy_options(view: View) -> Sequence[Option]:
    if view.context.get("consent_given"):
        consent = Option("withdraw", Label("withdraw_consent"))
    else:
        consent = Option("give", Label("give_consent"))
    return (consent, DOWNLOAD, ERASE)


def _route(view: View) -> str | None:
    return "confirm_erase" if view.answers.get("consent") == "erase" else END


async def _erase(tx: Transaction, ctx: StepContext, value: JSON) -> None:
    # In the same transaction as the confirmation: confirmed means erased, or neither.
    if value == "erase":
        await personal_data.erase(tx, ctx.person_id)


def privacy_flow(consent_version: str) -> Flow:
    async def change(tx: Transaction, ctx: StepContext, value: JSON) -> None:
        if value in ("give", "withdraw"):
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
                next=_route,
                prompt_context=lambda view: {"held": view.context},
            ),
            Step("confirm_erase", "privacy/confirm_erase", OneOf(CONFIRM), apply=_erase),
        ),
    )
