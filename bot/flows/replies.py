"""What the flow engine hands back: the replies to send, and who they are for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bot.flows.answers import JSON
from bot.texts import Label


@dataclass(frozen=True, slots=True)
class Actor:
    person_id: int
    chat_id: int
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Button:
    label: Label
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Say:
    """Send a message rendered from `template`. `ask` marks a question awaiting an answer."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    keyboard: Keyboard | None = None
    ask: bool = False


@dataclass(frozen=True, slots=True)
class Tapped:
    """Change the message whose button was tapped: new keyboard (None drops it)."""

    keyboard: Keyboard | None = None
    chosen: Label | None = None


@dataclass(frozen=True, slots=True)
class Toast:
    """A short notice on the tapped button (answerCallbackQuery): a label, ≤ 200 chars."""

    label: Label
    alert: bool = False


Reply = Say | Tapped | Toast


@dataclass(slots=True)
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    handled: bool = True  # False: no open flow took the input; the caller decides
    finished: str | None = None  # name of a flow that just completed
    refresh_person: bool = False  # a step changed the person (e.g. their language)
    # The answers of the flow that just finished, for follow-ups that need Telegram (a file).
    answers: Mapping[str, JSON] | None = None
    # The flow a message opened by answering its first question, if it is still open.
    opened: int | None = None
