"""The simulated Telegram world: people, chats, message numbering and the record of sends.

Split from the API layer so the update builders and the Bot API methods share one state
without either module growing past a readable size.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .html import HtmlError, ParsedHtml, parse_telegram_html
from .limits import Limits, RateLimiter

JSON = dict[str, Any]


class Refused(Exception):
    """A Bot API refusal; turned into Telegram's error JSON by ``FakeTelegram.handle``."""

    def __init__(
        self,
        status: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


def bad(description: str) -> Refused:
    return Refused(400, "Bad Request: " + description)


@dataclass(eq=False)
class SentMessage:
    """One message the bot sent, mutated in place when the bot edits or deletes it."""

    chat_id: int
    message_id: int
    method: str
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    document: tuple[str, bytes] | None = None
    reply_to_message_id: int | None = None
    deleted: bool = False
    edits: int = 0
    date: int = 0
    # What Telegram stores after parsing parse_mode: shown text and its entities.
    shown: ParsedHtml | None = field(default=None, repr=False)
    media: JSON | None = field(default=None, repr=False)

    @property
    def plain_text(self) -> str:
        if self.shown is not None:
            return self.shown.text
        return self.text or ""

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            [(b.get("text", ""), b.get("callback_data") or b.get("url") or "") for b in row]
            for row in rows
        ]


@dataclass(frozen=True, slots=True)
class Happened:
    """One thing the bot did in a chat, as it stood at that moment: a later edit of the
    message does not change what was recorded here (the console prints these in order)."""

    kind: str  # "sent", "edited", "deleted", or "answered" (answerCallbackQuery: a toast)
    chat_id: int  # for a toast, the person who tapped
    message: SentMessage | None  # None for a toast
    text: str
    # The inline keyboard's buttons as Telegram holds them (text, callback_data or url).
    keyboard: tuple[tuple[JSON, ...], ...] = ()
    alert: bool = False  # a toast shown as an alert the person must close


Watcher = Callable[[Happened], None]


def parse_text(text: str, parse_mode: str | None, *, strict_entities: bool = False) -> ParsedHtml:
    """What Telegram would show for ``text``; raises Refused like Telegram on bad markup."""
    if parse_mode is None or parse_mode == "":
        return ParsedHtml(text)
    mode = parse_mode.lower()
    if mode == "html":
        try:
            return parse_telegram_html(text, strict_entities=strict_entities)
        except HtmlError as exc:
            raise Refused(400, str(exc)) from None
    if mode in ("markdown", "markdownv2"):
        return ParsedHtml(text)  # not validated: this bot only speaks HTML
    raise bad("unsupported parse_mode")


class World:
    """State shared by the update builders and the Bot API methods."""

    def __init__(
        self,
        *,
        bot_id: int,
        bot_username: str,
        limits: Limits | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.clock = clock
        self.wall_clock = wall_clock
        self.limiter = RateLimiter(limits or Limits(), clock)
        self.users: dict[int, JSON] = {}
        self.groups: dict[int, tuple[str, set[int]]] = {}
        self.migrated: dict[int, int] = {}  # an upgraded group's old id → its supergroup's
        self.blocked: set[int] = set()
        self.started: set[int] = set()
        self.sent: list[SentMessage] = []
        # (kind, message) with kind "sent", "edited" or "deleted", in the order they happened.
        self.events: list[tuple[str, SentMessage]] = []
        self.calls: Counter[str] = Counter()
        self.refusals: list[tuple[str, dict[str, Any], int, str]] = []
        self.answers: list[JSON] = []
        # Told of every send, edit, deletion and toast as it happens (the console).
        self.watchers: list[Watcher] = []
        self._bot_messages: dict[tuple[int, int], SentMessage] = {}
        self.by_chat: dict[int, list[SentMessage]] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._deleted_user_messages: set[tuple[int, int]] = set()
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, tuple[str, bytes, str]] = {}
        self.strict_entities = False
        # Group privacy mode (Telegram's default for bots): in groups the bot only receives
        # commands, replies to its own messages, and messages that mention it.
        self.group_privacy = True
        self._file_seq = itertools.count(1)
        self._update_seq = itertools.count(1)
        self._query_seq = itertools.count(1)
        self.open_queries: dict[str, int] = {}  # query id -> user id
        self._bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Triobot",
            "username": bot_username,
        }

    # -- people and chats ---------------------------------------------------------------
    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> None:
        if user_id <= 0:
            raise ValueError("user ids are positive; negative ids are groups")
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self.users[user_id] = user

    def add_group(self, chat_id: int, title: str, member_ids: list[int]) -> None:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self.groups[chat_id] = (title, set(member_ids))

    def upgrade_group(self, chat_id: int, new_chat_id: int) -> None:
        """The group becomes a supergroup with a new id, as Telegram does when a group
        grows or an admin changes certain settings; the old id is refused from then on."""
        if chat_id not in self.groups or new_chat_id >= 0:
            raise ValueError("upgrade an existing group to a negative supergroup id")
        self.groups[new_chat_id] = self.groups.pop(chat_id)
        self.migrated[chat_id] = new_chat_id

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    def chat_json(self, chat_id: int) -> JSON:
        group = self.groups.get(chat_id)
        if group is not None:
            return {"id": chat_id, "type": "group", "title": group[0]}
        user = self.users.get(chat_id)
        if user is None:
            raise bad("chat not found")
        chat: JSON = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def require_chat(self, chat_id: int) -> None:
        """Refuse like Telegram when the bot may not write to ``chat_id``."""
        if chat_id in self.groups:
            return
        if chat_id in self.migrated:
            raise Refused(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[chat_id],
            )
        if chat_id not in self.users:
            raise bad("chat not found")
        if chat_id in self.blocked:
            raise Refused(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self.started:
            raise Refused(403, "Forbidden: bot can't initiate conversation with a user")

    def next_message_id(self, chat_id: int) -> int:
        # User and bot messages share one counter per chat, as in real private chats.
        value = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = value
        return value

    def now(self) -> int:
        return int(self.wall_clock())

    def new_file_id(self, kind: str) -> tuple[str, str]:
        n = next(self._file_seq)
        return f"{kind}-file-{n:06d}", f"uniq{n:06d}"

    def store_file(self, file_id: str, unique_id: str, name: str, content: bytes) -> None:
        self._files[file_id] = (name, content, unique_id)

    def file(self, file_id: str) -> tuple[str, bytes, str] | None:
        """(file name, content, file_unique_id) of a file Telegram would know."""
        return self._files.get(file_id)

    # -- messages -----------------------------------------------------------------------
    def bot_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        msg = self._bot_messages.get((chat_id, message_id))
        return None if msg is None or msg.deleted else msg

    def user_message(self, chat_id: int, message_id: int) -> JSON | None:
        key = (chat_id, message_id)
        if key in self._deleted_user_messages:
            return None
        return self._user_messages.get(key)

    def any_message_json(self, chat_id: int, message_id: int) -> JSON | None:
        sent = self.bot_message(chat_id, message_id)
        if sent is not None:
            return self.message_json(sent, with_reply=False)
        return self.user_message(chat_id, message_id)

    def record(self, msg: SentMessage) -> None:
        self.sent.append(msg)
        self.by_chat.setdefault(msg.chat_id, []).append(msg)
        self._bot_messages[(msg.chat_id, msg.message_id)] = msg
        self.events.append(("sent", msg))
        self.tell("sent", msg)

    def tell(self, kind: str, msg: SentMessage) -> None:
        """Tell the watchers what just happened to ``msg``, as it stands now."""
        if not self.watchers:
            return
        rows = (msg.reply_markup or {}).get("inline_keyboard") or []
        keyboard = tuple(tuple(dict(button) for button in row) for row in rows)
        happened = Happened(kind, msg.chat_id, msg, msg.plain_text, keyboard)
        for watcher in self.watchers:
            watcher(happened)

    def tell_toast(self, user_id: int, text: str | None, alert: bool) -> None:
        happened = Happened("answered", user_id, None, text or "", alert=alert)
        for watcher in self.watchers:
            watcher(happened)

    def message_json(self, msg: SentMessage, *, with_reply: bool = True) -> JSON:
        """The Message object Telegram returns for ``msg`` (a fresh dict every call)."""
        data: JSON = {
            "message_id": msg.message_id,
            "from": self._bot_user,
            "chat": self.chat_json(msg.chat_id),
            "date": msg.date,
        }
        shown = msg.shown
        text_key, entities_key = ("text", "entities")
        if msg.media is not None:
            data.update(msg.media)
            text_key, entities_key = ("caption", "caption_entities")
        if shown is not None and (shown.text or msg.media is None):
            data[text_key] = shown.text
            if shown.entities:
                data[entities_key] = [dict(e) for e in shown.entities]
        if msg.edits:
            data["edit_date"] = self.now()
        if msg.reply_markup is not None and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        if with_reply and msg.reply_to_message_id is not None:
            replied = self.any_message_json(msg.chat_id, msg.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = replied
        return data
