"""The stand-in for Telegram over HTTP, so a real `triobot run` process can talk to it.

    triobot fake-telegram --port 8081
    TELEGRAM_API_URL=http://127.0.0.1:8081 TELEGRAM_BOT_TOKEN=123456:TEST triobot run

The Bot API is served at ``/bot<token>/<method>`` (and files at ``/file/bot<token>/<id>``)
by the same `FakeTelegram` the tests use, with the same refusals. Simulated people and the
faults to inject are driven through a small JSON control API under ``/sim/``:

    POST /sim/users    {"id": 5, "first_name": "Ana", "language_code": "pt"}
    POST /sim/updates  {"kind": "text", "user_id": 5, "text": "/start CODE"}
                       kinds: text, voice, sticker, photo, document, location, edited, callback
                       (callback: "message_id" and "data"; edited: "message_id" and "text")
    GET  /sim/messages?chat_id=5&after=0     what the bot sent there (after a message id)
    POST /sim/faults   {"kind": "status", "method": "sendMessage", "status": 429,
                        "retry_after": 3, "times": 5}
                       {"kind": "slow" | "timeout" | "drop", "method": null, "seconds": 2,
                        "times": 1}   slow: answer late; timeout: answer later than the
                       client waits; drop: close the connection without answering. Each
                       happens after Telegram "did" the call, as the real failures do.
    POST /sim/block    {"user_id": 5}      (and /sim/unblock): 403 from then on
    GET  /sim/stats    calls, refusals by status, messages sent, faults injected, and the
                       webhook's posts (after setWebhook updates are posted to the bot:
                       bot/standin/webhook.py)
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from .api import FakeTelegram
from .world import JSON, SentMessage


@dataclass
class TransportFault:
    kind: str  # slow | timeout | drop
    method: str | None
    seconds: float
    times: int


class StandInServer:
    def __init__(self, api: FakeTelegram | None = None) -> None:
        self.api = api or FakeTelegram()
        self.transport_faults: list[TransportFault] = []
        self.injected: Counter[str] = Counter()
        self.app = web.Application(client_max_size=60 * 1024 * 1024)
        self.app.on_cleanup.append(self._stop_posting)
        self.app.add_routes(
            [
                web.post("/bot{token}/{method}", self.bot_api),
                web.get("/bot{token}/{method}", self.bot_api),
                web.get("/file/bot{token}/{path:.*}", self.file),
                web.post("/sim/users", self.add_user),
                web.post("/sim/updates", self.push_update),
                web.get("/sim/messages", self.messages),
                web.post("/sim/faults", self.add_fault),
                web.post("/sim/groups", self.add_group),
                web.post("/sim/groups/upgrade", self.upgrade_group),
                web.post("/sim/block", self.block),
                web.post("/sim/unblock", self.unblock),
                web.get("/sim/stats", self.stats),
            ]
        )

    # -- the Bot API ----------------------------------------------------------------------
    async def bot_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, bytes]] = {}
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update(await request.json())
            elif request.content_type.startswith("multipart/"):
                reader = await request.multipart()
                async for part in reader:
                    if not isinstance(part, BodyPartReader) or part.name is None:
                        continue
                    data = bytes(await part.read())
                    if part.filename:
                        files[part.name] = (part.filename, data)
                    else:
                        params[part.name] = data.decode()
            else:
                params.update(await request.post())
        status, body = await self.api.handle(method, params, files)
        fault = self._take_transport_fault(method)
        if fault is not None:
            self.injected[fault.kind] += 1
            if fault.kind == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)  # never reaches the client
            await asyncio.sleep(fault.seconds)
        return web.json_response(body, status=status, dumps=_dumps)

    async def file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"].rsplit("/", 1)[-1]
        found = self.api.download(name)
        if found is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=found)

    def _take_transport_fault(self, method: str) -> TransportFault | None:
        for fault in self.transport_faults:
            if fault.method is None or fault.method.lower() == method.lower():
                fault.times -= 1
                if fault.times <= 0:
                    self.transport_faults.remove(fault)
                return fault
        return None

    # -- the control API ------------------------------------------------------------------
    async def add_user(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.api.add_user(
            int(body["id"]),
            str(body.get("first_name", "Teacher")),
            language_code=body.get("language_code", "en"),
        )
        return web.json_response({"ok": True})

    async def add_group(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        members = [int(m) for m in body.get("member_ids", [])]
        self.api.add_group(int(body["chat_id"]), str(body.get("title", "Trio")), members)
        return web.json_response({"ok": True})

    async def upgrade_group(self, request: web.Request) -> web.StreamResponse:
        """The group becomes a supergroup: sends to the old id get 400 migrate_to_chat_id."""
        body = await request.json()
        try:
            self.api.upgrade_group(int(body["chat_id"]), int(body["new_chat_id"]))
        except (KeyError, ValueError) as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=400)
        self.injected["group upgraded"] += 1
        return web.json_response({"ok": True})

    async def push_update(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        try:
            update = self._build_update(body)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=400)
        self.api.push_update(update)
        return web.json_response({"ok": True, "update_id": update["update_id"]})

    def _build_update(self, body: dict[str, Any]) -> JSON:
        api, kind = self.api, body["kind"]
        user = int(body["user_id"])
        chat = body.get("chat_id")
        chat_id = int(chat) if chat is not None else None
        if kind == "text":
            return api.text(user, str(body["text"]), chat_id=chat_id)
        if kind == "voice":
            return api.voice(user, duration=int(body.get("duration", 5)), chat_id=chat_id)
        if kind == "sticker":
            return api.sticker(user, chat_id=chat_id)
        if kind == "photo":
            return api.photo(user, chat_id=chat_id)
        if kind == "document":
            return api.document(user, str(body.get("filename", "file.pdf")), chat_id=chat_id)
        if kind == "location":
            return api.location(user, chat_id=chat_id)
        if kind == "edited":
            return api.edited_text(
                user, int(body["message_id"]), str(body["text"]), chat_id=chat_id
            )
        if kind == "callback":
            return api.callback(user, int(body["message_id"]), str(body["data"]), chat_id=chat_id)
        raise ValueError(f"unknown update kind {kind!r}")

    async def messages(self, request: web.Request) -> web.StreamResponse:
        chat_id = int(request.query["chat_id"])
        after = int(request.query.get("after", 0))
        found = [_message_json(m) for m in self.api.messages_in(chat_id) if m.message_id > after]
        return web.json_response({"ok": True, "result": found}, dumps=_dumps)

    async def add_fault(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        kind = body.get("kind", "status")
        times = int(body.get("times", 1))
        method = body.get("method")
        if kind == "status":
            status = int(body["status"])
            retry = body.get("retry_after")
            description = body.get("description") or {
                429: f"Too Many Requests: retry after {retry}",
                403: "Forbidden: bot was blocked by the user",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, "Error")
            self.api.fail_next(
                method, status, description, int(retry) if retry else None, times=times
            )
            self.injected[f"http {status}"] += times
        elif kind in ("slow", "timeout", "drop"):
            seconds = float(body.get("seconds", 2 if kind == "slow" else 30))
            self.transport_faults.append(TransportFault(kind, method, seconds, times))
        else:
            return web.json_response({"ok": False, "description": "unknown kind"}, status=400)
        return web.json_response({"ok": True})

    async def block(self, request: web.Request) -> web.StreamResponse:
        self.api.block(int((await request.json())["user_id"]))
        return web.json_response({"ok": True})

    async def unblock(self, request: web.Request) -> web.StreamResponse:
        self.api.unblock(int((await request.json())["user_id"]))
        return web.json_response({"ok": True})

    async def stats(self, request: web.Request) -> web.StreamResponse:
        refusals = Counter(str(status) for _, _, status, _ in self.api.refusals)
        return web.json_response(
            {
                "calls": dict(self.api.calls),
                "refusals": dict(refusals),
                "messages_sent": len(self.api.sent),
                "get_updates_conflicts": self.api.conflicts,
                "faults_injected": dict(self.injected),
                "webhook": {
                    **self.api.webhook.info(),
                    "posts": self.api.webhook.posts,
                    "delivered": self.api.webhook.delivered,
                    "failed": self.api.webhook.failed,
                },
            }
        )

    async def _stop_posting(self, app: web.Application) -> None:
        await self.api.webhook.close()

    # -- running --------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        return runner, int(bound)


def _message_json(m: SentMessage) -> JSON:
    return {
        "message_id": m.message_id,
        "chat_id": m.chat_id,
        "method": m.method,
        "text": m.plain_text,
        "html": m.text,
        "buttons": m.buttons,
        "document": m.document[0] if m.document else None,
        "date": m.date,
        "edits": m.edits,
        "deleted": m.deleted,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def serve(host: str, port: int) -> None:
    server = StandInServer()
    runner, bound = await server.start(host, port)
    print(f"stand-in for Telegram on http://{host}:{bound} (Bot API at /bot<token>/<method>)")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
