"""Late joiners catch up: what the trio was told before they joined reaches them too."""

from __future__ import annotations

from bot.standin.driver import SimPerson
from storage.invites import InviteRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import at, newest, run_schedule, utc

WEEKLY = "This week's reflection"


async def invite_code(bot: BotUnderTest, code: str) -> None:
    async with bot.db.transaction() as tx:
        school = await tx.fetchval("SELECT id FROM school WHERE ref = 'DEMO-N'")
        trio = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        await InviteRepo.create(tx, role="teacher", school_id=school, trio_id=trio, code=code)


async def three_and_a_meeting(bot: BotUnderTest, clock: FakeClock) -> tuple[SimPerson, ...]:
    """Alice (lead), Bruno and Carmen join on Monday; Alice convenes a meeting for 1 Dec."""
    alice, bruno, carmen = (
        bot.person(801, "Alice"),
        bot.person(802, "Bruno"),
        bot.person(803, "Carmen"),
    )
    await join(alice, "DEMOALICE")
    await join(bruno, "DEMOBRUNO")
    await join(carmen, "DEMOCARMEN", zone="Europe/Madrid")
    await run_schedule(bot, clock)
    await alice.says("/meeting")
    await alice.taps("New meeting")
    await alice.says("1/12/2026")
    await alice.says("16:00")
    await alice.says("https://meet.example/trio-1")
    await alice.says("Feedback that moves learning on")
    await alice.taps("Send the invitations")
    await run_schedule(bot, clock)
    assert newest(bruno, "Trio meeting")
    return alice, bruno, carmen


def calendar_files(person: SimPerson) -> list[tuple[str, bytes]]:
    return [m.document for m in person.inbox if m.document is not None]


async def test_a_teacher_joining_after_the_meeting_was_set_gets_its_invitation(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    alice, bruno, carmen = await three_and_a_meeting(bot, clock)
    await invite_code(bot, "FRAN01")
    fran = bot.person(804, "Fran")
    at(clock, utc(2026, 11, 24, 10, 0))  # Tuesday morning, a day after the invitations
    await join(fran, "FRAN01")
    assert "You're in" in fran.last_text
    await run_schedule(bot, clock)

    invitation = newest(fran, "Trio meeting")
    assert "Tue 1 Dec 2026, 16:00 (Europe/London)" in invitation.plain_text
    files = calendar_files(fran)
    assert len(files) == 1
    name, content = files[0]
    assert name.endswith(".ics") and "DTSTART:20261201T160000Z" in content.decode()

    # Her first word of it was the invitation, so a move now is news about something she knows.
    await alice.says("/meeting")
    await alice.taps("Move 1")
    await alice.says("2/12/2026")
    await alice.says("16:00")
    await alice.taps("Send the new time")
    await run_schedule(bot, clock)
    assert "Wed 2 Dec 2026" in newest(fran, "Meeting moved").plain_text
    texts = [m.plain_text for m in fran.inbox]
    first = next(i for i, t in enumerate(texts) if "Trio meeting" in t or "moved" in t.lower())
    assert "moved" not in texts[first].lower()
    assert len(calendar_files(fran)) == 2  # the invitation's file, then the moved one's

    # Nobody else heard of the meeting twice.
    for person in (bruno, carmen):
        assert len(calendar_files(person)) == 2


async def test_joining_on_a_monday_still_brings_this_weeks_prompt(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    alice, bruno, _ = await three_and_a_meeting(bot, clock)  # the week's round opened already
    await invite_code(bot, "FRAN01")
    fran = bot.person(804, "Fran")
    at(clock, utc(2026, 11, 23, 11, 0))  # still Monday
    await join(fran, "FRAN01")
    at(clock, utc(2026, 11, 24, 15, 44))
    await run_schedule(bot, clock)
    assert not any(WEEKLY in m.plain_text for m in fran.inbox)
    at(clock, utc(2026, 11, 24, 15, 45))  # Tuesday at her reminder time, like everyone's
    await run_schedule(bot, clock)
    assert WEEKLY in newest(bruno, WEEKLY).plain_text
    prompt = newest(fran, WEEKLY)
    await fran.taps("Answer now", message=prompt)
    await fran.says("We tried whole-class feedback sheets and the pupils read them")
    assert "saved" in fran.last_text.lower()
    row = await bot.db.fetchone(
        "SELECT r.status FROM reflection r JOIN person p ON p.id = r.person_id"
        " WHERE p.telegram_id = 804 AND r.prompt = 'practice'"
    )
    assert row is not None and row["status"] == "answered"
    del alice


async def test_joining_after_the_prompt_went_out_brings_it_outside_quiet_hours(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await three_and_a_meeting(bot, clock)
    at(clock, utc(2026, 11, 25, 15, 45))
    await run_schedule(bot, clock)  # the others had this week's prompt on Tuesday
    await invite_code(bot, "FRAN01")
    fran = bot.person(804, "Fran")
    at(clock, utc(2026, 11, 26, 21, 0))  # Thursday evening, in her quiet hours (from 20:00)
    await join(fran, "FRAN01")
    await run_schedule(bot, clock)
    assert not any(WEEKLY in m.plain_text for m in fran.inbox)
    at(clock, utc(2026, 11, 27, 15, 45))  # Friday, her reminder time: still this week
    await run_schedule(bot, clock)
    assert newest(fran, WEEKLY)
    # Exactly once, and never again this week.
    at(clock, utc(2026, 11, 29, 12, 0))
    await run_schedule(bot, clock)
    assert sum(WEEKLY in m.plain_text for m in fran.inbox) == 1


async def test_a_member_who_redeems_a_second_invite_is_not_invited_twice(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    _, bruno, _ = await three_and_a_meeting(bot, clock)
    await invite_code(bot, "BRUNO2")
    await bruno.says("/start BRUNO2")
    assert "Done" in bruno.last_text
    await run_schedule(bot, clock)
    assert len(calendar_files(bruno)) == 1
