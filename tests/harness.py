"""The real Application on the strict stand-in for Telegram, for dialogue-style tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from telegram.ext import Application

from bot.app.factory import build_application, running
from bot.config import Settings
from bot.flows.model import Flow
from bot.programme.demo import seed_demo
from bot.standin.api import FakeTelegram
from bot.standin.driver import Conversation, SimPerson
from bot.standin.request import StandInRequest
from bot.telegram.context import Services
from storage.db import Database
from tests.conftest import FakeClock


def settings_for(db_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"db_path": db_path, "programme_tz": "Europe/London"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class BotUnderTest:
    """One running bot; `restart()` stops it and starts a new Application on the same files."""

    settings: Settings
    clock: FakeClock
    api: FakeTelegram
    extra_flows: tuple[Flow, ...] = ()
    # PTB's rate limiter waits in real time; a test that sends many group messages on the
    # fake clock turns it off (the stand-in still refuses anything over Telegram's limits).
    rate_limiter: bool = True
    app: Application = field(init=False)  # type: ignore[type-arg]
    conversation: Conversation = field(init=False)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start(self) -> None:
        self.app = build_application(
            self.settings,
            request=StandInRequest(self.api),
            polling=False,
            clock=self.clock,
            extra_flows=self.extra_flows,
            rate_limiter=self.rate_limiter,
            background=False,  # tests fire the scheduler and drain the outbox by hand
        )
        await self._stack.enter_async_context(running(self.app))
        self.conversation = Conversation(
            self.app, self.api, advance=self.clock.advance, fail_on_refusal=True
        )
        # The outbox paces itself on the fake clock: its waits advance time, not sleep.
        self.services.attach_sender(
            self.services.sender.bot, monotonic=self.clock.monotonic, sleep=self._sleep
        )

    async def _sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    async def tick(self) -> int:
        """Fire what is due now and send what may go; how many messages went out."""
        report = await self.services.scheduler.run_due()
        del report
        return await self.services.sender.drain()

    async def run_until(self, end: datetime) -> None:
        """Let time pass until `end`, waking exactly when something falls due (as the bot's
        poll would, but without sleeping through real time)."""
        while True:
            await self.tick()
            upcoming = [
                t
                for t in (
                    await self.services.schedule.next_due(),
                    await self.services.outbox.next_not_before(),
                )
                if t is not None
            ]
            nxt = min(upcoming, default=end)
            if nxt > end:
                nxt = end
            if nxt <= self.clock.now:
                if self.clock.now >= end:
                    return
                nxt = self.clock.now + timedelta(seconds=1)
            self.clock.advance((nxt - self.clock.now).total_seconds())

    async def stop(self) -> None:
        await self._stack.aclose()
        self._stack = AsyncExitStack()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data
        return services

    @property
    def db(self) -> Database:
        return self.services.db

    def person(self, user_id: int, name: str, language: str | None = "en") -> SimPerson:
        return self.conversation.person(user_id, name, language)


async def bot_under_test(
    db_path: Path,
    clock: FakeClock,
    *,
    demo: bool = True,
    extra_flows: tuple[Flow, ...] = (),
    rate_limiter: bool = True,
    **overrides: object,
) -> AsyncIterator[BotUnderTest]:
    api = FakeTelegram(clock=clock.monotonic, wall_clock=lambda: clock().timestamp())
    bot = BotUnderTest(settings_for(db_path, **overrides), clock, api, extra_flows, rate_limiter)
    await bot.start()
    if demo:
        await seed_demo(bot.db)
    try:
        yield bot
    finally:
        await bot.stop()


async def join(
    person: SimPerson,
    code: str,
    *,
    consent: str = "Yes",
    language: str = "English",
    name: str | None = None,
    zone: str = "Europe/London",
) -> None:
    """Walk a person through joining, the way a teacher would on a phone."""
    await person.says(f"/start {code}")
    await person.taps(consent)
    await person.taps(language)
    if name is None:
        await person.taps(person.first_name)
    else:
        await person.says(name)
    await person.taps(zone)


async def bruno_at_the_name_step(bot: BotUnderTest, user_id: int = 611) -> SimPerson:
    """The demo's Bruno, joining, asked for his name: the next message is an answer to store."""
    bruno = bot.person(user_id, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    await bruno.taps("Yes")
    await bruno.taps("English")
    assert "What name" in bruno.last_text
    return bruno


async def brunos_stored_name(bot: BotUnderTest) -> object:
    """The name Bruno's onboarding holds (None until his answer is kept)."""
    return await bot.db.fetchval(
        "SELECT json_extract(answers, '$.name') FROM flow_state f"
        " JOIN person p ON p.id = f.person_id WHERE p.telegram_id = 611"
    )
