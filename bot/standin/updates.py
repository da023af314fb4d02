"""Builders for the updates a person's Telegram client would produce.

They return plain JSON dicts (what getUpdates would carry) so the same update can be queued
for polling or fed straight to ``Application.process_update`` via ``Update.de_json``.
Misuse that no real client could produce (unknown user, user outside the group) raises
ValueError, so a broken test fails loudly instead of exercising an impossible situation.
"""

from __future__ import annotations

import re
from typing import Any

from .html import utf16_len
from .world import JSON, World

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class UpdateBuilders(World):
    def _sender(self, user_id: int, chat_id: int | None) -> tuple[JSON, int]:
        user = self.users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}: call add_user() first")
        chat = user_id if chat_id is None else chat_id
        if chat < 0:
            group = self.groups.get(chat)
            if group is None:
                raise ValueError(f"unknown group {chat}: call add_group() first")
            if user_id not in group[1]:
                raise ValueError(f"user {user_id} is not a member of group {chat}")
        elif chat != user_id:
            raise ValueError("a private chat's id is the user's own id")
        else:
            # Writing to the bot starts the chat; a client must unblock the bot to write.
            self.started.add(user_id)
            self.blocked.discard(user_id)
        return dict(user), chat

    def visible_to_bot(self, update: JSON) -> bool:
        """Would Telegram deliver this update to the bot at all? In a group with privacy
        mode on, plain messages that neither command, reply to nor mention the bot are not."""
        message = update.get("message") or update.get("edited_message")
        if message is None or message["chat"]["id"] >= 0 or not self.group_privacy:
            return True
        text = message.get("text") or message.get("caption") or ""
        if text.startswith("/") or f"@{self.bot_username}" in text:
            return True
        replied = message.get("reply_to_message")
        return replied is not None and replied.get("from", {}).get("id") == self.bot_id

    def _wrap(self, kind: str, payload: JSON) -> JSON:
        return {"update_id": next(self._update_seq), kind: payload}

    def _incoming(
        self, user_id: int, chat_id: int | None, body: JSON, reply_to: int | None = None
    ) -> JSON:
        user, chat = self._sender(user_id, chat_id)
        message_id = self.next_message_id(chat)
        message: JSON = {
            "message_id": message_id,
            "from": user,
            "chat": self.chat_json(chat),
            "date": self.now(),
        }
        message.update(body)
        if reply_to is not None:
            replied = self.any_message_json(chat, reply_to)
            if replied is not None:
                message["reply_to_message"] = replied
        self._user_messages[(chat, message_id)] = message
        return self._wrap("message", message)

    def _new_file(
        self, kind: str, name: str, content: bytes, extra: dict[str, Any] | None = None
    ) -> JSON:
        file_id, unique_id = self.new_file_id(kind)
        self.store_file(file_id, unique_id, name, content)
        info: JSON = {"file_id": file_id, "file_unique_id": unique_id, "file_size": len(content)}
        if extra:
            info.update(extra)
        return info

    @staticmethod
    def _text_body(text: str, key: str = "text") -> JSON:
        body: JSON = {key: text}
        match = _COMMAND.match(text)
        if match and key == "text":
            length = utf16_len(match.group())
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return body

    def text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        if not text.strip():
            raise ValueError("Telegram clients cannot send an empty message")
        return self._incoming(user_id, chat_id, self._text_body(text), reply_to_message_id)

    def voice(
        self,
        user_id: int,
        *,
        duration: int = 5,
        chat_id: int | None = None,
        content: bytes | None = None,
    ) -> JSON:
        data = content if content is not None else b"OggS" + bytes(duration * 100)
        voice = self._new_file(
            "voice", "voice.ogg", data, {"duration": duration, "mime_type": "audio/ogg"}
        )
        return self._incoming(user_id, chat_id, {"voice": voice})

    def sticker(self, user_id: int, *, emoji: str = "👍", chat_id: int | None = None) -> JSON:
        sticker = self._new_file(
            "sticker",
            "sticker.webp",
            b"RIFF\0\0\0\0WEBP",
            {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
            },
        )
        return self._incoming(user_id, chat_id, {"sticker": sticker})

    def photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
    ) -> JSON:
        # Telegram always delivers several sizes, smallest first.
        sizes = [
            self._new_file("photo", "photo.jpg", content[:8], {"width": 90, "height": 60}),
            self._new_file("photo", "photo.jpg", content, {"width": 1280, "height": 853}),
        ]
        body: JSON = {"photo": sizes}
        if caption is not None:
            body["caption"] = caption
        return self._incoming(user_id, chat_id, body)

    def document(
        self,
        user_id: int,
        filename: str,
        *,
        content: bytes = b"%PDF-1.4 fake",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        doc = self._new_file(
            "document", filename, content, {"file_name": filename, "mime_type": mime_type}
        )
        body: JSON = {"document": doc}
        if caption is not None:
            body["caption"] = caption
        return self._incoming(user_id, chat_id, body)

    def location(
        self,
        user_id: int,
        latitude: float = 51.5072,
        longitude: float = -0.1276,
        *,
        chat_id: int | None = None,
    ) -> JSON:
        location = {"latitude": latitude, "longitude": longitude}
        return self._incoming(user_id, chat_id, {"location": location})

    def edited_text(
        self, user_id: int, message_id: int, new_text: str, *, chat_id: int | None = None
    ) -> JSON:
        _, chat = self._sender(user_id, chat_id)
        original = self.user_message(chat, message_id)
        if original is None or original["from"]["id"] != user_id or "text" not in original:
            raise ValueError(f"user {user_id} has no text message {message_id} in chat {chat}")
        edited = {k: v for k, v in original.items() if k not in ("text", "entities")}
        edited.update(self._text_body(new_text))
        edited["edit_date"] = self.now()
        self._user_messages[(chat, message_id)] = edited
        return self._wrap("edited_message", edited)

    def callback(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> JSON:
        """A button tap. ``data`` is not checked against the keyboard so tests can forge it;
        a message that was deleted or never existed arrives as Telegram's inaccessible
        message (date 0)."""
        user, chat = self._sender(user_id, chat_id)
        sent = self.bot_message(chat, message_id)
        message: JSON
        if sent is None:
            message = {"chat": self.chat_json(chat), "message_id": message_id, "date": 0}
        else:
            message = self.message_json(sent)
        query_id = f"{next(self._query_seq)}{user_id:012d}"
        self.open_queries[query_id] = user_id
        query: JSON = {
            "id": query_id,
            "from": user,
            "chat_instance": f"-{abs(chat)}77",
            "message": message,
            "data": data,
        }
        return self._wrap("callback_query", query)
