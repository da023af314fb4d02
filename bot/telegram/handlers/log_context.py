"""Marks every log line written while an update is handled with its ids (bot/logs.py)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import TypeHandler

from bot import logs
from bot.telegram.context import App, Context
from bot.telegram.ordering import chat_key


async def begin(update: Update, context: Context) -> None:
    """Nothing the person sees: the update's ids (and what it says, to keep out of the log)
    for every line logged while it is handled, in this update's own task."""
    message = update.effective_message
    logs.begin(
        update_id=update.update_id,
        chat_id=chat_key(update),
        said=(message.text, message.caption) if message else (),
    )


def register(app: App) -> None:
    # Group -2: before flood control (-1) and everything else, so no line goes unmarked.
    app.add_handler(TypeHandler(Update, begin), group=-2)
