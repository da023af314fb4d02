"""Sends the outbox at Telegram's pace: under the limits, patient with 429s, final on 403.

A row is marked sent only after Telegram accepted it, and rows go one at a time, so a crash
can resend at most the one message that was in flight, and never lose one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.ratelimit import retry_seconds
from storage.db import Database, utcnow
from storage.digests import DigestArchive, StoredFile
from storage.outbox import OutboxRepo, Outgoing

log = logging.getLogger(__name__)
MAX_NETWORK_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class SendLimits:
    overall_per_second: float = 25.0  # Telegram allows ~30/s; the rest is for live replies
    private_per_second: float = 1.0
    group_per_minute: float = 20.0


@dataclass(slots=True)
class SenderStats:
    sent: int = 0
    retry_after: int = 0
    network_errors: int = 0
    unreachable: int = 0
    failed: int = 0
    chats: set[int] = field(default_factory=set)


class Pacer:
    """When the next message may go: overall, and per chat (private 1/s, group 20/min)."""

    def __init__(self, limits: SendLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._overall_next = 0.0
        self._chat_next: dict[int, float] = {}

    def overall_wait(self) -> float:
        return max(0.0, self._overall_next - self.clock())

    def chat_ready(self, chat_id: int) -> bool:
        return self._chat_next.get(chat_id, 0.0) <= self.clock()

    def chat_wait(self, chat_id: int) -> float:
        return max(0.0, self._chat_next.get(chat_id, 0.0) - self.clock())

    def sent(self, chat_id: int) -> None:
        now = self.clock()
        self._overall_next = max(self._overall_next, now) + 1.0 / self.limits.overall_per_second
        gap = (
            60.0 / self.limits.group_per_minute
            if chat_id < 0
            else 1.0 / self.limits.private_per_second
        )
        self._chat_next[chat_id] = now + gap
        if len(self._chat_next) > 50_000:  # forget chats whose pause is long over
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}

    def pause(self, seconds: float) -> None:
        self._overall_next = max(self._overall_next, self.clock() + seconds)


class OutboxSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        limits: SendLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.bot = bot
        self.repo = OutboxRepo(db)
        self.pacer = Pacer(limits or SendLimits(), monotonic)
        self.clock = clock
        self.sleep = sleep
        self.stats = SenderStats()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        while not stop.is_set():
            sent = await self.drain()
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=idle)

    async def drain(self, batch: int = 200, max_messages: int | None = None) -> int:
        """Send what may go now; returns how many were sent. Waits only for the overall pace."""
        sent = 0
        while max_messages is None or sent < max_messages:
            rows = await self.repo.sendable(self.clock(), batch)
            if not rows:
                return sent
            progressed = False
            held: set[int] = set()  # chats still cooling: their later rows wait too (order)
            for row in rows:
                if row.chat_id in held or not self.pacer.chat_ready(row.chat_id):
                    held.add(row.chat_id)
                    continue
                wait = self.pacer.overall_wait()
                if wait > 0:
                    await self.sleep(wait)
                outcome = await self.send_one(row)
                if outcome == "sent":
                    sent += 1
                    progressed = True
                elif outcome == "paused":
                    break  # a 429: the pause applies to everything; re-read the queue after it
                else:
                    progressed = True
                if max_messages is not None and sent >= max_messages:
                    return sent
            if not progressed:
                # A 429 pause, or every chat in this batch cooling down: wait for the first
                # moment something may go.
                waits = [self.pacer.overall_wait()]
                if held:
                    waits.append(min(self.pacer.chat_wait(c) for c in held))
                await self.sleep(max(0.01, min(w for w in waits if w > 0) if any(waits) else 0))
        return sent

    async def send_one(self, row: Outgoing) -> str:
        payload = row.payload
        try:
            if "document" in payload:
                document = payload["document"]
                stored: StoredFile | None = None
                upload: InputFile | str
                if "stored" in document:
                    # A digest file kept once for many recipients (storage/digests.py); after
                    # the first upload Telegram's file id is sent instead of the bytes.
                    stored = await DigestArchive(self.db).file(int(document["stored"]))
                    if stored is None:
                        await self.repo.fail(row.id, "stored file no longer exists")
                        return "failed"
                    upload = stored.telegram_file_id or InputFile(
                        stored.content, filename=stored.filename
                    )
                else:
                    content = bytes.fromhex(document["hex"])
                    upload = InputFile(content, filename=document["filename"])
                message = await self.bot.send_document(
                    row.chat_id, upload, caption=payload.get("text"), parse_mode=ParseMode.HTML
                )
                if stored is not None and not stored.telegram_file_id and message.document:
                    await DigestArchive(self.db).remember_file_id(
                        stored.id, message.document.file_id
                    )
            else:
                markup = payload.get("reply_markup")
                message = await self.bot.send_message(
                    row.chat_id,
                    payload["text"],
                    parse_mode=ParseMode.HTML,
                    reply_markup=InlineKeyboardMarkup.de_json(markup, self.bot) if markup else None,
                    disable_web_page_preview=True,
                )
        except RetryAfter as exc:
            self.stats.retry_after += 1
            self.pacer.pause(retry_seconds(exc))
            return "paused"
        except Forbidden as exc:
            self.stats.unreachable += 1
            if row.person_id is not None:
                await self.repo.person_unreachable(row.person_id, exc.message, self.clock())
            else:
                await self.repo.fail(row.id, exc.message)
            return "unreachable"
        except BadRequest as exc:
            # Telegram refused this message itself: retrying cannot help.
            self.stats.failed += 1
            log.warning("outbox row %s refused: %s", row.id, exc.message)
            await self.repo.fail(row.id, exc.message)
            return "failed"
        except (TimedOut, NetworkError) as exc:
            self.stats.network_errors += 1
            # httpx's errors may quote the request URL, which holds the token; the reason is
            # stored and printed by `triobot deliveries --failed`.
            reason = f"network: {exc}".replace(self.bot.token, "<token>")
            if row.attempts + 1 >= MAX_NETWORK_ATTEMPTS:
                await self.repo.fail(row.id, reason)
                return "failed"
            backoff = timedelta(seconds=min(300, 2 ** (row.attempts + 1)))
            await self.repo.retry_later(row.id, self.clock() + backoff, reason)
            return "retry"
        self.pacer.sent(row.chat_id)
        await self.repo.mark_sent(row.id, message.message_id, self.clock())
        self.stats.sent += 1
        self.stats.chats.add(row.chat_id)
        return "sent"
