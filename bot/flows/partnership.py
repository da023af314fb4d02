"""The researcher's answer to a trio's question, and a critical-friend comment on agreed work,
as flows: write it (text or a voice note), see exactly what the trio will get, then send.

Both end in bot/summaries/partnership.py, which records the reply and queues it to the trio
in the flow's own transaction. A refusal there (the question answered meanwhile, the work
gone) ends the flow with the person's own words shown back, so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.flows.answers import (
    NO_WORDS,
    YES_WORDS,
    Accepted,
    FreeText,
    OneOf,
    Option,
    Parsed,
    Rejected,
    View,
    YesNo,
)
from bot.flows.model import END, Complete, Flow, Step, StepContext
from bot.summaries.partnership import Partnership, Refused, answer_values
from bot.summaries.partnership_views import WorkKind
from bot.texts import Label
from storage.db import Transaction
from storage.questions import ReplyKind

ANSWER = FreeText(min_len=2, max_len=3000)
COMMENT = FreeText(min_len=2, max_len=1000)


def _typed_send(text: str) -> Parsed:
    """ "yes" sends, "no" changes it: what people type instead of tapping."""
    word = text.strip().casefold().rstrip(".!")
    if word in YES_WORDS:
        return Accepted("send")
    if word in NO_WORDS:
        return Accepted("change")
    return Rejected("pick_one")


SEND = OneOf(
    (Option("send", Label("reply_send")), Option("change", Label("reply_change"))),
    typed=_typed_send,
)


def _asked(view: View) -> Mapping[str, Any]:
    """The question or the work, as the flow's context holds it."""
    return {"q": dict(view.context)}


def _preview(kind: ReplyKind) -> Callable[[View], Mapping[str, Any]]:
    def values(view: View) -> Mapping[str, Any]:
        c = view.context
        body = view.answers.get(kind)
        return {
            "share": view.answers.get("share"),
            **answer_values(c["trio"], c["author"], kind, body, c.get("question"), c.get("focus")),
        }

    return values


def _reply_flow(kind: ReplyKind, command: str, text: FreeText, complete: Complete) -> Flow:
    """Write it → (an answer: may it be shared?) → the preview: Send, or Change it (back to
    writing it, the text so far shown)."""
    steps = [Step(kind, f"partnership/{kind}_ask", text, prompt_context=_asked)]
    if kind == "answer":
        steps.append(Step("share", "partnership/answer_share", YesNo(), prompt_context=_asked))
    steps.append(
        Step(
            "send",
            f"partnership/{kind}_preview",
            SEND,
            next=lambda view: kind if view.answers.get("send") == "change" else END,
            prompt_context=_preview(kind),
        )
    )
    return Flow(
        name=f"partnership_{kind}",
        command=command,
        done_template=f"partnership/{kind}_done",
        complete=complete,
        done_context=_asked,
        steps=tuple(steps),
    )


def _refused(reason: str, refused: Refused, mine: Any) -> Rejected:
    return Rejected(reason, {"why": refused.why, "yours": mine, "others": refused.others or []})


def partnership_flows(partnership: Partnership) -> tuple[Flow, ...]:
    async def answered(tx: Transaction, ctx: StepContext) -> Rejected | None:
        body = ctx.answers["answer"]
        sent = await partnership.answer(
            tx, ctx.person_id, int(ctx.context["question_id"]), body,
            shareable=bool(ctx.answers.get("share")),
        )  # fmt: skip
        return _refused("answer_refused", sent, body) if isinstance(sent, Refused) else None

    async def commented(tx: Transaction, ctx: StepContext) -> Rejected | None:
        body = ctx.answers["comment"]
        kind: WorkKind = "account" if ctx.context.get("kind") == "account" else "summary"
        sent = await partnership.comment(tx, ctx.person_id, kind, int(ctx.context["work_id"]), body)
        return _refused("comment_refused", sent, body) if isinstance(sent, Refused) else None

    return (
        _reply_flow("answer", "/questions", ANSWER, answered),
        _reply_flow("comment", "/comment", COMMENT, commented),
    )
