"""/reflect and the buttons on a reflection prompt: answer now, snooze, skip."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.buttons import ReflectionTap
from bot.flows.engine import Outcome, Tapped, Toast
from bot.programme.status import local_moment
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import deliver, joined, tapped
from bot.texts import Label


async def reflect(update: Update, context: Context) -> None:
    """Answer the current prompt now, or write a free reflection when none is waiting."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    waiting = await svc.reflection_actions.open_for(who.person.id)
    flow_context: dict[str, object]
    if waiting is None:
        flow_context = {"reflection_id": None, "question": None}
    else:
        flow_context = {"reflection_id": waiting[0], "question": waiting[1]}
    outcome = await svc.engine.start(who.actor, "reflection", flow_context)
    await deliver(update, context, outcome, who.lang)


async def on_button(update: Update, context: Context) -> None:
    """A tap on a delivered prompt: answer it now, snooze it, or skip it."""
    found = await tapped(update, context, ReflectionTap)
    if found is None:
        return
    who, button = found
    svc = context.bot_data
    tap = await svc.reflection_actions.tap(who.person.id, button.reflection_id, button.action)
    if tap.result == "answer":
        flow_context = {"reflection_id": button.reflection_id, "question": tap.question}
        outcome = await svc.engine.start(who.actor, "reflection", flow_context)
        outcome.replies.insert(0, Tapped(keyboard=None, chosen=Label("answer_now")))
    elif tap.result == "snoozed" and tap.until is not None:
        # The date in the person's language and zone, like every other date the bot shows.
        moment = Label("when", {"moment": local_moment(tap.until, who.actor.tz)})
        when = Label("snoozed_until", {"when": moment})
        outcome = Outcome([Tapped(keyboard=None, chosen=when)])
    elif tap.result == "skipped":
        outcome = Outcome([Tapped(keyboard=None, chosen=Label("skipped_this_one"))])
    elif tap.result == "not_yours":
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
    else:
        outcome = Outcome([Toast(Label("button_already")), Tapped(keyboard=None)])
    await deliver(update, context, outcome, who.lang)


def register(app: App) -> None:
    # The buttons on these messages are routed in bot/app/factory.py.
    app.add_handler(CommandHandler("reflect", reflect))
