"""/healthz and /readyz on the real bot: ready only while the database takes a write, the
schedule ticks and the outbox sender runs; otherwise 503 naming what is wrong."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from telegram.error import TimedOut

from bot.app.factory import build_application, running
from bot.app.health import STUCK_AFTER, WRITE_TIMEOUT, health_routes
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from bot.telegram.sender import OutboxSender
from storage.db import to_db_time
from storage.health import HEARTBEAT_KEY
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, settings_for
from tests.health_probe import sender_running, served, until
from tests.test_scheduling import prompts_in, seed_people, start_rounds

Client = TestClient[Any, Any]
TUESDAY_1545 = datetime(2026, 11, 24, 15, 45, tzinfo=UTC)  # every weekly prompt is due


async def queue_weekly_prompts(bot: BotUnderTest, people: int) -> list[int]:
    """`people` teachers whose weekly prompt is queued in the outbox, not yet sent."""
    ids = await seed_people(bot, people)
    await start_rounds(bot)
    bot.clock.advance((TUESDAY_1545 - bot.clock()).total_seconds())
    await bot.services.scheduler.run_due()  # this week's round: one delivery per person
    await bot.services.scheduler.run_due()  # the deliveries: the prompts are queued
    assert await bot.services.outbox.next_not_before() is not None
    return ids


async def readyz(client: Client) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body: dict[str, Any] = await response.json()
    return response.status, body


async def test_healthz_answers_while_the_event_loop_runs(bot: BotUnderTest) -> None:
    async with served(health_routes(bot.app)) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
        assert (await client.head("/healthz")).status == 200


async def test_ready_only_while_the_sender_runs(bot: BotUnderTest) -> None:
    async with served(health_routes(bot.app)) as client:
        # Just started: nothing has ticked and the sender loop is not running yet.
        status, body = await readyz(client)
        assert status == 503
        assert body["failing"] == ["schedule", "sender"]
        assert body["checks"]["schedule"]["detail"] == "the scheduler has not ticked yet"
        assert body["checks"]["database"] == {"ok": True, "detail": "writable"}

        await bot.services.scheduler.run_due()
        async with sender_running(bot):
            status, body = await readyz(client)
            assert (status, body["status"], body["failing"]) == (200, "ready", [])
            assert body["checks"]["sender"] == {"ok": True, "detail": "alive"}

        # Stopped: not ready, and the body says which check and why.
        status, body = await readyz(client)
        assert status == 503 and body["status"] == "not ready"
        assert body["failing"] == ["sender"]
        assert body["checks"]["sender"]["detail"] == "the outbox sender is not running"

        async with sender_running(bot):  # started again, as supervision restarts it
            assert (await readyz(client))[0] == 200


async def test_a_locked_database_is_not_ready_quickly_and_ready_again_once_free(
    bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    await bot.services.scheduler.run_due()
    async with served(health_routes(bot.app)) as client, sender_running(bot):
        assert (await readyz(client))[0] == 200
        # The probe really wrote, stamped with the bot's clock.
        assert await bot.db.fetchval(
            "SELECT value FROM meta WHERE key = ?", (HEARTBEAT_KEY,)
        ) == to_db_time(bot.clock())

        locker.execute("BEGIN IMMEDIATE")  # an operator's long write, a stray script
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            status, body = await readyz(client)
            took = loop.time() - started
        finally:
            locker.execute("ROLLBACK")
        assert status == 503 and body["failing"] == ["database"]
        assert "no write went through within 0.8 s" in body["checks"]["database"]["detail"]
        assert took < WRITE_TIMEOUT + 0.5  # never the 10 s a bot's write waits for a lock

        assert (await readyz(client))[0] == 200


async def test_a_schedule_that_stops_ticking_is_not_ready(bot: BotUnderTest) -> None:
    poll = bot.settings.schedule_poll_seconds
    async with served(health_routes(bot.app)) as client, sender_running(bot):
        await bot.services.scheduler.run_due()
        bot.clock.advance(3 * poll - 1)  # two missed ticks and most of a third: still ready
        assert (await readyz(client))[0] == 200

        bot.clock.advance(2)
        status, body = await readyz(client)
        assert status == 503 and body["failing"] == ["schedule"]
        assert body["checks"]["schedule"]["detail"] == (
            "last tick 46 s ago (more than 3 poll intervals of 15 s)"
        )

        await bot.services.scheduler.run_due()  # it ticks again
        assert (await readyz(client))[0] == 200


async def test_a_sender_stuck_in_a_call_is_not_ready(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = bot.services.sender
    await queue_weekly_prompts(bot, 1)
    hung, never = asyncio.Event(), asyncio.Event()

    async def hangs(row: object) -> None:
        hung.set()
        await never.wait()  # a request on a connection that died without a word…
        raise TimedOut  # …until, at last, it times out

    monkeypatch.setattr(sender, "_send", hangs)
    async with served(health_routes(bot.app)) as client, sender_running(bot):
        await until(hung.is_set)
        assert (await readyz(client))[0] == 200  # in a call, as every send is for a moment
        bot.clock.advance(STUCK_AFTER + 5)
        await bot.services.scheduler.run_due()  # the schedule is fine: only the sender
        status, body = await readyz(client)
        assert status == 503 and body["failing"] == ["sender"]
        assert (
            body["checks"]["sender"]["detail"]
            == f"stuck: no sign of life for {STUCK_AFTER + 5:.0f} s"
        )
        never.set()  # the call ends: the loop goes on, and the bot is ready again
        await until(lambda: sender.heartbeat.silent_for() < STUCK_AFTER)
        assert (await readyz(client))[0] == 200


async def test_a_sender_waiting_out_a_long_429_is_alive_and_ready(bot: BotUnderTest) -> None:
    # The outbox's waits in real time here (the harness's skip the fake clock forward), so
    # it is caught in the middle of Telegram's retry_after.
    sender: OutboxSender = bot.services.attach_sender(
        bot.services.sender.bot, monotonic=bot.clock.monotonic
    )
    people = await queue_weekly_prompts(bot, 1)
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 300", retry_after=300)
    async with served(health_routes(bot.app)) as client, sender_running(bot):
        await until(lambda: sender.stats.retry_after == 1)
        bot.clock.advance(STUCK_AFTER + 60)  # long silent, but within the wait it announced
        await bot.services.scheduler.run_due()
        status, body = await readyz(client)
        assert status == 200
        assert body["checks"]["sender"] == {
            "ok": True,
            "detail": "alive, paused 120 s more by Telegram",
        }
    assert prompts_in(bot, people[0]) == []  # it did wait: nothing went during the pause


async def test_the_running_bot_becomes_ready_by_itself_and_not_ready_as_it_stops(
    db_path: Path, clock: FakeClock
) -> None:
    # As `triobot run` has it: the schedule ticked by the job queue, the sender spawned and
    # supervised; nothing driven by hand.
    settings = settings_for(db_path, schedule_poll_seconds=0.2)
    app = build_application(
        settings, request=StandInRequest(FakeTelegram(clock=clock.monotonic)), clock=clock
    )
    async with served(health_routes(app)) as client:
        async with running(app):
            deadline = asyncio.get_running_loop().time() + 10
            while (status := (await readyz(client))[0]) != 200:
                assert asyncio.get_running_loop().time() < deadline, "never became ready"
                await asyncio.sleep(0.05)
            app.bot_data.stopping.set()  # as the first SIGTERM does (bot/app/runner.py)
            status, body = await readyz(client)
            assert (status, body["checks"]["bot"]["detail"]) == (503, "stopping")
        # Stopped, its database closed: still an answer, and the same one.
        status, body = await readyz(client)
        assert (status, body["failing"]) == (503, ["bot"])
        assert body["checks"]["bot"]["detail"] == "stopping"
        assert (await client.get("/healthz")).status == 200


async def test_a_bot_still_starting_is_not_ready_and_says_so(
    db_path: Path, clock: FakeClock
) -> None:
    app = build_application(
        settings_for(db_path),
        request=StandInRequest(FakeTelegram(clock=clock.monotonic)),
        clock=clock,
    )
    async with served(health_routes(app)) as client:  # before post_init opened anything
        assert (await client.get("/healthz")).status == 200
        status, body = await readyz(client)
    assert (status, body["failing"]) == (503, ["bot"])
    assert body["checks"]["bot"]["detail"] == "starting: the services are not up yet"
