"""/start (with an invite code or a deep link) and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.people.joining import Refused
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import deliver, identify, say, stranger_language
from bot.texts import LEAD_COMMANDS, MENU


async def start(update: Update, context: Context) -> None:
    """A newcomer with a valid code starts joining; others are welcomed back or told how."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    svc = context.bot_data
    code = context.args[0] if context.args else None
    who = await identify(update, context)
    if who is None:
        lang = stranger_language(update)
        if not code:
            await say(context, chat.id, lang, "start/no_invite")
            return
        joined = await svc.joining.redeem(
            code,
            telegram_id=user.id,
            telegram_name=user.first_name,
            language_code=user.language_code,
        )
        if isinstance(joined, Refused):
            await say(context, chat.id, lang, "start/bad_invite", {"problem": joined.problem})
            return
        who = await identify(update, context)
        assert who is not None
        outcome = await svc.engine.start(who.actor, "onboarding", joined.context)
        await deliver(update, context, outcome, who.lang)
        return
    if code and who.person.onboarded:
        joined = await svc.joining.redeem(
            code, telegram_id=user.id, telegram_name=user.first_name, language_code=None
        )
        if isinstance(joined, Refused):
            values: dict[str, object] = {"problem": joined.problem, "joined": None}
        else:
            values = {"problem": None, "joined": joined.context}
        await say(context, chat.id, who.lang, "start/extra_invite", values)
        return
    if not who.person.onboarded:
        again = await svc.engine.repeat(who.actor, "onboarding")
        if again is not None:  # /start twice while joining: where they were, not a dilemma
            await deliver(update, context, again, who.lang)
            return
        flow_context = await svc.joining.onboarding_context(
            who.person, who.roles, user.first_name, who.lang
        )
        outcome = await svc.engine.start(who.actor, "onboarding", flow_context)
        await deliver(update, context, outcome, who.lang)
        return
    outcome = await svc.engine.offer_resume(who.actor)
    name = who.person.display_name or user.first_name
    await say(context, chat.id, who.lang, "start/welcome_back", {"name": name})
    await deliver(update, context, outcome, who.lang)


async def help_command(update: Update, context: Context) -> None:
    """What this person can do, by role."""
    chat = update.effective_chat
    if chat is None:
        return
    who = await identify(update, context)
    if who is None:
        await say(context, chat.id, stranger_language(update), "start/no_invite")
        return
    commands = [c for c in MENU if c not in ("start", "help")]
    if who.roles & {"trio_lead", "coordinator"}:
        commands += LEAD_COMMANDS
    values = {"roles": sorted(who.roles), "joined": who.person.onboarded, "commands": commands}
    await say(context, chat.id, who.lang, "help", values)


def register(app: App) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
