"""/meeting, /link, and the buttons on meeting messages (move, cancel, attendance, reflect…).

Every tap is checked again here against the stored meeting and the permission table; the
signed button data only says which meeting was meant.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.flows.engine import Button, Keyboard, Outcome, Say, Tapped, Toast
from bot.meetings.service import may
from bot.people.permissions import allowed
from bot.scheduling.notices import moment
from bot.telegram.context import App, Context
from bot.telegram.handlers import common
from bot.telegram.handlers.common import (
    GROUP_CHATS,
    Who,
    deliver,
    identify,
    joined,
    markup,
    refuse,
    say,
)
from bot.texts import Label
from storage.meetings import Meeting, MeetingRepo
from storage.summaries import SummaryRepo


def _zone(who: Who) -> str:
    return who.actor.tz.key


async def meeting(update: Update, context: Context) -> None:
    """Upcoming meetings of the person's trios; a lead gets buttons to add, move or cancel."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    memberships = await svc.programme.memberships(who.person.id)
    if not memberships:
        await refuse(context, who, "meeting.schedule")
        return
    led = [
        m.trio
        for m in memberships
        if allowed(who.roles, "meeting.schedule", trio_id=m.trio.id, memberships=memberships)
    ]
    upcoming = await MeetingRepo.upcoming(svc.db, [m.trio.id for m in memberships], svc.clock())
    led_ids = {t.id for t in led}
    sign = svc.engine.signer.sign
    rows: list[tuple[Button, ...]] = []
    for number, found in enumerate(upcoming, start=1):
        if found.trio_id in led_ids:
            rows.append(
                (
                    Button(Label("move_meeting", {"number": number}), sign("m", found.id, "mv")),
                    Button(Label("cancel_meeting", {"number": number}), sign("m", found.id, "cx")),
                )
            )
    for trio in led:
        rows.append((Button(Label("new_meeting", {"trio": trio.name}), sign("t", trio.id, "n")),))
    values = {
        "meetings": [
            {
                "trio": m.trio_name,
                "when": moment(m.starts_at, _zone(who)),
                "focus": m.focus,
                "link": m.link,
            }
            for m in upcoming
        ],
        "lead": bool(led),
    }
    keyboard: Keyboard = tuple(rows)
    await say(
        context,
        who.actor.chat_id,
        who.lang,
        "meetings/list",
        values,
        markup(context, who.lang, keyboard),
    )


async def summary_context(context: Context, found: Meeting) -> dict[str, object]:
    """What the summary flow needs to know about the meeting, its trio and last time."""
    db = context.bot_data.db
    members = await MeetingRepo.members(db, found.trio_id)
    previous = await SummaryRepo.open_actions(db, found.trio_id, found.id)
    return {
        "meeting_id": found.id,
        "trio_id": found.trio_id,
        "trio": found.trio_name,
        "planned_focus": found.focus,
        "schools": [list(s) for s in await MeetingRepo.schools(db, found.trio_id)],
        "members": [[m.person_id, m.name] for m in members],
        "prev_actions": [[a.id, a.what, a.owner_name, a.due_on, a.status] for a in previous],
    }


async def on_trio_button(update: Update, context: Context, who: Who, fields: list[str]) -> None:
    """➕ New meeting for a trio: only its lead may."""
    svc = context.bot_data
    try:
        trio_id = int(fields[1])
    except (IndexError, ValueError):
        trio_id = 0
    trio = await svc.programme.trio(trio_id)
    if trio is None or not await may(svc.db, who.person.id, "meeting.schedule", trio_id):
        await deliver(
            update, context, Outcome([Toast(Label("button_not_yours"), alert=True)]), who.lang
        )
        return
    flow_context = {"trio_id": trio.id, "trio": trio.name, "zone": _zone(who)}
    outcome = await svc.engine.start(who.actor, "meeting_new", flow_context)
    await deliver(update, context, outcome, who.lang)


async def on_button(update: Update, context: Context, who: Who, fields: list[str]) -> None:
    """A tap on a meeting message; fields are the verified data ("m", id, action[, arg])."""
    svc = context.bot_data
    try:
        meeting_id, action = int(fields[1]), fields[2]
    except (IndexError, ValueError):
        meeting_id, action = 0, ""
    found = await MeetingRepo.get(svc.db, meeting_id)
    not_yours = Outcome([Toast(Label("button_not_yours"), alert=True)])
    if found is None:
        await deliver(update, context, Outcome([Toast(Label("button_stale"))]), who.lang)
        return
    pid, trio_id = who.person.id, found.trio_id
    lead = await may(svc.db, pid, "meeting.schedule", trio_id)
    member = await may(svc.db, pid, "summary.approve", trio_id)
    outcome: Outcome
    lead_only = action in ("mv", "cx", "cy", "ck", "at", "rn")
    if (lead_only and not lead) or (action in ("rf", "sm") and not member):
        outcome = not_yours
    elif action in ("mv", "cx", "cy") and found.status != "scheduled":
        outcome = Outcome([Toast(Label("meeting_not_scheduled"), alert=True), Tapped()])
    elif action == "mv":
        flow_context = {
            "meeting_id": found.id,
            "trio": found.trio_name,
            "zone": _zone(who),
            "old": moment(found.starts_at, _zone(who)),
        }
        outcome = await svc.engine.start(who.actor, "meeting_move", flow_context)
    elif action == "cx":
        sign = svc.engine.signer.sign
        keyboard: Keyboard = (
            (
                Button(Label("cancel_it"), sign("m", found.id, "cy")),
                Button(Label("keep_it"), sign("m", found.id, "ck")),
            ),
        )
        values = {"trio": found.trio_name, "when": moment(found.starts_at, _zone(who))}
        outcome = Outcome([Say("meetings/confirm_cancel", values, keyboard)])
    elif action == "cy":
        async with svc.db.transaction() as tx:
            await svc.meetings.cancel(tx, found.id)
        svc_wake(context)
        outcome = Outcome(
            [
                Tapped(chosen=Label("cancel_it")),
                Say("meetings/cancelled", {"trio": found.trio_name}),
            ]
        )
    elif action == "ck":
        outcome = Outcome([Tapped(chosen=Label("keep_it"))])
    elif action == "at":
        members = await MeetingRepo.members(svc.db, trio_id)
        flow_context = {
            "meeting_id": found.id,
            "trio": found.trio_name,
            "members": [[m.person_id, m.name] for m in members],
        }
        outcome = await svc.engine.start(who.actor, "meeting_attendance", flow_context)
    elif action == "rf":
        if not await MeetingRepo.attended(svc.db, found.id, pid):
            outcome = not_yours
        else:
            flow_context = {"meeting_id": found.id, "trio": found.trio_name}
            outcome = await svc.engine.start(who.actor, "meeting_reflection", flow_context)
    elif action == "sm":
        summary_lead = await may(svc.db, pid, "summary.run", trio_id)
        if not (summary_lead or found.summary_runner_id == pid):
            outcome = not_yours
        else:
            summary_values = await summary_context(context, found)
            outcome = await svc.engine.start(who.actor, "summary", summary_values)
    elif action == "rn" and len(fields) > 3:
        outcome = await _name_runner(context, found, fields[3])
    else:
        outcome = Outcome([Toast(Label("button_stale"))])
    if outcome.replies and isinstance(outcome.replies[0], Say) and outcome.replies[0].ask:
        outcome.replies.insert(0, Tapped(keyboard=None))
    await deliver(update, context, outcome, who.lang)


async def _name_runner(context: Context, found: Meeting, person: str) -> Outcome:
    svc = context.bot_data
    members = {str(m.person_id): m for m in await MeetingRepo.members(svc.db, found.trio_id)}
    runner = members.get(person)
    if runner is None:
        return Outcome([Toast(Label("button_stale"))])
    async with svc.db.transaction() as tx:
        await svc.meetings.name_runner(tx, found, runner)
    svc_wake(context)
    chosen = Label("ask_to_write", {"name": runner.name})
    return Outcome([Tapped(chosen=chosen), Say("meetings/runner_named", {"name": runner.name})])


def svc_wake(context: Context) -> None:
    """Messages were queued: let the outbox sender look now (it may not exist in tests)."""
    sender = getattr(context.bot_data, "sender", None)
    if sender is not None:
        sender.wake()


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
    svc = context.bot_data
    memberships = await svc.programme.memberships(who.person.id)
    led = [
        m.trio
        for m in memberships
        if allowed(who.roles, "meeting.schedule", trio_id=m.trio.id, memberships=memberships)
    ]
    wanted = (context.args or [""])[0].casefold()
    chosen = [t for t in led if t.ref.casefold() == wanted] if wanted else led
    if not led:
        await refuse(context, who, "meeting.schedule")
        return
    if len(chosen) != 1:
        await say(context, chat.id, who.lang, "meetings/link_which", {"refs": [t.ref for t in led]})
        return
    async with svc.db.transaction() as tx:
        # A group linked to a trio stays so unless a lead of that trio links it again:
        # otherwise another trio's lead in the group would take its reminders and summaries.
        current = await MeetingRepo.trio_of_group(tx, chat.id)
        taken = current is not None and not allowed(
            who.roles, "meeting.schedule", trio_id=current, memberships=memberships
        )
        if not taken:
            await MeetingRepo.link_group(tx, chosen[0].id, chat.id, who.lang, who.person.id)
    if taken and current is not None:
        owner = await svc.programme.trio(current)
        values: dict[str, object] = {"trio": owner.name if owner else ""}
        await say(context, chat.id, who.lang, "groups/link_taken", values)
        return
    await say(context, chat.id, who.lang, "meetings/linked", {"trio": chosen[0].name})


def register(app: App) -> None:
    app.add_handler(CommandHandler("meeting", meeting))
    app.add_handler(CommandHandler("link", link))
    common.BUTTONS["m"] = on_button
    common.BUTTONS["t"] = on_trio_button
