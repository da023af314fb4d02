"""Webhook mode: Telegram posts each update to our route; we check it came from Telegram,
put it on the Application's update queue and answer at once.

Everything after the queue is what polling feeds too: the per-chat order
(bot/telegram/ordering.py), the flood guard, the flows. An update is answered 200 only once
it is on the queue, and the queue is worked off before the process stops, so what Telegram
was told we have is handled; what we refused or never answered Telegram posts again.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.config import Settings
from bot.scheduling.supervision import Backoff, pause
from bot.telegram.context import App

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Update ids remembered to answer a repeated delivery (our 200 lost on the way) without
# handling the update twice.
REMEMBERED = 2048


class WebhookRefused(Exception):
    """setWebhook refused for a reason no retry changes (a bad URL, a revoked token)."""


class WebhookRoute:
    """POST <path>: 403 without the secret, 400 for what is not an update, else 200."""

    def __init__(self, app: App, secret: str) -> None:
        self.app = app  # its bot decodes an update, its update queue takes it
        self._secret = secret.encode()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self.refused = 0

    def routes(self, path: str) -> list[web.RouteDef]:
        return [web.post(path, self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self.refused += 1
            log.warning(
                "webhook: refused a request from %s: %s secret token",
                request.remote,
                "wrong" if given else "no",
            )
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, self.app.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook: not an update (%s: %s)", type(exc).__name__, exc)
            return web.Response(status=400, text="not an update")
        if update is None or not isinstance(data.get("update_id"), int):
            log.warning("webhook: a body that is not an update")
            return web.Response(status=400, text="not an update")
        if update.update_id in self._seen:
            log.info("webhook: update %d delivered again; handled once", update.update_id)
            return web.Response(status=200)
        self._seen[update.update_id] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        await self.app.update_queue.put(update)
        return web.Response(status=200)


async def set_webhook(
    app: App, settings: Settings, allowed_updates: list[str], stop: asyncio.Event
) -> bool:
    """Tell Telegram where to post, retrying what a wait can change like the getMe probe;
    False if told to stop first. Raises WebhookRefused for a 400 or 401."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    backoff = Backoff(first=1.0, most=60.0)
    while not stop.is_set():
        try:
            await app.bot.set_webhook(
                url=settings.webhook_url,
                secret_token=settings.webhook_secret.get_secret_value(),
                allowed_updates=allowed_updates,
                max_connections=settings.webhook_max_connections,
                drop_pending_updates=False,
            )
            return True
        except InvalidToken as exc:
            raise WebhookRefused(f"setWebhook: the token was rejected ({exc})") from None
        except BadRequest as exc:
            raise WebhookRefused(
                f"setWebhook refused TRIOBOT_WEBHOOK_URL {settings.webhook_url} ({exc.message})"
            ) from None
        except RetryAfter as exc:
            retry = exc.retry_after
            wait = retry if isinstance(retry, int | float) else retry.total_seconds()
            problem = f"429, retry after {wait:.0f} s"
        except (NetworkError, TelegramError) as exc:
            wait, problem = backoff.next(), f"{type(exc).__name__}: {exc}"
        log.warning("setWebhook failed (%s); trying again in %.0f s", problem, wait)
        if await pause(stop, wait):
            return False
    return False
