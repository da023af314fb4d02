"""Answering a reflection prompt (or writing a free reflection): one free-text step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.flows.answers import FreeText
from bot.flows.model import Flow, Step, StepContext
from storage.db import Transaction

SaveAnswer = Callable[[Transaction, int, int | None, Any], Awaitable[None]]


def reflection_flow(save: SaveAnswer) -> Flow:
    async def complete(tx: Transaction, ctx: StepContext) -> None:
        reflection_id = ctx.context.get("reflection_id")
        await save(tx, ctx.person_id, reflection_id, ctx.answers["answer"])

    return Flow(
        name="reflection",
        command="/reflect",
        done_template="reflections/thanks",
        complete=complete,
        steps=(Step("answer", "reflections/ask", FreeText(min_len=2, max_len=3000, parts=True)),),
    )
