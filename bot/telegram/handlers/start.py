"""/start (with an invite code or a deep link) and /help."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot.flows.engine import Outcome
from bot.people.joining import Refused
from bot.telegram.context import App, Context
from bot.telegram.handlers.common import Who, deliver, identify, say, stranger_language
from bot.texts import Label

log = logging.getLogger(__name__)


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
        await person_menu(context, who)
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
    await person_menu(context, who)


async def help_command(update: Update, context: Context) -> None:
    """What this person can do, by role."""
    chat = update.effective_chat
    if chat is None:
        return
    who = await identify(update, context)
    if who is None:
        await say(context, chat.id, stranger_language(update), "start/no_invite")
        return
    usable = await context.bot_data.joining.commands(who.person.id)
    commands = [c for c in usable if c not in ("start", "help")] if who.person.onboarded else []
    values = {
        "roles": sorted(who.roles),
        "joined": who.person.onboarded,
        "commands": commands,
        "command_labels": usable,
    }
    await say(context, chat.id, who.lang, "help", values)
    if who.person.onboarded:
        await person_menu(context, who, usable)


async def person_menu(context: Context, who: Who, usable: dict[str, str] | None = None) -> None:
    """This person's command menu: the commands their roles may use, in their language.

    The global menu (bot/app/factory.py) is what someone sees before joining, and what
    anyone who joined before menus were set per chat keeps until their next /start or
    /help. A menu is cosmetic: a refusal is logged, never a reason to fail the reply.
    """
    if who.actor.chat_id != who.person.telegram_id:
        return  # a group's menu is the group's, not one member's
    svc = context.bot_data
    names = usable if usable is not None else await svc.joining.commands(who.person.id)
    commands = [BotCommand(n, svc.texts.label(who.lang, Label(key))) for n, key in names.items()]
    try:
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(who.actor.chat_id))
    except TelegramError as exc:
        log.warning("command menu for one chat not set (%s)", exc)


async def after_onboarding(update: Update, context: Context, outcome: Outcome) -> None:
    """Joined: the menu now fits what they may do."""
    who = await identify(update, context)
    if who is not None:
        await person_menu(context, who)


def register(app: App) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
