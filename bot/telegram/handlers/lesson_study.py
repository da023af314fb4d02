"""/lessonstudy and the buttons on lesson-study messages: start a cycle, see where it stands,
open the stage a button names, approve the closing account.

What each may do is decided in bot/lesson_study/service.py; here the outcome is rendered.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import CommandHandler

from bot.buttons import LessonStudyTap
from bot.flows.engine import Outcome, Tapped, Toast
from bot.lesson_study.service import Approval, Finished, NeedThree, Opened
from bot.lesson_study.views import Snapshot, actions_for, card_values, local_day
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import Who, buttons, deliver, joined, refuse, say, tapped
from bot.texts import Label


async def lessonstudy(update: Update, context: Context) -> None:
    """The trio's running cycle with what to do next, or the questions that start one."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    view = await svc.lesson_study.overview(who.person.id, who.roles)
    if isinstance(view, Finished):  # the finished cycles, then what starts the next
        for snap in view.cycles:
            await send_card(context, who, snap)
        view = view.then
    if view == "not_allowed":
        await refuse(context, who, "lesson_study.run")
    elif isinstance(view, NeedThree):
        await say(
            context, who.actor.chat_id, who.lang, "lesson_study/need_three", {"trio": view.trio}
        )
    elif isinstance(view, Opened):
        outcome = await svc.engine.start(who.actor, view.flow, view.context)
        await deliver(update, context, outcome, who.lang)
    else:
        for snap in view:
            await send_card(context, who, snap)


async def send_card(context: Context, who: Who, snap: Snapshot) -> None:
    """Where a cycle stands, in this person's zone, with the buttons for what they may do."""
    values = card_values(snap, who.person.id, who.actor.tz)
    rows = [[button] for button in actions_for(snap, who.person.id)]
    keyboard = buttons(context, who.lang, rows)
    await say(context, who.actor.chat_id, who.lang, "lesson_study/card", values, keyboard)


def status_values(snaps: list[Snapshot], zone: ZoneInfo) -> dict[str, Any]:
    return {"cycles": [card_values(s, None, zone) for s in snaps]}


async def stalled_status(context: Context, who: Who) -> None:
    """For the programme view: cycles flagged as stalled, which may need support."""
    stalled = await context.bot_data.lesson_study.stalled()
    if not stalled:
        return
    values = {
        "stalled_cycles": [
            {"trio": trio, "stage": cycle.stage, "round": cycle.round,
             "since": local_day(cycle.stage_since, who.actor.tz)}
            for cycle, trio in stalled[:30]
        ],
        "more": max(0, len(stalled) - 30),
    }  # fmt: skip
    await say(context, who.actor.chat_id, who.lang, "lesson_study/status_stalled", values)


async def on_button(update: Update, context: Context) -> None:
    """A tap on a lesson-study message: the stage's flow, the approval, or why not."""
    found = await tapped(update, context, LessonStudyTap)
    if found is None:
        return
    who, tap = found
    svc = context.bot_data
    result = await svc.lesson_study.tap(who.person.id, tap)
    outcome: Outcome
    if isinstance(result, Opened):
        outcome = await svc.engine.start(who.actor, result.flow, result.context)
    elif isinstance(result, Approval) and result.decision in ("approved", "agreed"):
        chosen = Label("ls_approved" if result.decision == "approved" else "ls_agreed")
        outcome = Outcome([Tapped(keyboard=None, chosen=chosen)])
    elif isinstance(result, Approval):
        outcome = Outcome([Toast(Label(f"ls_refused_{result.decision}"), alert=True)])
    elif result == "stale":
        outcome = Outcome([Toast(Label("ls_refused_stale")), Tapped(keyboard=None)])
    else:
        outcome = Outcome([Toast(Label(f"ls_refused_{result}"), alert=True)])
    await deliver(update, context, outcome, who.lang)


def register(app: App) -> None:
    # The buttons on these messages are routed in bot/app/factory.py.
    app.add_handler(CommandHandler("lessonstudy", lessonstudy))
