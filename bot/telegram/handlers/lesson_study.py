"""/lessonstudy and the buttons on lesson-study messages: start a cycle, see where it stands,
open the stage a button names, approve the closing account."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from bot.flows.engine import Outcome, Tapped, Toast
from bot.lesson_study.service import Opened
from bot.lesson_study.views import Snapshot, actions_for, card_values
from bot.people.permissions import allowed
from bot.telegram.context import App, Context
from bot.telegram.handlers import common
from bot.telegram.handlers.common import Who, deliver, joined, refuse, say
from bot.texts import Label


async def lessonstudy(update: Update, context: Context) -> None:
    """The trio's running cycle with what to do next, or the questions that start one."""
    who = await joined(update, context)
    if who is None:
        return
    chat_id = who.actor.chat_id
    svc = context.bot_data
    memberships = await svc.programme.memberships(who.person.id)
    trios = [
        m.trio
        for m in memberships
        if allowed(who.roles, "lesson_study.run", trio_id=m.trio.id, memberships=memberships)
    ]
    if not trios:
        await refuse(context, who, "lesson_study.run")
        return
    cycles = await svc.lesson_study.visible(who.person.id)
    if cycles:
        for snap in cycles:
            await send_card(context, who, snap)
        return
    trio = trios[0]
    start = await svc.lesson_study.start_context(who.person.id, trio.id)
    if start is None:
        await say(context, chat_id, who.lang, "lesson_study/need_three", {"trio": trio.name})
        return
    outcome = await svc.engine.start(who.actor, "ls_start", start)
    await deliver(update, context, outcome, who.lang)


async def send_card(context: Context, who: Who, snap: Snapshot) -> None:
    """Where a cycle stands, in this person's zone, with the buttons for what they may do."""
    values = card_values(snap, who.person.id, who.actor.tz)
    buttons = actions_for(snap, who.person.id)
    markup = context.bot_data.lesson_study.notices.keyboard(who.lang, buttons)
    keyboard = InlineKeyboardMarkup.de_json(markup, context.bot) if markup else None
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
             "since": cycle.stage_since.astimezone(who.actor.tz).strftime("%d %b")}
            for cycle, trio in stalled[:30]
        ],
        "more": max(0, len(stalled) - 30),
    }  # fmt: skip
    await say(context, who.actor.chat_id, who.lang, "lesson_study/status_stalled", values)


async def on_button(update: Update, context: Context, who: Who, fields: list[str]) -> None:
    """A tap on a lesson-study message; `fields` are verified ("l", cycle, task, ref)."""
    svc = context.bot_data
    try:
        cycle_id, task, ref = int(fields[1]), fields[2], int(fields[3])
    except (IndexError, ValueError):
        await deliver(
            update, context, Outcome([Toast(Label("button_forged"), alert=True)]), who.lang
        )
        return
    if task == "y":
        decision = await svc.lesson_study.approve(who.person.id, cycle_id, ref)
        if decision in ("approved", "agreed"):
            chosen = Label("ls_approved" if decision == "approved" else "ls_agreed")
            outcome = Outcome([Tapped(keyboard=None, chosen=chosen)])
        else:
            outcome = Outcome([Toast(Label(f"ls_refused_{decision}"), alert=True)])
        await deliver(update, context, outcome, who.lang)
        return
    opened = await svc.lesson_study.open_task(who.person.id, cycle_id, task, ref)
    if not isinstance(opened, Opened):
        stale = opened == "stale"
        replies: list[Any] = [Toast(Label(f"ls_refused_{opened}"), alert=not stale)]
        if stale:
            replies.append(Tapped(keyboard=None))
        await deliver(update, context, Outcome(replies), who.lang)
        return
    outcome = await svc.engine.start(who.actor, opened.flow, opened.context)
    await deliver(update, context, outcome, who.lang)


def register(app: App) -> None:
    app.add_handler(CommandHandler("lessonstudy", lessonstudy))
    common.BUTTONS["l"] = on_button
