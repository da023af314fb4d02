"""/reflect and the buttons on a reflection prompt: answer now, snooze, skip."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CommandHandler

from bot.buttons import MeetingTap, ReflectionTap, Tap
from bot.flows.engine import Outcome, Tapped, Toast
from bot.people.permissions import allowed
from bot.scheduling.notices import moment
from bot.telegram.context import App, Context, Role
from bot.telegram.handlers.common import buttons, deliver, joined, refuse, say, tapped
from bot.texts import Label


async def reflect(update: Update, context: Context) -> None:
    """Answer what is waiting (after a meeting, this week's prompt; both: which first?), or
    write a free reflection when nothing is."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    if not permits_reflect(who.roles):
        await refuse(context, who, "reflect")
        return
    after_meeting = await svc.meeting_taps.reflection_waiting(who.person.id, svc.clock())
    waiting = await svc.reflection_actions.open_for(who.person.id)
    if after_meeting is not None and waiting is not None:
        meeting_id = int(after_meeting.context["meeting_id"])
        rows: list[list[tuple[Label, Tap]]] = [
            [(Label("reflect_after_meeting"), MeetingTap(meeting_id, "rf"))],
            [(Label("reflect_weekly"), ReflectionTap(waiting[0], "a"))],
        ]
        values = {"trio": after_meeting.context["trio"]}
        keyboard = buttons(context, who.lang, rows)
        await say(context, who.actor.chat_id, who.lang, "reflections/choose", values, keyboard)
        return
    flow_context: dict[str, Any] = {"reflection_id": None, "question": None}
    flow = "reflection"
    if after_meeting is not None:
        flow, flow_context = after_meeting.flow, after_meeting.context
    elif waiting is not None:
        flow_context = {"reflection_id": waiting[0], "question": waiting[1]}
    outcome = await svc.engine.start(who.actor, flow, flow_context)
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
        until = Label("when", {"moment": moment(tap.until, who.actor.tz.key)})
        when = Label("snoozed_until", {"when": until})
        outcome = Outcome([Tapped(keyboard=None, chosen=when)])
    elif tap.result == "skipped":
        outcome = Outcome([Tapped(keyboard=None, chosen=Label("skipped_this_one"))])
    elif tap.result == "not_yours":
        outcome = Outcome([Toast(Label("button_not_yours"), alert=True)])
    else:
        outcome = Outcome([Toast(Label("button_already")), Tapped(keyboard=None)])
    await deliver(update, context, outcome, who.lang)


def permits_reflect(roles: frozenset[Role]) -> bool:
    """Reflections are a teacher's: a researcher or coordinator is told so, kindly."""
    return allowed(roles, "reflect")


def register(app: App) -> None:
    # The buttons on these messages are routed in bot/app/factory.py.
    app.add_handler(CommandHandler("reflect", reflect))
