"""Drive an ``Application`` through ``FakeTelegram`` so tests read like a dialogue.

Each action of a ``SimPerson`` builds the update a real client would send, runs it through
the application, and returns what the bot sent or edited because of it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from telegram import Update
from telegram.ext import Application

from .api import FakeTelegram
from .world import JSON, SentMessage

AnyApp = Application[Any, Any, Any, Any, Any, Any]


def reply_texts(messages: list[SentMessage]) -> list[str]:
    return [m.plain_text for m in messages]


class Conversation:
    def __init__(
        self,
        app: AnyApp,
        api: FakeTelegram,
        *,
        step_seconds: float = 2.0,
        advance: Callable[[float], None] | None = None,
        fail_on_refusal: bool = False,
    ) -> None:
        self.app = app
        self.api = api
        self.step_seconds = step_seconds
        self._advance = advance
        # Handlers' exceptions are swallowed by PTB, so a refused call can otherwise pass
        # unnoticed; opt in to turn any refusal during an action into a test failure.
        self.fail_on_refusal = fail_on_refusal
        self._people: dict[int, SimPerson] = {}

    async def __aenter__(self) -> Conversation:
        await self.app.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.app.shutdown()

    def person(self, user_id: int, first_name: str, language_code: str | None = "en") -> SimPerson:
        known = self._people.get(user_id)
        if known is not None:
            return known
        if user_id not in self.api.users:
            self.api.add_user(user_id, first_name, language_code=language_code)
        person = SimPerson(self, user_id, first_name)
        self._people[user_id] = person
        return person

    async def deliver(self, update: JSON) -> list[SentMessage]:
        """Run one update through the app; returns messages sent or edited meanwhile."""
        if self._advance is not None:
            self._advance(self.step_seconds)
        if not self.api.visible_to_bot(update):
            return []  # group privacy mode: Telegram never hands this one to the bot
        events_before = len(self.api.events)
        refusals_before = len(self.api.refusals)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        if self.fail_on_refusal and len(self.api.refusals) > refusals_before:
            new = self.api.refusals[refusals_before:]
            lines = "\n".join(f"  {m}: {status} {text}" for m, _, status, text in new)
            raise AssertionError(f"Telegram refused calls during this action:\n{lines}")
        touched: dict[int, SentMessage] = {}
        for kind, msg in self.api.events[events_before:]:
            if kind != "deleted":
                touched.setdefault(id(msg), msg)
        return list(touched.values())


class SimPerson:
    def __init__(self, conversation: Conversation, user_id: int, first_name: str) -> None:
        self.conversation = conversation
        self.api = conversation.api
        self.user_id = user_id
        self.first_name = first_name

    def __repr__(self) -> str:
        return f"SimPerson({self.user_id}, {self.first_name!r})"

    # -- actions --------------------------------------------------------------------------
    async def says(
        self, text: str, *, chat_id: int | None = None, reply_to: int | SentMessage | None = None
    ) -> list[SentMessage]:
        reply_id = reply_to.message_id if isinstance(reply_to, SentMessage) else reply_to
        update = self.api.text(self.user_id, text, chat_id=chat_id, reply_to_message_id=reply_id)
        return await self.conversation.deliver(update)

    async def sends_voice(
        self, duration: int = 5, *, chat_id: int | None = None
    ) -> list[SentMessage]:
        update = self.api.voice(self.user_id, duration=duration, chat_id=chat_id)
        return await self.conversation.deliver(update)

    async def sends_sticker(self, *, chat_id: int | None = None) -> list[SentMessage]:
        return await self.conversation.deliver(self.api.sticker(self.user_id, chat_id=chat_id))

    async def sends_photo(
        self, *, caption: str | None = None, chat_id: int | None = None
    ) -> list[SentMessage]:
        update = self.api.photo(self.user_id, caption=caption, chat_id=chat_id)
        return await self.conversation.deliver(update)

    async def sends_document(
        self, name: str, *, content: bytes = b"%PDF-1.4 fake", chat_id: int | None = None
    ) -> list[SentMessage]:
        update = self.api.document(self.user_id, name, content=content, chat_id=chat_id)
        return await self.conversation.deliver(update)

    async def sends_location(self, *, chat_id: int | None = None) -> list[SentMessage]:
        return await self.conversation.deliver(self.api.location(self.user_id, chat_id=chat_id))

    async def taps(
        self, label: str, *, message: SentMessage | None = None, chat_id: int | None = None
    ) -> list[SentMessage]:
        """Tap the button labelled ``label`` (exact match first, then substring) on
        ``message`` or on the newest message with an inline keyboard in the chat."""
        target = message or self._newest_with_keyboard(chat_id)
        buttons = [b for row in (target.reply_markup or {}).get("inline_keyboard", []) for b in row]
        chosen = [b for b in buttons if b.get("text") == label]
        if not chosen:
            chosen = [b for b in buttons if label in b.get("text", "")]
        labels = [b.get("text") for b in buttons]
        if not chosen:
            raise AssertionError(f"no button {label!r} on message {target.message_id}: {labels}")
        if len(chosen) > 1 and chosen[0].get("text") != label:
            raise AssertionError(f"button label {label!r} is ambiguous among {labels}")
        data = chosen[0].get("callback_data")
        if data is None:
            raise AssertionError(f"button {chosen[0].get('text')!r} is not a callback button")
        return await self.taps_data(data, message_id=target.message_id, chat_id=target.chat_id)

    async def taps_data(
        self, data: str, *, message_id: int, chat_id: int | None = None
    ) -> list[SentMessage]:
        """Send raw callback data, e.g. forged or for a message that no longer exists."""
        update = self.api.callback(self.user_id, message_id, data, chat_id=chat_id)
        return await self.conversation.deliver(update)

    def _newest_with_keyboard(self, chat_id: int | None) -> SentMessage:
        chat = self.user_id if chat_id is None else chat_id
        for msg in reversed(self.api.messages_in(chat)):
            if msg.reply_markup and msg.reply_markup.get("inline_keyboard"):
                return msg
        raise AssertionError(f"no message with an inline keyboard in chat {chat}")

    # -- what the person sees -------------------------------------------------------------
    @property
    def inbox(self) -> list[SentMessage]:
        return self.api.messages_in(self.user_id)

    @property
    def last(self) -> SentMessage | None:
        return self.api.last_in(self.user_id)

    @property
    def last_text(self) -> str:
        last = self.last
        return "" if last is None else last.plain_text

    @property
    def last_answer(self) -> JSON | None:
        """The bot's most recent answerCallbackQuery for this person's taps, if any."""
        mine = [a for a in self.api.answers if a["user_id"] == self.user_id]
        return mine[-1] if mine else None
