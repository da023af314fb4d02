"""Shared steps for the partnership-loop tests: the demo trio of four, Dana the researcher and
Eve the coordinator, and a summary with a question for them agreed by the whole trio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.standin.driver import SimPerson
from bot.summaries.agreement import NO_ACTIONS
from storage.meetings import MeetingRepo
from storage.summaries import SummaryRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import Trio, at, form_trio, newest, run_schedule, utc
from tests.test_meeting_cycle import schedule_first_meeting

GROUP = -100777  # the trio's linked Telegram group
QUESTION = "Is there research on whole-class feedback in primary?"
FOCUS = "Feedback that moves learning on"  # the meeting's, as tests/test_meeting_cycle.py sets it
TRIO = "Oldham–Stockport–Wigan trio"


@dataclass
class Cast:
    trio: Trio
    dana: SimPerson  # researcher
    eve: SimPerson  # coordinator


async def programme(bot: BotUnderTest, *, group: bool = False) -> Cast:
    trio = await form_trio(bot)
    dana, eve = bot.person(805, "Dana"), bot.person(806, "Eve")
    await join(dana, "DEMODANA")
    await join(eve, "DEMOEVE")
    if group:
        bot.api.add_group(GROUP, "Our trio", [801, 802, 803, 804])
        alice = await person_id(bot, 801)
        async with bot.db.transaction() as tx:
            trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
            await MeetingRepo.link_group(tx, trio_id, GROUP, "en", alice)
    return Cast(trio, dana, eve)


async def person_id(bot: BotUnderTest, telegram_id: int) -> int:
    return int(await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = ?", (telegram_id,)))


async def at_the_preview(cast: Cast, answer: str) -> None:
    """Dana opens the first question on her list, writes `answer`, keeps it out of the
    shared digest, and has the preview in front of her."""
    dana = cast.dana
    await dana.says("/questions")
    await dana.taps("Answer 1")
    await dana.says(answer)
    await dana.taps("No")
    assert "This is what the trio will get" in dana.last_text


async def agreed_summary(
    bot: BotUnderTest,
    clock: FakeClock,
    cast: Cast,
    question: Any = QUESTION,
    *,
    more: Sequence[Any] = (),
    by_taps: bool = True,
    approvers: Sequence[str] = ("Bruno", "Carmen", "Fran"),
) -> int:
    """After the meeting, Alice's summary (as the summary flow saves it: that flow has its own
    tests) with `question` (and `more`) for the researchers, approved by `approvers` (all of
    them unless told: then it is agreed)."""
    trio = cast.trio
    await schedule_first_meeting(bot, trio)  # Tue 1 Dec 2026, 16:00
    at(clock, utc(2026, 12, 1, 17, 30))
    await run_schedule(bot, clock)
    alice_id = await person_id(bot, 801)
    async with bot.db.transaction() as tx:
        trio_id = int(await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
        meeting_id = int(await tx.fetchval("SELECT id FROM meeting WHERE trio_id = ?", (trio_id,)))
        summary_id = await bot.services.agreement.save_draft(
            tx,
            alice_id,
            {"meeting_id": meeting_id, "trio_id": trio_id, "schools": []},
            {"focus": FOCUS, "questions": question, "action_0_what": NO_ACTIONS},
        )
        for position, body in enumerate(more, start=1):
            await SummaryRepo.add_item(tx, summary_id, "question", body, position=position)
    await run_schedule(bot, clock)
    for person in (p for p in trio.members if p.first_name in approvers):
        if by_taps:
            await person.taps("Approve", message=newest(person, "Draft summary"))
        else:
            approver = await person_id(bot, person.user_id)
            await bot.services.agreement.approve(approver, summary_id, 1)
    await run_schedule(bot, clock)
    return summary_id


async def an_agreed_question(bot: BotUnderTest, clock: FakeClock, *, group: bool = False) -> Cast:
    """The programme, with the trio's summary and its question agreed (approved directly)."""
    cast = await programme(bot, group=group)
    await agreed_summary(bot, clock, cast, by_taps=False)
    return cast


def got(person: SimPerson, containing: str, chat_id: int | None = None) -> int:
    """How many messages in this person's (or a group's) chat contain `containing`."""
    chat = person.user_id if chat_id is None else chat_id
    return sum(containing in m.plain_text for m in person.api.messages_in(chat))


def voices(person: SimPerson, chat_id: int | None = None) -> int:
    chat = person.user_id if chat_id is None else chat_id
    return sum(m.method == "sendVoice" for m in person.api.messages_in(chat))
