"""Bot API methods that create, change or remove messages, with Telegram's refusals."""

from __future__ import annotations

import mimetypes
from typing import Any

from .html import ParsedHtml, utf16_len
from .params import allow_without_reply, check_reply_markup, get_int, get_str, reply_to_id
from .updates import UpdateBuilders
from .world import JSON, Refused, SentMessage, bad, parse_text

Files = dict[str, tuple[str, bytes]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD = 50 * 1024 * 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM")


def _same_shown(a: ParsedHtml | None, b: ParsedHtml) -> bool:
    return a is not None and a.text == b.text and a.entities == b.entities


def _inline(markup: JSON | None) -> JSON | None:
    return markup if markup is not None and "inline_keyboard" in markup else None


class Messaging(UpdateBuilders):
    # -- shared checks ------------------------------------------------------------------
    def _shown(self, p: dict[str, Any], key: str) -> ParsedHtml:
        text = get_str(p, key)
        caption = key == "caption"
        if text is None:
            if caption:
                return ParsedHtml("")
            raise bad("message text is empty")
        mode = get_str(p, "caption_parse_mode" if caption else "parse_mode") or get_str(
            p, "parse_mode"
        )
        shown = parse_text(text, mode, strict_entities=self.strict_entities)
        # Telegram trims surrounding whitespace before storing; an all-blank text is empty.
        if not caption and not shown.text.strip():
            raise bad("message text is empty")
        if utf16_len(shown.text.strip()) > (MAX_CAPTION if caption else MAX_TEXT):
            raise bad("message caption is too long" if caption else "message is too long")
        return shown

    def _deliver(
        self,
        method: str,
        p: dict[str, Any],
        chat_id: int,
        text_key: str,
        media: JSON | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> SentMessage:
        """Validate the common parts of a send, apply flood limits and record the message."""
        shown = self._shown(p, text_key)
        markup = check_reply_markup(p.get("reply_markup"))
        reply_to = reply_to_id(p)
        if reply_to is not None and self.any_message_json(chat_id, reply_to) is None:
            if not allow_without_reply(p):
                raise bad("message to be replied not found")
            reply_to = None
        retry = self.limiter.acquire(chat_id, is_group=chat_id < 0)
        if retry is not None:
            raise Refused(429, f"Too Many Requests: retry after {retry}", retry)
        msg = SentMessage(
            chat_id=chat_id,
            message_id=self.next_message_id(chat_id),
            method=method,
            text=get_str(p, text_key),
            parse_mode=get_str(p, "parse_mode"),
            reply_markup=markup,
            document=upload,
            reply_to_message_id=reply_to,
            date=self.now(),
            shown=shown,
            media=media,
        )
        self.record(msg)
        return msg

    def _target(self, p: dict[str, Any]) -> SentMessage:
        if p.get("inline_message_id") is not None:
            raise bad("MESSAGE_ID_INVALID")  # this bot never sends inline messages
        chat_id = get_int(p, "chat_id")
        message_id = get_int(p, "message_id")
        self.require_chat(chat_id)
        msg = self.bot_message(chat_id, message_id)
        if msg is None:
            if self.user_message(chat_id, message_id) is not None:
                raise bad("message can't be edited")
            raise bad("message to edit not found")
        return msg

    def _edited(self, msg: SentMessage) -> JSON:
        msg.edits += 1
        self.events.append(("edited", msg))
        self.tell("edited", msg)
        return self.message_json(msg)

    def _upload(self, p: dict[str, Any], files: Files, key: str) -> tuple[str, bytes, str | None]:
        """(file name, content, known file_id or None for a fresh upload)."""
        if key in files:
            name, content = files[key]
            if not content:
                raise bad("file must be non-empty")
            if len(content) > MAX_UPLOAD:
                raise Refused(413, "Request Entity Too Large")
            return name, content, None
        ref = get_str(p, key)
        if not ref:
            raise bad(f"there is no {key} in the request")
        if ref.startswith("attach://") and ref[9:] in files:
            name, content = files[ref[9:]]
            return name, content, None
        if ref.startswith(("http://", "https://")):
            return ref.rsplit("/", 1)[-1] or key, b"", None
        known = self.file(ref)
        if known is None:
            raise bad("wrong file identifier/HTTP URL specified")
        return known[0], known[1], ref

    def _file_json(self, kind: str, name: str, content: bytes, file_id: str | None) -> JSON:
        if file_id is None:
            file_id, unique_id = self.new_file_id(kind)
            self.store_file(file_id, unique_id, name, content)
        else:
            known = self.file(file_id)
            unique_id = known[2] if known else file_id
        return {"file_id": file_id, "file_unique_id": unique_id, "file_size": len(content)}

    # -- methods ------------------------------------------------------------------------
    def send_message(self, p: dict[str, Any], files: Files) -> JSON:
        chat_id = get_int(p, "chat_id")
        self.require_chat(chat_id)
        return self.message_json(self._deliver("sendMessage", p, chat_id, "text"))

    def send_document(self, p: dict[str, Any], files: Files) -> JSON:
        chat_id = get_int(p, "chat_id")
        self.require_chat(chat_id)
        name, content, known = self._upload(p, files, "document")
        info = self._file_json("document", name, content, known)
        info["file_name"] = name
        info["mime_type"] = mimetypes.guess_type(name)[0] or "application/octet-stream"
        media = {"document": info}
        msg = self._deliver("sendDocument", p, chat_id, "caption", media, (name, content))
        return self.message_json(msg)

    def send_photo(self, p: dict[str, Any], files: Files) -> JSON:
        chat_id = get_int(p, "chat_id")
        self.require_chat(chat_id)
        name, content, known = self._upload(p, files, "photo")
        if known is None and content and not content.startswith(_IMAGE_MAGIC):
            raise bad("IMAGE_PROCESS_FAILED")
        info = self._file_json("photo", name, content, known)
        info.update(width=1280, height=853)
        msg = self._deliver("sendPhoto", p, chat_id, "caption", {"photo": [info]}, (name, content))
        return self.message_json(msg)

    def send_voice(self, p: dict[str, Any], files: Files) -> JSON:
        chat_id = get_int(p, "chat_id")
        self.require_chat(chat_id)
        name, content, known = self._upload(p, files, "voice")
        info = self._file_json("voice", name, content, known)
        info.update(duration=get_int(p, "duration", 1), mime_type="audio/ogg")
        msg = self._deliver("sendVoice", p, chat_id, "caption", {"voice": info}, (name, content))
        return self.message_json(msg)

    def _copy_source(self, p: dict[str, Any], what: str) -> tuple[int, JSON]:
        chat_id = get_int(p, "chat_id")
        self.require_chat(chat_id)
        source = self.any_message_json(get_int(p, "from_chat_id"), get_int(p, "message_id"))
        if source is None:
            raise bad(f"message to {what} not found")
        return chat_id, source

    def _resend(self, method: str, chat_id: int, source: JSON, p: dict[str, Any]) -> SentMessage:
        media: JSON = {
            k: source[k] for k in ("document", "photo", "voice", "sticker") if k in source
        }
        key = "caption" if media else "text"
        params = dict(p)
        params.setdefault(key, source.get("text") or source.get("caption"))
        params.pop("parse_mode", None)
        return self._deliver(method, params, chat_id, key, media or None)

    def copy_message(self, p: dict[str, Any], files: Files) -> JSON:
        chat_id, source = self._copy_source(p, "copy")
        return {"message_id": self._resend("copyMessage", chat_id, source, p).message_id}

    def forward_message(self, p: dict[str, Any], files: Files) -> JSON:
        chat_id, source = self._copy_source(p, "forward")
        msg = self._resend("forwardMessage", chat_id, source, {"chat_id": chat_id})
        data = self.message_json(msg)
        data["forward_origin"] = {
            "type": "user",
            "date": source["date"],
            "sender_user": source["from"],
        }
        return data

    def edit_message_text(self, p: dict[str, Any], files: Files) -> JSON:
        msg = self._target(p)
        if msg.media is not None:
            raise bad("there is no text in the message to edit")
        shown = self._shown(p, "text")
        markup = check_reply_markup(p.get("reply_markup"))
        if markup is not None and _inline(markup) is None:
            raise bad("inline keyboard expected")
        # Omitting reply_markup in an edit removes the inline keyboard, as in Telegram.
        if _same_shown(msg.shown, shown) and markup == _inline(msg.reply_markup):
            raise bad(NOT_MODIFIED)
        msg.text, msg.parse_mode, msg.shown = get_str(p, "text"), get_str(p, "parse_mode"), shown
        if markup is not None or _inline(msg.reply_markup) is not None:
            msg.reply_markup = markup
        return self._edited(msg)

    def edit_message_caption(self, p: dict[str, Any], files: Files) -> JSON:
        msg = self._target(p)
        if msg.media is None:
            raise bad("there is no caption in the message to edit")
        shown = self._shown(p, "caption")
        markup = _inline(check_reply_markup(p.get("reply_markup")))
        if _same_shown(msg.shown, shown) and markup == _inline(msg.reply_markup):
            raise bad(NOT_MODIFIED)
        msg.text, msg.shown, msg.reply_markup = get_str(p, "caption"), shown, markup
        return self._edited(msg)

    def edit_message_reply_markup(self, p: dict[str, Any], files: Files) -> JSON:
        msg = self._target(p)
        markup = check_reply_markup(p.get("reply_markup"))
        if markup is not None and _inline(markup) is None:
            raise bad("inline keyboard expected")
        if markup == _inline(msg.reply_markup):
            raise bad(NOT_MODIFIED)
        msg.reply_markup = markup
        return self._edited(msg)

    def delete_message(self, p: dict[str, Any], files: Files) -> bool:
        chat_id = get_int(p, "chat_id")
        message_id = get_int(p, "message_id")
        if chat_id not in self.groups and chat_id not in self.users:
            raise bad("chat not found")
        msg = self.bot_message(chat_id, message_id)
        if msg is not None:
            msg.deleted = True
            self.events.append(("deleted", msg))
            self.tell("deleted", msg)
            return True
        if self.user_message(chat_id, message_id) is not None:
            if chat_id in self.groups:
                raise bad("message can't be deleted")  # the bot is not an admin
            self._deleted_user_messages.add((chat_id, message_id))
            return True
        raise bad("message to delete not found")

    def send_chat_action(self, p: dict[str, Any], files: Files) -> bool:
        chat_id = get_int(p, "chat_id")
        self.require_chat(chat_id)
        if get_str(p, "action") not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    def answer_callback_query(self, p: dict[str, Any], files: Files) -> bool:
        query_id = get_str(p, "callback_query_id")
        if query_id is None or query_id not in self.open_queries:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = get_str(p, "text")
        if text is not None and len(text) > 200:
            raise bad("MESSAGE_TOO_LONG")
        user_id = self.open_queries.pop(query_id)
        self.answers.append(
            {
                "callback_query_id": query_id,
                "user_id": user_id,
                "text": text,
                "show_alert": bool(p.get("show_alert")),
            }
        )
        self.tell_toast(user_id, text, bool(p.get("show_alert")))
        return True
