"""/invite and /status for coordinators and trio leads; the file sent after /privacy."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import CommandHandler

from bot.flows.engine import Outcome
from bot.people.data_rights import DataRights
from bot.people.permissions import allowed
from bot.programme.status import Status, programme_values, trio_values
from bot.telegram.context import App, Context
from bot.telegram.handlers import common, lesson_study
from bot.telegram.handlers.common import deliver, identify, joined, refuse, say
from storage.invites import InviteAdminRepo, new_code
from storage.status import StatusRepo


async def invite(update: Update, context: Context) -> None:
    """Make an invite: the role, the trio and school where they apply, how many may use it."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    memberships = await svc.programme.memberships(who.person.id)
    repo = InviteAdminRepo(svc.db)
    if allowed(who.roles, "invite.create"):
        flow, lead_only = "invite", False
        trios, schools = await repo.trio_choices(None)
    elif allowed(who.roles, "invite.create_for_own_trio", memberships=memberships):
        flow, lead_only = "invite_teacher", True
        led = [m.trio.id for m in memberships if m.is_lead]
        trios, schools = await repo.trio_choices(led)
    else:
        await refuse(context, who, "invite.create")
        return
    flow_context = {
        "code": new_code(),
        "link_base": f"https://t.me/{context.bot.username}?start=",
        "lead_only": lead_only,
        "trios": [list(t) for t in trios],
        "trio_schools": {ref: [list(s) for s in found] for ref, found in schools.items()},
    }
    outcome = await svc.engine.start(who.actor, flow, flow_context)
    await deliver(update, context, outcome, who.lang)


async def status(update: Update, context: Context) -> None:
    """The programme at a glance for a coordinator; a lead's own trio for a trio lead."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    view = Status(StatusRepo(svc.db))
    if allowed(who.roles, "status.programme"):
        found = await view.programme(svc.clock(), svc.settings.quiet_weeks)
        await say(context, who.actor.chat_id, who.lang, "status/programme", programme_values(found))
        await lesson_study.stalled_status(context, who)
        return
    memberships = await svc.programme.memberships(who.person.id)
    shown = [
        m.trio
        for m in memberships
        if allowed(who.roles, "status.trio", trio_id=m.trio.id, memberships=memberships)
    ]
    # Teachers see their trio's lesson-study cycles here too (lesson_study.run is theirs).
    cycles = await svc.lesson_study.visible(who.person.id)
    if not shown and not cycles:
        await refuse(context, who, "status.trio")
        return
    for trio in shown:
        values = trio_values(await view.trio(trio, svc.clock()), who.actor.tz)
        await say(context, who.actor.chat_id, who.lang, "status/trio", values)
    if cycles:
        values = lesson_study.status_values(cycles, who.actor.tz)
        await say(context, who.actor.chat_id, who.lang, "lesson_study/status", values)


async def after_privacy(update: Update, context: Context, outcome: Outcome) -> None:
    """After /privacy: send the download as a file; after an erasure, flush the WAL."""
    chat = update.effective_chat
    answers = outcome.answers or {}
    svc = context.bot_data
    rights = DataRights(svc.db, svc.clock)
    if answers.get("confirm_erase") == "erase":
        await svc.db.checkpoint()
        return
    if answers.get("consent") != "download" or chat is None:
        return
    who = await identify(update, context)
    if who is None or not allowed(who.roles, "privacy"):
        return
    content = await rights.export(who.person.id)
    stamp = svc.clock().strftime("%Y-%m-%d")
    document = InputFile(content, filename=f"triobot-my-data-{stamp}.json")
    await context.bot.send_document(chat.id, document)


def register(app: App) -> None:
    app.add_handler(CommandHandler("invite", invite))
    app.add_handler(CommandHandler("status", status))
    common.AFTER_FLOW["privacy"] = after_privacy
