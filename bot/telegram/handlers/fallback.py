"""What nothing else handled: unknown commands, and errors."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import MessageHandler, filters

from bot.telegram.context import App, Context, StorageUnavailable
from bot.telegram.handlers.common import identify, say, stranger_language

log = logging.getLogger(__name__)


async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not have: say so and point to /help."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or chat.type != ChatType.PRIVATE:
        return
    who = await identify(update, context)
    lang = who.lang if who else stranger_language(update)
    command = (message.text or "").split()[0].split("@")[0][:40]
    await say(context, chat.id, lang, "errors/unknown_command", {"command": command})


async def on_error(update: object, context: Context) -> None:
    """Log the failure (never the token) and tell the person, kindly, to try again; if the
    database could not take their message, that it was not saved and should be sent again."""
    unsaved = isinstance(context.error, StorageUnavailable)
    if unsaved:
        log.warning("an update was not saved: the database is unavailable (%s)", context.error)
    else:
        log.error("handler failed", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except Exception:
            log.debug("callback query already answered")
    try:
        template = "errors/not_saved" if unsaved else "errors/internal"
        await say(context, update.effective_chat.id, stranger_language(update), template)
    except Forbidden:
        pass
    except Exception:
        log.exception("could not tell the person about the error")


def register(app: App) -> None:
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_error_handler(on_error)
