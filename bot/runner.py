"""`triobot run`: long polling against TELEGRAM_API_URL, stopped cleanly by SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.demo import withdraw_demo_invites
from storage.db import Database

log = logging.getLogger(__name__)
TELEGRAM = "https://api.telegram.org"


async def close_demo_door(settings: Settings) -> int:
    """On real Telegram strangers can type the demo's well-known codes (the console seeds
    them into the same default database): withdraw them first. A stand-in or a test Bot API
    server keeps them, for simulations."""
    if settings.telegram_api_url != TELEGRAM:
        return 0
    db = await Database.open(settings.db_path)
    try:
        withdrawn = await withdraw_demo_invites(db)
    finally:
        await db.close()
    if withdrawn:
        log.warning("withdrew %d demo invite(s): their codes are public", withdrawn)
    return withdrawn


def run_polling(settings: Settings) -> None:
    asyncio.run(close_demo_door(settings))
    app = build_application(settings)
    # run_polling stops on SIGINT, SIGTERM and SIGABRT, finishing the update in hand;
    # every answer was stored before its reply, so stopping loses nothing.
    # bootstrap_retries=-1: a 5xx or a dropped connection while starting (getMe, deleteWebhook)
    # is retried rather than ending the process (PTB's default gives up at the first one).
    app.run_polling(
        allowed_updates=Update.ALL_TYPES, drop_pending_updates=False, bootstrap_retries=-1
    )
