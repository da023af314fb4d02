"""The bot's own HTTP server: one per process, on TRIOBOT_HTTP_LISTEN.

It serves what the parts of the bot give it (the webhook in webhook mode; health and metrics
wherever it runs). Routes are added before `start`; `stop` closes the listening socket and
the connections, so nothing more arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from bot.config import parse_listen

log = logging.getLogger(__name__)
# A request still being answered when the server stops gets this long to finish.
SHUTDOWN_TIMEOUT = 1.0


class HttpServer:
    def __init__(self, listen: str) -> None:
        self.host, self._port = parse_listen(listen)
        self.app = web.Application(client_max_size=1024 * 1024)  # an update is a few KB
        self._runner: web.AppRunner | None = None

    def add_routes(self, routes: Iterable[web.AbstractRouteDef]) -> None:
        if self._runner is not None:
            raise RuntimeError("routes are added before the server starts")
        self.app.add_routes(list(routes))

    @property
    def port(self) -> int:
        """The bound port: the one asked for, or the one chosen for port 0 once started."""
        return self._port

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Listen; OSError (the port is taken, the host is not this machine's) is raised."""
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        log.info("HTTP server listening on %s:%d", self.host, self._port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
