"""The one way a handler's message reaches Telegram: text parts or a file, each tried again
after a 5xx or a broken connection, and handed to the outbox when Telegram still says
"too many requests" (it took none of it; the outbox paces itself and keeps it until sent).

Handlers never call `send_message` or `send_document` themselves: they go through `say`
(bot/telegram/handlers/common.py), which renders a template and calls `send_text` here.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from telegram import (
    ForceReply,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram.context import Context
from bot.telegram.ratelimit import retry_seconds
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)

# Pauses before a failed reply's second and third tries (the last entry is never slept).
REPLY_RETRY_PAUSES = (0.5, 1.5, 0.0)

Markup = InlineKeyboardMarkup | ForceReply
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # replies never show a link's preview


async def _attempt(send: Callable[[], Awaitable[Any]]) -> RetryAfter | None:
    """Send once, or again after a network failure; the refusal if Telegram is still
    limiting this chat (then nothing was taken)."""
    for attempt, pause in enumerate(REPLY_RETRY_PAUSES):
        try:
            await send()
            return None
        except RetryAfter as exc:
            # Still over Telegram's limits after the rate limiter's own waits (a busy
            # moment: replies and the outbox share Telegram's budget).
            return exc
        except (TimedOut, BadRequest):
            # A timeout may well have arrived (a second copy would be worse than none);
            # a request Telegram refused would be refused again.
            raise
        except NetworkError:
            # Telegram answered 5xx or the connection broke: the answer is stored
            # already; try the reply again shortly rather than leave them in silence.
            if attempt == len(REPLY_RETRY_PAUSES) - 1:
                raise
            await asyncio.sleep(pause)
    return None


async def send_text(
    context: Context,
    chat_id: int,
    parts: Sequence[str],
    keyboard: Markup | None = None,
    *,
    reply_to: int | None = None,
) -> None:
    """Send HTML parts in order, the keyboard (and the reply-to) on the last one."""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        refused = await _attempt(
            _message(context, chat_id, part, keyboard if last else None, reply_to if last else None)
        )
        if refused is not None:
            payloads: list[dict[str, object]] = [{"text": rest} for rest in parts[index:]]
            if isinstance(keyboard, InlineKeyboardMarkup):
                # A ForceReply is not kept: the person can still reply to the message.
                payloads[-1]["reply_markup"] = keyboard.to_dict()
            await _send_later(context, chat_id, payloads, refused)
            return


def _message(
    context: Context, chat_id: int, text: str, keyboard: Markup | None, reply_to: int | None
) -> Callable[[], Awaitable[Any]]:
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "text": text,
        "parse_mode": ParseMode.HTML,
        "link_preview_options": NO_PREVIEW,
        "reply_markup": keyboard,  # None, like reply_parameters, is left out of the request
        "reply_parameters": (
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None
        ),
    }

    def send() -> Awaitable[Any]:
        return post_unread(context, "sendMessage", params)

    return send


async def post_unread(context: Context, method: str, params: dict[str, Any]) -> None:
    """A request whose answer nothing reads. PTB's typed methods (`send_message`…) turn
    Telegram's answer into a `Message`, setting some 240 attributes one by one: ~90 µs for a
    question with its keyboard, a fifth of all the time an answer takes (bench/
    flow_throughput.py). A reply never looks at it, so it goes through the Bot's own request
    path without that step: the same request (values as PTB sends them, None left out), the
    same rate limiter (bot/telegram/ratelimit.py) and the same errors (BadRequest, Forbidden,
    RetryAfter, NetworkError, TimedOut), tested in tests/test_replier_unread.py. What the
    typed methods would add on their own, PTB's `Defaults` and its callback-data cache, the
    Application does not use (a test says so): the request is what `params` says."""
    await context.bot._post(method, dict(params))


async def send_file(
    context: Context, chat_id: int, content: bytes, filename: str, caption: str | None = None
) -> None:
    """Send a file (an HTML caption under it), as `send_text` sends a message."""

    def send() -> Awaitable[Any]:
        document = InputFile(io.BytesIO(content), filename=filename)
        return context.bot.send_document(
            chat_id, document, caption=caption, parse_mode=ParseMode.HTML
        )

    refused = await _attempt(send)
    if refused is not None:
        payload: dict[str, object] = {
            "text": caption,
            "document": {"hex": content.hex(), "filename": filename},
        }
        await _send_later(context, chat_id, [payload], refused)


async def send_voice(
    context: Context, chat_id: int, file_id: str, caption: str | None = None
) -> None:
    """Send a voice note Telegram already holds, by its file id (a trio's spoken question)."""

    def send() -> Awaitable[Any]:
        return context.bot.send_voice(chat_id, file_id, caption=caption, parse_mode=ParseMode.HTML)

    refused = await _attempt(send)
    if refused is not None:
        await _send_later(context, chat_id, [{"voice": file_id, "text": caption}], refused)


async def _send_later(
    context: Context,
    chat_id: int,
    payloads: list[dict[str, object]],
    refused: RetryAfter,
) -> None:
    svc = context.bot_data
    now = svc.clock()
    not_before = now + timedelta(seconds=retry_seconds(refused))
    batch = uuid.uuid4().hex  # each reply is its own: nothing to deduplicate against
    async with svc.db.transaction() as tx:
        for index, payload in enumerate(payloads):
            await OutboxRepo.enqueue(
                tx,
                chat_id,
                "reply",
                payload,
                now=now,
                not_before=not_before,
                dedupe_key=f"reply:{batch}:{index}",
            )
    log.warning("a reply to chat %s still limited: %d part(s) queued", chat_id, len(payloads))
    svc.sender.wake()
