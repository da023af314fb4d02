"""/meeting, /link, and the buttons on meeting messages (move, cancel, attendance, reflect…).

What each may do is decided in bot/meetings/taps.py; here the outcome is rendered.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.buttons import MeetingTap, Tap, TrioTap
from bot.flows.engine import Outcome, Say, Tapped, Toast
from bot.meetings.taps import (
    Cancelled,
    ConfirmCancel,
    ConfirmTakeOver,
    Kept,
    LeftToRunner,
    Linked,
    LinkTaken,
    LinkWhich,
    OpenFlow,
    Refusal,
    RunnerNamed,
    TapOutcome,
)
from bot.scheduling.notices import moment
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import (
    GROUP_CHATS,
    Who,
    buttons,
    deliver,
    identify,
    joined,
    refuse,
    say,
    signed,
    tapped,
    wake,
)
from bot.texts import Label

REFUSED: dict[Refusal, Outcome] = {
    "stale": Outcome([Toast(Label("button_stale"))]),
    "not_yours": Outcome([Toast(Label("button_not_yours"), alert=True)]),
    "not_scheduled": Outcome([Toast(Label("meeting_not_scheduled"), alert=True), Tapped()]),
}


def _zone(who: Who) -> str:
    return who.actor.tz.key


async def meeting(update: Update, context: Context) -> None:
    """Upcoming meetings of the person's trios; a lead gets buttons to add, move or cancel."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    listed = await svc.meeting_taps.listed(who.person.id, who.roles, svc.clock())
    if listed is None:
        await refuse(context, who, "meeting.schedule")
        return
    rows: list[list[tuple[Label, Tap]]] = []
    for number, found in enumerate(listed.upcoming, start=1):
        if listed.may_change(found):
            rows.append(
                [
                    (Label("move_meeting", {"number": number}), MeetingTap(found.id, "mv")),
                    (Label("cancel_meeting", {"number": number}), MeetingTap(found.id, "cx")),
                ]
            )
    rows += [[(Label("new_meeting", {"trio": t.name}), TrioTap(t.id))] for t in listed.led]
    values = {
        "meetings": [
            {
                "trio": m.trio_name,
                "when": moment(m.starts_at, _zone(who)),
                "focus": m.focus,
                "link": m.link,
            }
            for m in listed.upcoming
        ],
        "lead": bool(listed.led),
    }
    keyboard = buttons(context, who.lang, rows)
    await say(context, who.actor.chat_id, who.lang, "meetings/list", values, keyboard)


async def on_trio_button(update: Update, context: Context) -> None:
    """➕ New meeting for a trio: its lead is asked when, where and what about."""
    found = await tapped(update, context, TrioTap)
    if found is None:
        return
    who, tap = found
    svc = context.bot_data
    opened = await svc.meeting_taps.new_meeting(who.person.id, tap.trio_id, _zone(who))
    if isinstance(opened, OpenFlow):
        outcome = await svc.engine.start(who.actor, opened.flow, opened.context)
    else:
        outcome = REFUSED[opened]
    await deliver(update, context, outcome, who.lang)


async def on_button(update: Update, context: Context) -> None:
    """A tap on a meeting message: the flow it opens, its confirmation, or why not."""
    found = await tapped(update, context, MeetingTap)
    if found is None:
        return
    who, tap = found
    result = await context.bot_data.meeting_taps.tap(who.person.id, tap, _zone(who))
    outcome = await _rendered(context, who, result)
    wake(context)
    await deliver(update, context, outcome, who.lang)


async def _rendered(context: Context, who: Who, result: TapOutcome) -> Outcome:
    if isinstance(result, OpenFlow):
        outcome = await context.bot_data.engine.start(who.actor, result.flow, result.context)
        if outcome.replies and isinstance(outcome.replies[0], Say) and outcome.replies[0].ask:
            outcome.replies.insert(0, Tapped(keyboard=None))
        return outcome
    if isinstance(result, ConfirmCancel):
        choice = [
            (Label("cancel_it"), MeetingTap(result.meeting_id, "cy")),
            (Label("keep_it"), MeetingTap(result.meeting_id, "ck")),
        ]
        values = {"trio": result.trio, "when": moment(result.starts_at, _zone(who))}
        return Outcome([Say("meetings/confirm_cancel", values, signed(context, [choice]))])
    if isinstance(result, Cancelled):
        cancelled = Say("meetings/cancelled", {"trio": result.trio})
        return Outcome([Tapped(chosen=Label("cancel_it")), cancelled])
    if isinstance(result, Kept):
        return Outcome([Tapped(chosen=Label("keep_it"))])
    if isinstance(result, ConfirmTakeOver):
        return Outcome([Tapped(keyboard=None), take_over_question(context, result)])
    if isinstance(result, LeftToRunner):
        chosen = Label("take_over_no", {"name": result.name})
        left = Say("meetings/left_to_runner", {"name": result.name})
        return Outcome([Tapped(chosen=chosen), left])
    if isinstance(result, RunnerNamed):
        chosen = Label("ask_to_write", {"name": result.name})
        return Outcome([Tapped(chosen=chosen), Say("meetings/runner_named", {"name": result.name})])
    return REFUSED[result]


def take_over_question(context: Context, result: ConfirmTakeOver) -> Say:
    """Asked a member to write the summary: write it yourself after all?"""
    choice = [
        (Label("take_over_yes"), MeetingTap(result.meeting_id, "sy")),
        (Label("take_over_no", {"name": result.runner}), MeetingTap(result.meeting_id, "sn")),
    ]
    values = {"trio": result.trio, "runner": result.runner}
    return Say("meetings/confirm_take_over", values, signed(context, [[c] for c in choice]))


async def link(update: Update, context: Context) -> None:
    """In the trio's group, the lead links it: reminders and agreed summaries go there too."""
    chat = update.effective_chat
    if chat is None:
        return
    if chat.type not in GROUP_CHATS:
        private = await joined(update, context)  # a stranger is told how to get an invite
        if private is not None:
            await say(context, chat.id, private.lang, "meetings/link_in_group")
        return
    who = await identify(update, context)
    if who is None or not who.person.onboarded:
        return  # strangers in a group are not answered
    wanted = (context.args or [""])[0]
    svc = context.bot_data
    result = await svc.meeting_taps.link(who.person.id, who.roles, chat.id, who.lang, wanted)
    if result == "not_lead":
        await refuse(context, who, "meeting.schedule")
    elif isinstance(result, LinkWhich):
        await say(context, chat.id, who.lang, "meetings/link_which", {"refs": result.refs})
    elif isinstance(result, LinkTaken):
        await say(context, chat.id, who.lang, "groups/link_taken", {"trio": result.owner})
    elif isinstance(result, Linked):
        await say(context, chat.id, who.lang, "meetings/linked", {"trio": result.trio})


def register(app: App) -> None:
    # The buttons on these messages are routed in bot/app/factory.py.
    app.add_handler(CommandHandler("meeting", meeting))
    app.add_handler(CommandHandler("link", link))
