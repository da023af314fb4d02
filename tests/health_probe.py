"""Serving the bot's health and metrics routes to a test, as the runner serves them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.harness import BotUnderTest


@asynccontextmanager
async def served(routes: Iterable[web.AbstractRouteDef]) -> AsyncIterator[TestClient[Any, Any]]:
    """An aiohttp server on a free loopback port with `routes`, and a client for it."""
    app = web.Application()
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as client:
        yield client


@asynccontextmanager
async def sender_running(bot: BotUnderTest) -> AsyncIterator[asyncio.Task[None]]:
    """The outbox sender's loop, as `triobot run` spawns it (the harness drains by hand)."""
    stop = asyncio.Event()
    task = asyncio.create_task(bot.services.sender.run(stop, idle=0.05))
    await until(lambda: bot.services.sender.heartbeat.running)
    try:
        yield task
    finally:
        stop.set()
        await task


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Let the event loop run until `condition` holds (real time: the loops are real)."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)
