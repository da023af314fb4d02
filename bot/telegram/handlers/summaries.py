"""/summary, the Approve / Suggest / Edit / Confirm buttons on a draft, and action statuses.

What each may do is decided in bot/summaries/taps.py; here the outcome is rendered.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.buttons import ActionTap, SummaryAction, SummaryTap
from bot.flows.engine import Outcome, Say, Tapped, Toast
from bot.meetings.taps import ConfirmTakeOver, OpenFlow
from bot.summaries.agreement import Decision
from bot.summaries.taps import Marked, NotWritten
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import buttons, deliver, joined, refuse, say, tapped, wake
from bot.telegram.handlers.meetings import take_over_question
from bot.texts import Label

# The label a tapped button is replaced by, once what it asked for is done.
CHOSEN: dict[SummaryAction, Label] = {
    "a": Label("approved"),
    "c": Label("confirm_agreed"),
    "s": Label("suggest_change"),
    "e": Label("edit_summary"),
}


async def summary(update: Update, context: Context) -> None:
    """Write up the latest meeting, or see where its summary stands."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    view = await svc.summary_taps.view(who.person.id, who.roles)
    chat_id = who.actor.chat_id
    if view == "not_allowed":
        await refuse(context, who, "summary.approve")
    elif view == "no_meeting":
        await say(context, chat_id, who.lang, "summary/no_meeting")
    elif isinstance(view, NotWritten):
        values: dict[str, object] = {"trio": view.trio, "writer": view.writer}
        await say(context, chat_id, who.lang, "summary/not_written", values)
    elif isinstance(view, ConfirmTakeOver):
        await deliver(update, context, Outcome([take_over_question(context, view)]), who.lang)
    elif isinstance(view, OpenFlow):
        outcome = await svc.engine.start(who.actor, view.flow, view.context)
        await deliver(update, context, outcome, who.lang)
    else:
        values = {
            "trio": view.trio,
            "status": view.status,
            "approved": view.approved,
            "total": view.total,
            "waiting": view.waiting,
            "past_deadline": view.past_deadline,
        }
        rows = [[(Label("confirm_agreed"), view.confirm)]] if view.confirm else []
        keyboard = buttons(context, who.lang, rows)
        await say(context, chat_id, who.lang, "summary/status", values, keyboard)


async def on_button(update: Update, context: Context) -> None:
    """A tap on a draft summary: approved or agreed, the flow it opens, or why not."""
    found = await tapped(update, context, SummaryTap)
    if found is None:
        return
    who, tap = found
    svc = context.bot_data
    result = await svc.summary_taps.tap(who.person.id, tap)
    if isinstance(result, OpenFlow):
        outcome = await svc.engine.start(who.actor, result.flow, result.context)
        outcome.replies.insert(0, Tapped(chosen=CHOSEN[tap.action]))
    else:
        outcome = _decided(result, CHOSEN[tap.action])
    wake(context)
    await deliver(update, context, outcome, who.lang)


def _decided(result: Decision, chosen: Label) -> Outcome:
    if result in ("approved", "agreed"):
        return Outcome([Tapped(chosen=chosen)])
    if result == "not_yours":
        return Outcome([Toast(Label("button_not_yours"), alert=True)])
    if result == "too_early":
        return Outcome([Toast(Label("summary_too_early"), alert=True)])
    return Outcome([Toast(Label("summary_stale"), alert=True), Tapped()])


async def on_action_button(update: Update, context: Context) -> None:
    """Done / in progress / dropped, from the owner (or the trio's lead)."""
    found = await tapped(update, context, ActionTap)
    if found is None:
        return
    who, tap = found
    result = await context.bot_data.summary_taps.mark(who.person.id, tap)
    outcome: Outcome
    if isinstance(result, Marked):
        chosen = Label("action_status", {"status": result.status})
        outcome = Outcome([Tapped(chosen=chosen), Say("actions/marked", {"status": result.status})])
    elif result == "not_yours":
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
    else:
        outcome = Outcome([Toast(Label("button_stale")), Tapped()])
    await deliver(update, context, outcome, who.lang)


def register(app: App) -> None:
    # The buttons on these messages are routed in bot/app/factory.py.
    app.add_handler(CommandHandler("summary", summary))
