"""/invite and /status for coordinators and trio leads."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.programme.status import ProgrammeStatus, programme_values, trio_values
from bot.telegram.context import App, Context
from bot.telegram.handlers import lesson_study
from bot.telegram.handlers.common import deliver, joined, refuse, say


async def invite(update: Update, context: Context) -> None:
    """Make an invite: the role, the trio and school where they apply, how many may use it."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    link_base = f"https://t.me/{context.bot.username}?start="
    offer = await svc.inviting.offer(who.person.id, who.roles, link_base)
    if offer is None:
        await refuse(context, who, "invite.create")
        return
    outcome = await svc.engine.start(who.actor, offer.flow, offer.context)
    await deliver(update, context, outcome, who.lang)


async def status(update: Update, context: Context) -> None:
    """The programme at a glance for a coordinator; a lead's own trio for a trio lead."""
    who = await joined(update, context)
    if who is None:
        return
    svc = context.bot_data
    chat_id, now = who.actor.chat_id, svc.clock()
    shown = await svc.status.shown_to(who.person.id, who.roles, now, svc.settings.quiet_weeks)
    if isinstance(shown, ProgrammeStatus):
        await say(context, chat_id, who.lang, "status/programme", programme_values(shown))
        await lesson_study.stalled_status(context, who)
        return
    # Teachers see their trio's lesson-study cycles here too (lesson_study.run is theirs).
    cycles = await svc.lesson_study.running(who.person.id)
    if not shown and not cycles:
        await refuse(context, who, "status.trio")
        return
    for trio in shown:
        await say(context, chat_id, who.lang, "status/trio", trio_values(trio, who.actor.tz))
    if cycles:
        values = lesson_study.status_values(cycles, who.actor.tz)
        await say(context, chat_id, who.lang, "lesson_study/status", values)


def register(app: App) -> None:
    app.add_handler(CommandHandler("invite", invite))
    app.add_handler(CommandHandler("status", status))
