"""Commands that belong in a private chat, sent in a group: point to the private chat instead.

/settings, /privacy, /reflect, /status and the rest show or ask for someone's own details;
answering them in a trio's group would show those details to everyone there. Meetings and
summaries have their own group behaviour (bot/telegram/handlers/meetings.py, summaries.py).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, CommandHandler, filters

from bot.telegram.context import App, Context
from bot.telegram.handlers.common import identify, say, stranger_language

PRIVATE_ONLY = (
    "start",
    "settings",
    "privacy",
    "reflect",
    "status",
    "invite",
    "digest",
    "lessonstudy",
)


async def private_only(update: Update, context: Context) -> None:
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        raise ApplicationHandlerStop
    who = await identify(update, context)
    lang = who.lang if who else stranger_language(update)
    command = (message.text or "").split()[0].split("@")[0][:40]
    await say(
        context,
        chat.id,
        lang,
        "groups/private_only",
        {"command": command, "bot_username": context.bot.username or ""},
    )
    raise ApplicationHandlerStop


def register(app: App) -> None:
    app.add_handler(CommandHandler(PRIVATE_ONLY, private_only, filters=filters.ChatType.GROUPS))
