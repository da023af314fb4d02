"""Drops a flooding person's updates before any other handler (see bot/telegram/flood.py)."""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.telegram.context import App, Context
from bot.telegram.handlers.common import identify, say, stranger_language


def _sent_by_person(update: Update) -> bool:
    return (
        update.message is not None
        or update.edited_message is not None
        or update.callback_query is not None
    )


async def guard(update: Update, context: Context) -> None:
    """Let the update through, or drop it (and, once a minute, ask the sender to slow down)."""
    flood = context.bot_data.flood
    user = update.effective_user
    if flood is None or user is None or user.is_bot or not _sent_by_person(update):
        return
    if flood.admit(user.id):
        return
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE and flood.should_warn(user.id):
        who = await identify(update, context)
        lang = who.lang if who else stranger_language(update)
        with contextlib.suppress(Forbidden):
            await say(context, chat.id, lang, "errors/slow_down", {"per_minute": flood.per_minute})
    raise ApplicationHandlerStop


def register(app: App) -> None:
    # Group -1 runs before every other handler, and ApplicationHandlerStop there ends the
    # update: a dropped update costs no database work at all.
    app.add_handler(TypeHandler(Update, guard), group=-1)
