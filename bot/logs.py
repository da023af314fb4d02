"""What a log line knows about the work it came from, and the two shapes it is written in.

The ids of the update, chat, person and outbox/schedule row being worked on live in one
context variable, so every line logged on the way (by us, PTB or httpx) carries them without
being passed down. asyncio copies context variables into a task when it is created: each
update PTB handles concurrently has its own, and a scope set inside one does not reach another.

The text a person sent is kept here too, only so that it can be cut out of any line that
would quote it (an exception message that repeats an answer, say): no log call formats what
people write, and this is the backstop that keeps it so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Literal

LogFormat = Literal["text", "json"]
FIELDS = ("update_id", "chat_id", "person_id", "row_id")
SAID = "<said>"
# Shorter texts ("yes", "2") are left alone: cutting them would mangle unrelated words.
SAID_MIN_CHARS = 4


@dataclass(frozen=True)
class Ids:
    update_id: int | None = None
    chat_id: int | None = None
    person_id: int | None = None
    row_id: int | None = None  # an outbox or schedule row
    said: tuple[str, ...] = ()  # what the person sent, to cut out (_said); never written


NONE = Ids()
_CURRENT: ContextVar[Ids] = ContextVar("triobot_log_ids", default=NONE)


def current() -> Ids:
    return _CURRENT.get()


def _said(texts: tuple[str | None, ...]) -> tuple[str, ...]:
    found = set()
    for text in texts:
        for part in [*(text or "").splitlines(), text or ""]:
            if len(part.strip()) >= SAID_MIN_CHARS:
                found.add(part.strip())
    return tuple(sorted(found, key=len, reverse=True))  # the longest first: no half cuts


def begin(
    *,
    update_id: int | None = None,
    chat_id: int | None = None,
    person_id: int | None = None,
    row_id: int | None = None,
    said: tuple[str | None, ...] = (),
) -> None:
    """A new scope for the rest of this task (an update's handling: PTB gives each its own
    task, so there is nothing to restore); ids not given are cleared."""
    # What to cut is worked out only when a line is logged: most updates log none.
    _CURRENT.set(Ids(update_id, chat_id, person_id, row_id, tuple(t for t in said if t)))


@contextmanager
def context(
    *,
    update_id: int | None = None,
    chat_id: int | None = None,
    person_id: int | None = None,
    row_id: int | None = None,
) -> Iterator[Ids]:
    """A new scope while the block runs (the sender's row, the scheduler's row); the ids not
    given are cleared inside it, and the scope before it comes back after."""
    token = _CURRENT.set(Ids(update_id, chat_id, person_id, row_id))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def bind(*, person_id: int | None = None, chat_id: int | None = None) -> None:
    """Add what became known part-way (who the person is) to the current scope."""
    ids = _CURRENT.get()
    _CURRENT.set(
        Ids(
            ids.update_id,
            ids.chat_id if chat_id is None else chat_id,
            ids.person_id if person_id is None else person_id,
            ids.row_id,
            ids.said,
        )
    )


def _cut(text: str, said: tuple[str, ...]) -> str:
    for part in said:
        text = text.replace(part, SAID)
    return text


class LogContext(logging.Filter):
    """Copies the current ids onto each record, and cuts what the person sent out of its
    message, traceback and stack. Put it before RedactToken, which formats the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _CURRENT.get()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(ids, name))
        said = _said(ids.said) if ids.said else ()
        if not said:
            return True
        message = record.getMessage()
        clean = _cut(message, said)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _cut(record.exc_text, said)
        if record.stack_info:
            record.stack_info = _cut(record.stack_info, said)
        return True


class TextFormatter(logging.Formatter):
    """The format `triobot run` always had, with the ids known appended: `[u=12 c=34]`."""

    SHORT: ClassVar[dict[str, str]] = {
        "update_id": "u",
        "chat_id": "c",
        "person_id": "p",
        "row_id": "r",
    }

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The line before any traceback or stack, which `format` adds after this.
        line = super().formatMessage(record)
        ids = [
            f"{short}={value}"
            for name, short in self.SHORT.items()
            if (value := getattr(record, name, None)) is not None
        ]
        return f"{line} [{' '.join(ids)}]" if ids else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ms), level, logger, message, the ids known, and
    `exc` (the traceback, one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(kind: LogFormat) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()
