"""A strict, in-process stand-in for the Telegram Bot API.

``FakeTelegram.handle`` answers Bot API calls the way api.telegram.org would, including its
refusals, so code that works here meets no surprises in production. People, chats and the
updates their clients produce live in ``world``/``updates``; message methods in ``messaging``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .limits import Limits
from .messaging import Files, Messaging
from .params import decode_params, get_int, get_str
from .webhook import WebhookSender
from .world import JSON, Refused, SentMessage, bad

__all__ = ["FakeTelegram", "Limits", "SentMessage"]

TERMINATED = (
    "Conflict: terminated by other getUpdates request;"
    " make sure that only one bot instance is running"
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_Method = Callable[[dict[str, Any], Files], Any]


@dataclass
class _Fault:
    method: str | None
    status: int
    description: str
    retry_after: int | None
    times: int


class FakeTelegram(Messaging):
    def __init__(
        self,
        *,
        bot_id: int = 999000,
        bot_username: str = "triobot_test_bot",
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        strict_entities: bool = False,
    ) -> None:
        super().__init__(
            bot_id=bot_id,
            bot_username=bot_username,
            limits=limits,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.strict_entities = strict_entities
        self.commands: list[JSON] = []
        self._commands: dict[str, list[JSON]] = {}
        self._queue: list[JSON] = []
        self._wakeup: asyncio.Event | None = None
        self._poll: asyncio.Future[None] | None = None  # the getUpdates waiting now
        self.conflicts = 0
        self.webhook = WebhookSender(self._queue, wall_clock)
        self._faults: list[_Fault] = []
        self._methods: dict[str, _Method] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "close": self._true,
            "logout": self._true,
            "getwebhookinfo": self._webhook_info,
            "setmycommands": self._set_commands,
            "getmycommands": self._get_commands,
            "deletemycommands": self._delete_commands,
            "getchat": self._get_chat,
            "getfile": self._get_file,
            "sendmessage": self.send_message,
            "senddocument": self.send_document,
            "sendphoto": self.send_photo,
            "sendvoice": self.send_voice,
            "copymessage": self.copy_message,
            "forwardmessage": self.forward_message,
            "editmessagetext": self.edit_message_text,
            "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "sendchataction": self.send_chat_action,
            "answercallbackquery": self.answer_callback_query,
        }

    # -- inspection helpers for tests -----------------------------------------------------
    def messages_in(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.by_chat.get(chat_id, ()) if not m.deleted]

    def last_in(self, chat_id: int) -> SentMessage | None:
        for msg in reversed(self.by_chat.get(chat_id, ())):
            if not msg.deleted:
                return msg
        return None

    def download(self, file_id: str) -> bytes | None:
        known = self.file(file_id)
        return None if known is None else known[1]

    # -- updates queue --------------------------------------------------------------------
    def push_update(self, update: JSON) -> None:
        self._queue.append(update)
        if self._wakeup is not None:
            self._wakeup.set()
        self.webhook.wake()

    def _set_webhook(self, p: dict[str, Any], files: Files) -> bool:
        if p.get("drop_pending_updates") in (True, "true", "True"):
            self._queue.clear()
        self.webhook.set(p)
        if self.webhook.active and self._wakeup is not None:
            self._wakeup.set()  # a getUpdates waiting now ends, refused
        return True

    def _delete_webhook(self, p: dict[str, Any], files: Files) -> bool:
        if p.get("drop_pending_updates") in (True, "true", "True"):
            self._queue.clear()
        self.webhook.delete()
        return True

    async def _get_updates(self, p: dict[str, Any]) -> list[JSON]:
        offset = get_int(p, "offset", 0)
        limit = min(max(get_int(p, "limit", 100), 1), 100)
        timeout = float(p.get("timeout") or 0)
        self.webhook.refuse_polling()
        if offset > 0:
            # Telegram forgets updates once a higher offset confirms them.
            self._queue[:] = [u for u in self._queue if u["update_id"] >= offset]
        if not self._queue and timeout > 0:
            # Telegram serves one getUpdates at a time: a new one ends the one waiting with
            # 409 "terminated by other getUpdates request" (two bots on one token see these
            # by turns; a poll left by a killed process simply ends).
            if self._poll is not None and not self._poll.done():
                self._poll.set_result(None)
            poll: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._poll = poll
            if self._wakeup is None:
                self._wakeup = asyncio.Event()
            wakeup = self._wakeup
            waiter = asyncio.ensure_future(wakeup.wait())
            try:
                await asyncio.wait((waiter, poll), timeout=timeout, return_when="FIRST_COMPLETED")
            finally:
                waiter.cancel()
            if self._poll is poll:
                self._poll = None
            elif poll.done():
                self.conflicts += 1
                raise Refused(409, TERMINATED)
            if self._wakeup is wakeup and wakeup.is_set():
                self._wakeup = None
            self.webhook.refuse_polling()  # set meanwhile: the updates go by post now
        if offset < 0:
            return self._queue[offset:][:limit]
        return self._queue[:limit]

    # -- fault injection ------------------------------------------------------------------
    def fail_next(
        self,
        method: str | None,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (any method if None) fail like this."""
        name = method.lower() if method is not None else None
        self._faults.append(_Fault(name, status, description, retry_after, times))

    def _take_fault(self, method: str) -> Refused | None:
        for fault in self._faults:
            if fault.method is None or fault.method == method:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return Refused(fault.status, fault.description, fault.retry_after)
        return None

    # -- the entry point ------------------------------------------------------------------
    async def handle(
        self, method: str, params: dict[str, Any], files: Files | None = None
    ) -> tuple[int, JSON]:
        self.calls[method] += 1
        key = method.lower()  # Telegram matches method names case-insensitively
        try:
            fault = self._take_fault(key)
            if fault is not None:
                raise fault
            decoded = decode_params(params)
            if key == "getupdates":
                result: Any = await self._get_updates(decoded)
            else:
                func = self._methods.get(key)
                if func is None:
                    raise Refused(404, "Not Found")
                result = func(decoded, files or {})
        except Refused as exc:
            self.refusals.append((method, params, exc.status, exc.description))
            body: JSON = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            if exc.migrate_to_chat_id is not None:
                body["parameters"] = {"migrate_to_chat_id": exc.migrate_to_chat_id}
            return exc.status, body
        return 200, {"ok": True, "result": result}

    # -- small methods --------------------------------------------------------------------
    def _true(self, p: dict[str, Any], files: Files) -> bool:
        return True

    def _get_me(self, p: dict[str, Any], files: Files) -> JSON:
        me = dict(self._bot_user)
        me.update(
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return me

    def _webhook_info(self, p: dict[str, Any], files: Files) -> JSON:
        return self.webhook.info()

    def _get_chat(self, p: dict[str, Any], files: Files) -> JSON:
        chat = self.chat_json(get_int(p, "chat_id"))
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _get_file(self, p: dict[str, Any], files: Files) -> JSON:
        file_id = get_str(p, "file_id") or ""
        known = self.file(file_id)
        if known is None:
            raise bad("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": known[2],
            "file_size": len(known[1]),
            "file_path": f"files/{file_id}",
        }

    @staticmethod
    def _commands_key(p: dict[str, Any]) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + (get_str(p, "language_code") or "")

    def _set_commands(self, p: dict[str, Any], files: Files) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("BOT_COMMANDS_TOO_MUCH" if isinstance(commands, list) else "commands empty")
        for item in commands:
            name = item.get("command") if isinstance(item, dict) else None
            if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
                raise bad("BOT_COMMAND_INVALID")
            description = item.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        stored = [{"command": c["command"], "description": c["description"]} for c in commands]
        self._commands[self._commands_key(p)] = stored
        self.commands = stored
        return True

    def _get_commands(self, p: dict[str, Any], files: Files) -> list[JSON]:
        return [dict(c) for c in self._commands.get(self._commands_key(p), [])]

    def _delete_commands(self, p: dict[str, Any], files: Files) -> bool:
        removed = self._commands.pop(self._commands_key(p), None)
        if removed is not None and removed is self.commands:
            self.commands = []
        return True
