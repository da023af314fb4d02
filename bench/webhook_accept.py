"""How long the webhook route takes to accept an update, posted one after another.

    .venv/bin/python bench/webhook_accept.py [--updates 1000] [--people 200] [--redeliver 10]

With TRIOBOT_WEBHOOK_MAX_CONNECTIONS=1 (the default) Telegram posts one update at a time and
waits for each answer, so the time to accept one bounds how many a second can arrive, on top
of the network's round trip. The real Application on the in-process stand-in, our aiohttp
route on loopback, one keep-alive connection; the bot handles the updates meanwhile on the
same event loop, as it would in production.

It checks its own work and exits 1 when it was not done: every post was answered 200, and every
update was handled exactly once (each person got one reply for each update they sent, the
greeting a stranger gets, and the `--redeliver` updates posted a second time, as Telegram does
when an answer is late, got none).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from bench.verdict import conclude
from bot.app.factory import build_application, running
from bot.app.http import HttpServer
from bot.app.webhook import SECRET_HEADER, WebhookRoute
from bot.config import Settings
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from bot.texts import Texts
from storage.clock import utcnow

SECRET = "bench-secret"


@dataclass(frozen=True)
class Accepted:
    """What the run posted and what came of it."""

    took: float  # seconds to post `updates` one after another (redeliveries not timed)
    statuses: Counter[int]  # the HTTP status of every post, redeliveries included
    sent: Counter[int]  # updates posted to each person (first deliveries)
    redelivered: int
    replies: dict[int, list[str]]  # what the bot sent each person, in order
    greeting: str  # what a stranger saying hello should get: start/no_invite


async def measure(updates: int, people: int, redeliver: int, folder: Path) -> Accepted:
    api = FakeTelegram()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, db_path=folder / "bench.db", telegram_bot_token="123456:BENCH"
    )
    app = build_application(
        settings, request=StandInRequest(api), clock=utcnow, polling=False, background=False
    )
    statuses: Counter[int] = Counter()
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
                        statuses[r.status] += 1
                took = time.monotonic() - started
                for body in bodies[:redeliver]:
                    async with session.post(url, json=body, headers={SECRET_HEADER: SECRET}) as r:
                        statuses[r.status] += 1
        finally:
            await server.stop()
    # Stopping the application handled whatever was still queued.
    replies = {user: [m.text or "" for m in api.messages_in(user)] for user in range(1, people + 1)}
    sent = Counter(1 + i % people for i in range(updates))
    greeting = Texts().render("en", "start/no_invite")
    return Accepted(took, statuses, sent, min(redeliver, updates), replies, greeting)


def check(run: Accepted) -> list[str]:
    """How the run fell short of accepting and handling every update once (empty if not)."""
    failures = []
    posts = sum(run.sent.values()) + run.redelivered
    if run.statuses != Counter({200: posts}):
        failures.append(f"{posts} posts answered {dict(run.statuses)}, not all 200")
    wrong = [
        p
        for p in run.sent.keys() | run.replies.keys()
        if len(run.replies.get(p, [])) != run.sent[p]
    ]
    if wrong:
        p = min(wrong)
        failures.append(
            f"{len(wrong)} people got a reply count unlike what they sent, e.g. person {p}: "
            f"{len(run.replies.get(p, []))} replies to {run.sent[p]} updates"
        )
    others = [text for replies in run.replies.values() for text in replies if text != run.greeting]
    if others:
        failures.append(
            f"{len(others)} replies not the greeting a stranger gets, e.g. {others[0]!r}"
        )
    return failures


def verified(run: Accepted) -> list[str]:
    updates = sum(run.sent.values())
    return [
        f"all {updates + run.redelivered} posts answered 200 ({updates} updates, "
        f"{run.redelivered} posted again)",
        f"every update handled exactly once: {updates} replies to {len(run.sent)} people, one for"
        f" each update they sent, none to the {run.redelivered} posted again",
        "every reply the greeting a stranger gets (start/no_invite): no refusal, no error",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--redeliver", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="webhook-") as tmp:
        run = asyncio.run(measure(args.updates, args.people, args.redeliver, Path(tmp)))
    print(describe())
    print(
        f"{args.updates} updates accepted one after another in {run.took:.2f} s:"
        f" {run.took / args.updates * 1000:.2f} ms each, {args.updates / run.took:.0f} a second"
    )
    print()
    return conclude(check(run), verified(run))


if __name__ == "__main__":
    raise SystemExit(main())
