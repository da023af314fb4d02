"""How long the webhook route takes to accept an update, posted one after another.

    .venv/bin/python bench/webhook_accept.py [--updates 1000] [--people 200]

With TRIOBOT_WEBHOOK_MAX_CONNECTIONS=1 (the default) Telegram posts one update at a time and
waits for each answer, so the time to accept one bounds how many a second can arrive, on top
of the network's round trip. The real Application on the in-process stand-in, our aiohttp
route on loopback, one keep-alive connection; the bot handles the updates meanwhile on the
same event loop, as it would in production.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from bot.app.factory import build_application, running
from bot.app.http import HttpServer
from bot.app.webhook import SECRET_HEADER, WebhookRoute
from bot.config import Settings
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from storage.clock import utcnow

SECRET = "bench-secret"


async def measure(updates: int, people: int, folder: Path) -> float:
    api = FakeTelegram()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, db_path=folder / "bench.db", telegram_bot_token="123456:BENCH"
    )
    app = build_application(
        settings, request=StandInRequest(api), clock=utcnow, polling=False, background=False
    )
    async with running(app):
        server = HttpServer("127.0.0.1:0")
        server.add_routes(WebhookRoute(app, SECRET).routes("/hook"))
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}/hook"
            for user in range(1, people + 1):
                api.add_user(user, "Teacher")
            bodies = [api.text(1 + i % people, "hello") for i in range(updates)]
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                for body in bodies:
                    async with session.post(url, json=body, headers={SECRET_HEADER: SECRET}) as r:
                        assert r.status == 200, r.status
                return time.monotonic() - started
        finally:
            await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--people", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="webhook-") as tmp:
        took = asyncio.run(measure(args.updates, args.people, Path(tmp)))
    print(describe())
    print(
        f"{args.updates} updates accepted one after another in {took:.2f} s:"
        f" {took / args.updates * 1000:.2f} ms each, {args.updates / took:.0f} a second"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
