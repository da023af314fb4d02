"""Plugs ``FakeTelegram`` into python-telegram-bot in place of its HTTP client.

Everything above ``do_request`` is PTB's own code, so status codes map to exactly the
exceptions (BadRequest, Forbidden, RetryAfter, InvalidToken) the bot meets in production.
"""

from __future__ import annotations

import json
from typing import Any

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from .api import FakeTelegram

_NOT_FOUND = b'{"ok":false,"error_code":404,"description":"Not Found"}'


class StandInRequest(BaseRequest):
    __slots__ = ("api",)

    def __init__(self, api: FakeTelegram) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if method == "GET":
            # File downloads: getFile hands out ".../files/<file_id>" paths.
            found = self.api.download(name) if "/files/" in url else None
            return (404, _NOT_FOUND) if found is None else (200, found)
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request_data is not None:
            params = request_data.parameters
            if request_data.contains_files:
                for part, (filename, content, _mime) in request_data.multipart_data.items():
                    data = content if isinstance(content, bytes) else content.read()
                    files[part] = (filename, data)
        status, body = await self.api.handle(name, params, files)
        return status, json.dumps(body, ensure_ascii=False).encode()
