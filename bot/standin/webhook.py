"""setWebhook for the stand-in: updates are posted to the bot's URL instead of polled.

As Telegram does: once a webhook is set, getUpdates is refused with 409; each update is
posted (JSON, with the ``X-Telegram-Bot-Api-Secret-Token`` header when a secret was given)
one at a time, oldest first, and stays pending until the bot answers 2xx; a refused or
failed post is retried with a growing pause; getWebhookInfo reports the pending count and
the last error. deleteWebhook goes back to getUpdates, with what is still pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .world import JSON, Refused, bad

WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active;"
    " use deleteWebhook to delete the webhook first"
)
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK = ("127.", "localhost", "::1", "[::1]")


class WebhookSender:
    """The webhook state of one bot and the task posting its updates."""

    # Telegram's own pauses are longer; a stand-in keeps tests quick.
    retry_first = 0.2
    retry_most = 2.0
    post_timeout = 10.0

    def __init__(self, queue: list[JSON], wall_clock: Any) -> None:
        self._queue = queue  # the bot's pending updates, shared with getUpdates
        self._wall_clock = wall_clock
        self.url = ""
        self.secret: str | None = None
        self.allowed_updates: list[str] | None = None
        self.max_connections = 40
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.posts = 0  # every attempt, successful or not
        self.delivered = 0
        self.failed = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return bool(self.url)

    def rebind(self, queue: list[JSON]) -> None:
        self._queue = queue

    def wake(self) -> None:
        self._wakeup.set()

    # -- setWebhook / deleteWebhook / getWebhookInfo --------------------------------------
    def set(self, p: dict[str, Any]) -> None:
        url = str(p.get("url") or "")
        if not url:
            self.delete()
            return
        parts = urlsplit(url)
        loopback = (parts.hostname or "").startswith(_LOOPBACK)
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET.fullmatch(str(secret)):
            raise bad("secret token contains unallowed characters")
        connections = int(p.get("max_connections") or 40)
        if not 1 <= connections <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        allowed = p.get("allowed_updates")
        if allowed is not None and not isinstance(allowed, list):
            raise bad("can't parse allowed_updates JSON object")
        self.url, self.secret, self.max_connections = url, secret, connections
        self.allowed_updates = allowed
        self.last_error_date = self.last_error_message = None
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._deliver())
        self.wake()

    def delete(self) -> None:
        self.url, self.secret = "", None
        if self._task is not None:
            self._task.cancel()  # a post in flight is abandoned: that update stays pending
            self._task = None

    def info(self) -> JSON:
        info: JSON = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.active:
            info["max_connections"] = self.max_connections
            if self.allowed_updates is not None:
                info["allowed_updates"] = list(self.allowed_updates)
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info

    def refuse_polling(self) -> None:
        if self.active:
            raise Refused(409, WEBHOOK_ACTIVE)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- delivery -------------------------------------------------------------------------
    async def _deliver(self) -> None:
        wait = self.retry_first
        timeout = aiohttp.ClientTimeout(total=self.post_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while self.active:
                self._wakeup.clear()
                if not self._queue:
                    await self._wakeup.wait()
                    continue
                update = self._queue[0]
                error = await self._post(session, update)
                if error is None:
                    if self._queue and self._queue[0] is update:
                        self._queue.pop(0)
                    self.delivered += 1
                    wait = self.retry_first
                    continue
                self.failed += 1
                self.last_error_date = int(self._wall_clock())
                self.last_error_message = error
                await asyncio.sleep(wait)  # deleteWebhook cancels the task, pause and all
                wait = min(self.retry_most, wait * 2)

    async def _post(self, session: aiohttp.ClientSession, update: JSON) -> str | None:
        """None if the bot took the update, else Telegram's words for what went wrong."""
        self.posts += 1
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret} if self.secret else {}
        try:
            async with session.post(self.url, json=update, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except (aiohttp.ClientError, OSError) as exc:
            return f"Connection failed: {type(exc).__name__}"
