"""/settings and /privacy: a person's own details and consent."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.people.permissions import Action, allowed
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import Who, deliver, known, refuse, say


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
        "digest": p.digest_opt_in,
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
    consent = await svc.people.consent(who.person.id)
    school = await svc.programme.school(who.person.school_id) if who.person.school_id else None
    memberships = await svc.programme.memberships(who.person.id)
    answers = await svc.db.fetchval(
        "SELECT COUNT(*) FROM flow_state WHERE person_id = ?", (who.person.id,)
    )
    held = {
        **_person_values(who),
        "telegram_id": who.person.telegram_id,
        "roles": sorted(who.roles),
        "school": school.name if school else None,
        "trios": [m.trio.name for m in memberships],
        "consent_given": bool(consent and consent.given),
        "consent_version": consent.version if consent else None,
        "consent_at": consent.recorded_at.strftime("%Y-%m-%d %H:%M UTC") if consent else None,
        "flows": int(answers or 0),
    }
    outcome = await svc.engine.start(who.actor, "privacy", held)
    await deliver(update, context, outcome, who.lang)


def register(app: App) -> None:
    app.add_handler(CommandHandler("settings", settings))
    app.add_handler(CommandHandler("privacy", privacy))
