"""`triobot run`: long polling against TELEGRAM_API_URL, stopped cleanly by SIGTERM."""

from __future__ import annotations

from telegram import Update

from bot.app import build_application
from bot.config import Settings


def run_polling(settings: Settings) -> None:
    app = build_application(settings)
    # run_polling stops on SIGINT, SIGTERM and SIGABRT, finishing the update in hand;
    # every answer was stored before its reply, so stopping loses nothing.
    # bootstrap_retries=-1: a 5xx or a dropped connection while starting (getMe, deleteWebhook)
    # is retried rather than ending the process (PTB's default gives up at the first one).
    app.run_polling(
        allowed_updates=Update.ALL_TYPES, drop_pending_updates=False, bootstrap_retries=-1
    )
