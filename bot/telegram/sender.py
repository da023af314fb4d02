"""Sends the outbox at Telegram's pace: under the limits, patient with 429s, final on 403.

A row is claimed before it is sent and marked sent only after Telegram accepted it, one at
a time, so a crash can resend at most the one message that was in flight, never lose one,
and two senders (two processes) can never both send a row. What goes wrong is contained:
a refusal of one message fails that row only; a database that is locked or full, or a
Bot API that is away, pauses the sender, which logs, waits and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import logs
from bot.clock import Clock
from bot.scheduling.supervision import Backoff, Heartbeat, pause, unless_stopped
from bot.telegram.ratelimit import Budget, Pacer, SendLimits, retry_seconds
from bot.telegram.shared_budget import SharedBudget
from storage.db import Database, StorageUnavailable, unavailable
from storage.digests import DigestArchive, StoredFile
from storage.lease import dead_on_this_host, new_holder_id, real_now
from storage.outbox import OutboxRepo, Outgoing

log = logging.getLogger(__name__)
MAX_NETWORK_ATTEMPTS = 8
# A claimed row not sent within this (real) time is free again: its sender died.
CLAIM_TTL = timedelta(minutes=2)
# How often expired claims are looked for while sending goes on.
RELEASE_EVERY = 60.0
# How long a sender keeps trying to record a message Telegram took, when the database is
# unavailable, before it gives up (the row is then sent again: one duplicate, in flight).
RECORD_PATIENCE = 30.0


@dataclass(slots=True)
class SenderStats:
    sent: int = 0
    retry_after: int = 0
    retry_after_seconds: float = 0.0  # the pauses Telegram's 429s asked for, in all
    network_errors: int = 0
    unreachable: int = 0
    failed: int = 0
    moved: int = 0
    storage_errors: int = 0
    chats: set[int] = field(default_factory=set)


class OutboxSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        limits: SendLimits | None = None,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.repo = OutboxRepo(db)
        limits = limits or SendLimits()
        # Telegram's budget, shared with the replies (the factory hands it to the rate
        # limiter); a reply waiting for room waits on the same clock as the outbox.
        self.budget = Budget(reply_share=limits.reply_share, clock=monotonic, sleep=sleep)
        self.pacer = Pacer(limits, monotonic, self.budget)
        # Several workers on one PostgreSQL: Telegram's budget for them all (README
        # "Scaling out"); None on SQLite, where this process is the only sender.
        self.shared: SharedBudget | None = None
        self.clock = clock
        self.sleep = sleep
        self.owner = owner or new_holder_id()  # the instance lease's holder, when there is one
        self.stats = SenderStats()
        self.last_sent_at: datetime | None = None
        self._wake = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._outage = 0  # network errors in a row, across rows: the Bot API is away
        # For /readyz, on the pacer's clock (which tests swap for a fake one).
        self.heartbeat = Heartbeat(lambda: self.pacer.clock())

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Send until `stop`: the message in flight finishes, the rest stays queued.

        Nothing here ends the loop but `stop`. A database error (locked past the write
        patience, disk full) or a Bot API that is away is logged and waited out with a
        growing pause; everything is sent once it passes.
        """
        with self.heartbeat.loop():
            await self._run(stop, idle)

    async def _run(self, stop: asyncio.Event, idle: float) -> None:
        self._stop = stop
        backoff = Backoff(first=1.0, most=30.0)
        released_at: float | None = None
        while not stop.is_set():
            self.heartbeat.beat()
            try:
                if released_at is None or time.monotonic() - released_at > RELEASE_EVERY:
                    await self._release_stale(first=released_at is None)
                    released_at = time.monotonic()
                sent = await self.drain()
                backoff.reset()
                if sent == 0 and not stop.is_set():
                    self._wake.clear()
                    self.heartbeat.beat(idle)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=idle)
            except Exception as exc:
                wait = backoff.next()
                if unavailable(exc):
                    self.stats.storage_errors += 1
                    log.warning(
                        "outbox paused: database unavailable (%s); retry in %.0f s", exc, wait
                    )
                elif isinstance(exc, InvalidToken):
                    log.error("outbox paused: Telegram rejected the token; retry in %.0f s", wait)
                else:
                    log.exception("outbox cycle failed; retrying in %.0f s", wait)
                self.heartbeat.beat(wait)
                await pause(stop, wait)

    async def _release_stale(self, *, first: bool) -> None:
        """Put back claims that expired, and at start those of a sender on this host whose
        process is gone (ours, before a SIGKILL and restart)."""
        dead = dead_on_this_host(await self.repo.claim_owners()) if first else ()
        count = await self.repo.release_stale(real_now(), dead_here=dead)
        if count:
            log.info("outbox: %d row(s) claimed by a stopped sender put back", count)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _wait(self, seconds: float) -> None:
        """The sender's pacing waits: cut short by a stop, skipped forward by benchmarks."""
        self.heartbeat.beat(seconds)
        if self._stop is None:
            await self.sleep(seconds)
        else:
            await unless_stopped(self.sleep(seconds), self._stop)

    async def drain(self, batch: int = 200, max_messages: int | None = None) -> int:
        """Send what may go now; returns how many were sent. Waits only for the overall pace."""
        sent = 0
        while (max_messages is None or sent < max_messages) and not self._stopping():
            rows = await self.repo.sendable(self.clock(), batch)
            if not rows:
                return sent
            progressed = False
            held: set[int] = set()  # chats still cooling: their later rows wait too (order)
            for row in rows:
                self.heartbeat.beat()
                if self._stopping():
                    return sent
                if row.chat_id in held or not self.pacer.chat_ready(row.chat_id):
                    held.add(row.chat_id)
                    continue
                wait = self.pacer.overall_wait()
                if wait > 0:
                    await self._wait(wait)
                    if self._stopping():
                        return sent
                if not await self.repo.claim(
                    row.id, self.owner, real_now() + CLAIM_TTL, self.clock()
                ):
                    continue  # another sender took it, or it changed meanwhile
                if not await self._room():
                    await self.repo.unclaim(row.id)
                    return sent
                if self.shared is not None and not await self._shared_room(row.chat_id):
                    await self.repo.unclaim(row.id)
                    held.add(row.chat_id)  # another worker wrote there: its gap, here too
                    continue
                with logs.context(row_id=row.id, chat_id=row.chat_id, person_id=row.person_id):
                    outcome = await self.send_one(row)
                if outcome == "sent":
                    sent += 1
                    progressed = True
                elif outcome == "paused":
                    break  # a 429: the pause applies to everything; re-read the queue after it
                elif outcome == "moved":
                    progressed = True
                    break  # rows read before the move still name the old chat: read again
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
                await self._wait(max(0.01, min(w for w in waits if w > 0) if any(waits) else 0))
        return sent

    async def _room(self) -> bool:
        """Replies may have taken room while the row was claimed: wait for it again (they go
        first). False if the sender was stopped meanwhile."""
        while (wait := self.pacer.overall_wait()) > 0:
            await self._wait(wait)
            if self._stopping():
                return False
        return True

    async def _shared_room(self, chat_id: int) -> bool:
        """The deployment's budget (several workers): the chat's gap, then room overall
        with the reply share left free. False if the chat is cooling, or on a stop."""
        assert self.shared is not None
        wait = await self.shared.chat_wait(chat_id)
        if wait > 0:
            self.pacer.hold(chat_id, wait)
            return False
        while (wait := await self.shared.outbox_wait()) > 0:
            await self._wait(wait)
            if self._stopping():
                return False
        return True

    async def send_one(self, row: Outgoing) -> str:
        """Send one claimed row and record what became of it; the outcome in a word.

        Whatever Telegram says about this message settles this row only. A database error
        is raised to `run`, which waits it out (the claim expires, the row goes again).
        """
        self.pacer.going()
        try:
            message = await self._send(row)
        except RetryAfter as exc:
            self.stats.retry_after += 1
            self.stats.retry_after_seconds += retry_seconds(exc)
            self.pacer.pause(retry_seconds(exc))
            if self.shared is not None:
                await self.shared.hold(row.chat_id, retry_seconds(exc))
            await self.repo.unclaim(row.id)
            return "paused"
        except ChatMigrated as exc:
            # The group became a supergroup: its link and every row for it follow the new id,
            # and this row goes again there.
            self.stats.moved += 1
            moved = await self.repo.move_chat(row.chat_id, exc.new_chat_id)
            await self.repo.unclaim(row.id)  # moved already, unless it was read before a move
            log.warning(
                "chat %s is now %s: %d unsent row(s) follow it", row.chat_id, exc.new_chat_id, moved
            )
            return "moved"
        except Forbidden as exc:
            self.stats.unreachable += 1
            if row.person_id is not None:
                await self.repo.person_unreachable(row.person_id, exc.message, self.clock())
            else:
                await self.repo.fail(row.id, exc.message, self.owner)
            return "unreachable"
        except InvalidToken:
            await self.repo.unclaim(row.id)
            raise  # not this message's fault: the sender pauses
        except BadRequest as exc:
            # Telegram refused this message itself: retrying cannot help. (BadRequest is a
            # NetworkError to PTB, so it is caught first.)
            return await self._failed(row, exc.message)
        except (TimedOut, NetworkError) as exc:
            return await self._network_error(row, exc)
        except (StorageUnavailable, sqlite3.Error):
            raise
        except Exception as exc:
            # Any other refusal of this message, or a row that cannot be built into one: fail
            # it, visible in `triobot deliveries --failed`, and go on with the rest.
            return await self._failed(
                row, exc.message if isinstance(exc, TelegramError) else repr(exc)
            )
        self.pacer.sent(row.chat_id)
        if self._outage:
            log.info("outbox: the Bot API answers again after %d failed tries", self._outage)
            self._outage = 0
        await self._record_sent(row, message.message_id)
        self.stats.sent += 1
        self.stats.chats.add(row.chat_id)
        return "sent"

    async def _network_error(self, row: Outgoing, exc: TelegramError) -> str:
        """A 5xx, a timeout or a broken connection. Once, it may be this message's; in a row,
        the Bot API (or the network) is away: the whole sender pauses, growing to a minute,
        and the tries of the outage do not count against the rows, so none is failed by it."""
        self.stats.network_errors += 1
        self._outage += 1
        # httpx's errors may quote the request URL, which holds the token; the reason is
        # stored and printed by `triobot deliveries --failed`.
        reason = f"network: {exc}".replace(self.bot.token, "<token>")
        if self._outage == 1:
            if row.attempts + 1 >= MAX_NETWORK_ATTEMPTS:
                return await self._failed(row, reason)
            backoff = timedelta(seconds=min(300, 2 ** (row.attempts + 1)))
            await self.repo.retry_later(row.id, self.clock() + backoff, reason, self.owner)
            return "retry"
        wait = min(60.0, 2.0 ** min(self._outage - 1, 6))
        if self._outage in (2, 4, 8) or self._outage % 16 == 0:
            log.warning(
                "outbox paused: the Bot API is not answering (%s); next try in %.0f s", reason, wait
            )
        self.pacer.pause(wait)
        await self.repo.retry_later(row.id, self.clock(), reason, self.owner, count=False)
        return "paused"

    async def _failed(self, row: Outgoing, reason: str) -> str:
        self.stats.failed += 1
        reason = reason.replace(self.bot.token, "<token>")
        log.warning("outbox row %s (%s) failed: %s", row.id, row.kind, reason)
        await self.repo.fail(row.id, reason, self.owner)
        return "failed"

    async def _record_sent(self, row: Outgoing, message_id: int) -> None:
        """Telegram took it: record that, waiting out a database that is unavailable, since
        forgetting it would send the message again."""
        deadline = time.monotonic() + RECORD_PATIENCE
        backoff = Backoff(first=0.5, most=5.0)
        while True:
            try:
                await self.repo.mark_sent(row.id, message_id, self.clock(), self.owner)
            except (StorageUnavailable, sqlite3.Error) as exc:
                self.stats.storage_errors += 1
                if time.monotonic() > deadline:
                    # Unrecorded, the claim expires and the row goes again: the one message
                    # in flight that a long outage (or a stop) may send twice.
                    raise
                log.warning("outbox row %s sent but not yet recorded (%s); retrying", row.id, exc)
                if self._stopping():
                    deadline = min(deadline, time.monotonic() + 1.0)  # a last try, then go
                    await asyncio.sleep(0.2)
                else:
                    await pause(self._stop, backoff.next())
                continue
            self.last_sent_at = self.clock()
            return

    async def _send(self, row: Outgoing) -> Message:
        payload = row.payload
        if "voice" in payload:  # a voice note by its file id (bot/scheduling/notices.py)
            return await self.bot.send_voice(
                row.chat_id,
                payload["voice"],
                duration=payload.get("duration") or None,
                caption=payload.get("text"),
                parse_mode=ParseMode.HTML,
            )
        if "document" not in payload:
            markup = payload.get("reply_markup")
            return await self.bot.send_message(
                row.chat_id,
                payload["text"],
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup.de_json(markup, self.bot) if markup else None,
                disable_web_page_preview=True,
            )
        document = payload["document"]
        stored: StoredFile | None = None
        upload: InputFile | str
        if "stored" in document:
            # A digest file kept once for many recipients (storage/digests.py); after the
            # first upload Telegram's file id is sent instead of the bytes.
            stored = await DigestArchive(self.db).file(int(document["stored"]))
            if stored is None:
                raise LookupError("stored file no longer exists")
            upload = stored.telegram_file_id or InputFile(stored.content, filename=stored.filename)
        else:
            upload = InputFile(bytes.fromhex(document["hex"]), filename=document["filename"])
        message = await self.bot.send_document(
            row.chat_id, upload, caption=payload.get("text"), parse_mode=ParseMode.HTML
        )
        if stored is not None and not stored.telegram_file_id and message.document:
            try:
                await DigestArchive(self.db).remember_file_id(stored.id, message.document.file_id)
            except (StorageUnavailable, sqlite3.Error) as exc:
                # Only saves uploading it again: the message went, which is what counts.
                log.warning("digest file %s: Telegram's file id not kept (%s)", stored.id, exc)
        return message
