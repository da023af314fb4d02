"""An update handled again when another worker's transaction conflicted with its own.

With several workers on one PostgreSQL, transactions are SERIALIZABLE: two workers' updates
that touch the same rows (two members of one trio agreeing a summary, say) may conflict,
and PostgreSQL then undoes one of them whole. Nothing of that update was kept, so rather
than telling the person "not kept, send it again", its handler simply runs again
(storage/turns.py `retry_conflicts`) — as long as it has not yet changed anything on
Telegram's side: a message once sent must not be sent twice. Every request to the Bot API
passes through the rate limiter (bot/telegram/ratelimit.py), which marks the update's try
here as soon as one that changes something goes out; a try so marked is not repeated, and
its conflict reaches the error handler as before.

On SQLite (one writer at a time, one process) transactions never conflict, and this only
costs a context variable per update.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from telegram import Update
from telegram.ext import Application

from storage.db import StorageUnavailable
from storage.turns import CONFLICT_TRIES, conflicted, retry_conflicts

log = logging.getLogger(__name__)

# Requests that only read (a voice note's file, the bot itself): done twice, they do no harm.
READ_ONLY = frozenset({"getfile", "getme", "getchat", "getchatmember", "getupdates"})

# The try in progress in this task: a one-item list, so that tasks it starts share it.
_try: ContextVar[list[bool] | None] = ContextVar("triobot_update_try", default=None)


def note_request(endpoint: str) -> None:
    """A request is going to Telegram for the update being handled (if any)."""
    marks = _try.get()
    if marks is not None and endpoint.lower() not in READ_ONLY:
        marks[0] = True


Handler = Callable[[Update, Any], Coroutine[Any, Any, Any]]


def retrying(callback: Handler) -> Handler:
    """`callback`, run again (up to storage/turns.py CONFLICT_TRIES in all) while its try
    failed on a conflict with another worker and sent nothing."""

    async def handle(update: Update, context: Any) -> Any:
        marks = [False]

        async def attempt() -> Any:
            marks[0] = False
            token = _try.set(marks)
            try:
                return await callback(update, context)
            finally:
                _try.reset(token)

        try:
            return await retry_conflicts(attempt, may_retry=lambda: not marks[0])
        except StorageUnavailable as exc:
            if conflicted(exc):
                log.info(
                    "%s: conflicted with another worker %s", handle.__name__,
                    "after a message had gone, so not tried again" if marks[0]
                    else f"in each of {CONFLICT_TRIES} tries",
                )  # fmt: skip
            raise

    handle.__name__ = getattr(callback, "__name__", "handle")
    handle.__doc__ = callback.__doc__
    handle.__wrapped__ = callback  # type: ignore[attr-defined]
    return handle


def retry_all(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Every handler from group 0 on is run again on a conflict. The groups before it
    (log context, flood control) count and mark each update once, so they stay as they are:
    they read and write nothing that could conflict."""
    for group, handlers in app.handlers.items():
        if group < 0:
            continue
        for handler in handlers:
            handler.callback = retrying(handler.callback)
