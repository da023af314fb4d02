"""/settings and /privacy: a person's own details and consent."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.digest.delivery import wants_shared_digest
from bot.flows.engine import Outcome
from bot.people.permissions import Action, allowed
from bot.telegram.context import App, Context, Role
from bot.telegram.handlers.common import (
    Who,
    deliver,
    identify,
    known,
    refuse,
    say,
    say_file,
)


async def _require(update: Update, context: Context, action: Action) -> Who | None:
    who = await known(update, context)
    if who is not None and not allowed(who.roles, action):
        await refuse(context, who, action)
        return None
    return who


def _person_values(who: Who) -> dict[str, object]:
    p = who.person
    return {
        "name": p.display_name,
        "language": p.language or who.lang,
        "time_zone": p.time_zone or "",
        "quiet_hours": f"{p.quiet_start}–{p.quiet_end}",
        "reminder_time": p.reminder_time,
        "away_until": p.away_until or "",
        "digest": wants_shared_digest(p.digest_choice, who.roles),
    }


async def settings(update: Update, context: Context) -> None:
    """Choose a setting, then give its new value."""
    who = await _require(update, context, "settings")
    if who is None:
        return
    if not who.person.onboarded:
        await say(context, who.actor.chat_id, who.lang, "start/finish_joining")
        return
    flow_context = {"person": _person_values(who)}
    outcome = await context.bot_data.engine.start(who.actor, "settings", flow_context)
    await deliver(update, context, outcome, who.lang)


async def privacy(update: Update, context: Context) -> None:
    """Everything held about the person, and their consent, which they can change."""
    who = await _require(update, context, "privacy")
    if who is None:
        return
    svc = context.bot_data
    held = await svc.data_rights.held(who.person)
    consent = held.consent
    values = {
        **_person_values(who),
        "telegram_id": who.person.telegram_id,
        "roles": sorted(who.roles),
        "school": held.school,
        "trios": held.trios,
        "consent_given": bool(consent and consent.given),
        "consent_version": consent.version if consent else None,
        "consent_at": consent.recorded_at.strftime("%Y-%m-%d %H:%M UTC") if consent else None,
        "flows": held.flows,
    }
    outcome = await svc.engine.start(who.actor, "privacy", values)
    await deliver(update, context, outcome, who.lang)


async def after_privacy(update: Update, context: Context, outcome: Outcome) -> None:
    """After /privacy: the download they asked for, as a file (an erasure is settled)."""
    chat = update.effective_chat
    who = await identify(update, context)
    person_id, roles = (who.person.id, who.roles) if who else (None, frozenset[Role]())
    svc = context.bot_data
    content = await svc.data_rights.after_privacy(outcome.answers or {}, person_id, roles)
    if content is None or chat is None or who is None:
        return
    name = f"triobot-my-data-{svc.clock().strftime('%Y-%m-%d')}.json"
    await say_file(context, chat.id, who.lang, content, name)


def register(app: App) -> None:
    app.add_handler(CommandHandler("settings", settings))
    app.add_handler(CommandHandler("privacy", privacy))
