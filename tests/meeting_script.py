"""Shared steps for the meeting tests: a trio of four, the outbox drained on the fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.standin.driver import SimPerson
from bot.standin.world import SentMessage
from storage.invites import InviteRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join


@dataclass
class Trio:
    alice: SimPerson  # the lead, Northfield (London)
    bruno: SimPerson  # Southgate (London)
    carmen: SimPerson  # Westbrook, but living in Madrid's time zone
    fran: SimPerson  # a second teacher at Northfield

    @property
    def members(self) -> list[SimPerson]:
        return [self.alice, self.bruno, self.carmen, self.fran]


async def form_trio(bot: BotUnderTest) -> Trio:
    async with bot.db.transaction() as tx:
        school = await tx.fetchval("SELECT id FROM school WHERE ref = 'DEMO-N'")
        trio = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        await InviteRepo.create(tx, role="teacher", school_id=school, trio_id=trio, code="FRAN01")
    trio_people = Trio(
        bot.person(801, "Alice"),
        bot.person(802, "Bruno"),
        bot.person(803, "Carmen"),
        bot.person(804, "Fran"),
    )
    await join(trio_people.alice, "DEMOALICE")
    await join(trio_people.bruno, "DEMOBRUNO")
    await join(trio_people.carmen, "DEMOCARMEN", zone="Europe/Madrid")
    await join(trio_people.fran, "FRAN01")
    return trio_people


async def run_schedule(bot: BotUnderTest, clock: FakeClock) -> None:
    """Fire whatever is due, then send the outbox — pacing on the fake clock, not real time."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    sender = bot.services.sender
    sender.sleep = sleep
    sender.pacer.clock = clock.monotonic
    await bot.services.scheduler.run_due()
    await sender.drain()


def at(clock: FakeClock, when: datetime) -> None:
    """Move the fake clock forward to `when` (UTC)."""
    assert when >= clock.now, (when, clock.now)
    clock.advance((when - clock.now).total_seconds())


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def newest(person: SimPerson, containing: str, chat_id: int | None = None) -> SentMessage:
    inbox = person.api.messages_in(chat_id if chat_id is not None else person.user_id)
    for message in reversed(inbox):
        if containing in message.plain_text:
            return message
    texts = [m.plain_text[:60] for m in inbox[-8:]]
    raise AssertionError(f"{person.first_name} has no message with {containing!r}: {texts}")


def texts_since(person: SimPerson, count: int) -> list[str]:
    return [m.plain_text for m in person.inbox[count:]]
