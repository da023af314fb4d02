"""A whole lesson-study cycle with three teachers, as they would live it on their phones.

The demo trio (Alice, trio lead; Bruno and Carmen, teachers) runs a cycle from /lessonstudy to
the agreed account. Time passes with `run_until`, so reminders and the after-lesson prompt
arrive when the schedule says; every answer goes through the real Application on the strict
stand-in for Telegram.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.standin.driver import SimPerson
from bot.standin.world import SentMessage
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join

pytestmark = pytest.mark.both_stores

MOMENTS = "Placing 1/2 on the line\nPair talk: which is bigger?\nPlenary"
PUPILS = ("Pupil A", "Pupil B", "P3")


@pytest.fixture
async def trio(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async for bot in bot_under_test(db_path, clock, lesson_study_stall_days=30):
        for user_id, name in ((101, "Alice"), (102, "Bruno"), (103, "Carmen")):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}")
        yield bot


def people(bot: BotUnderTest) -> tuple[SimPerson, SimPerson, SimPerson]:
    return bot.person(101, "Alice"), bot.person(102, "Bruno"), bot.person(103, "Carmen")


# When on, every stage's flow is interrupted by a restart half-way through (see `pause`).
RESTARTS = {"on": False}


async def pause(bot: BotUnderTest, person: SimPerson) -> SimPerson:
    """Stop the bot and start a new Application on the same database, mid-flow, when
    restarts are on; returns the same Telegram user as seen by the new Application."""
    if not RESTARTS["on"]:
        return person
    await bot.restart()
    return bot.person(person.user_id, person.first_name)


def since(person: SimPerson, mark: int) -> list[str]:
    return [m.plain_text for m in person.inbox[mark:]]


def marks(bot: BotUnderTest) -> dict[int, int]:
    return {p.user_id: len(p.inbox) for p in people(bot)}


async def settle(bot: BotUnderTest, minutes: float = 2) -> None:
    """Let the outbox deliver what the last answers queued."""
    await bot.run_until(bot.clock.now + timedelta(minutes=minutes))


def button_data(message: SentMessage, label: str) -> str:
    return next(data for row in message.buttons for text, data in row if label in text)


def newest_with(person: SimPerson, label: str) -> SentMessage:
    for message in reversed(person.inbox):
        if any(label in text for row in message.buttons for text, _ in row):
            return message
    raise AssertionError(f"{person} has no message with a button {label!r}")


async def start_cycle(bot: BotUnderTest) -> None:
    alice, _, _ = people(bot)
    replies = await alice.says("/lessonstudy")
    assert "subject" in replies[-1].plain_text
    await alice.says("Maths")
    await alice.says("Year 5")
    await alice.says("fractions as numbers on a line")
    alice = await pause(bot, alice)
    await alice.says("pupils new to English")
    # A real-looking name is queried, and the suggested pseudonym taken instead.
    replies = await alice.says("Maria")
    assert "looks like it could be a real name" in replies[-1].plain_text
    await alice.taps("Use “Pupil A”")
    await alice.says("new to English, a confident talker")
    await alice.taps("Add another")
    await alice.taps("Pupil B")  # the suggestion, one tap
    await alice.says("quiet, working below expectations")
    await alice.says("add another")  # typed instead of tapped
    replies = await alice.says("P3")  # a pseudonym pattern: not queried
    assert "real name" not in replies[-1].plain_text
    replies = await alice.says("fluent but anxious about maths")
    assert "Your lesson-study cycle has started" in replies[-1].plain_text
    assert "Pupil A, Pupil B, P3" in replies[-1].plain_text


async def plan_lesson(
    bot: BotUnderTest,
    planner: SimPerson,
    round_: int,
    teacher: str,
    day: str,
    at: str,
    *,
    expect_carried: list[str] = (),  # type: ignore[assignment]
) -> list[str]:
    """Plan research lesson `round_`; returns the teacher buttons offered."""
    replies = await planner.taps(f"Plan research lesson {round_}")
    outline = replies[-1].plain_text
    for change in expect_carried:
        assert change in outline  # the change list is carried into the next round's plan
    await planner.says(f"Lesson {round_}: fractions on a number line, then pair talk.")
    planner = await pause(bot, planner)
    if round_ == 1:
        await planner.says(MOMENTS)
    else:
        await planner.taps("Keep the same")
    for m in range(3):
        for p, pupil in enumerate(PUPILS):
            replies = await planner.says(f"R{round_} predict m{m} {pupil}")
            if (m, p) == (1, 1):
                planner = await pause(bot, planner)
    offered = [label for row in replies[-1].buttons for label, _ in row]
    await planner.taps(teacher)
    await planner.says(day)
    replies = await planner.says(at)
    assert "scheduled" in replies[-1].plain_text
    return offered


async def observe(bot: BotUnderTest, observer: SimPerson, round_: int) -> None:
    replies = await observer.taps("My notes on the case pupils")
    assert "What did" in replies[-1].plain_text
    for m in range(3):
        for pupil in PUPILS:
            if (m, pupil) == (1, "P3"):
                observer = await pause(bot, observer)
            if (m, pupil) == (2, "P3"):
                await observer.taps("Skip")  # didn't see it
            else:
                await observer.says(f"R{round_} {observer.first_name} saw m{m} {pupil}")
    await observer.says(f"{observer.first_name}: Pupil A counted on fingers at the start")
    await observer.taps("Skip")
    replies = await observer.taps("Skip")
    assert "observation notes are saved" in replies[-1].plain_text


async def interview(bot: BotUnderTest, observer: SimPerson, round_: int) -> None:
    await observer.taps("Interview notes")
    for pupil in PUPILS:
        if pupil == "P3":
            observer = await pause(bot, observer)
        await observer.says(f"R{round_} {pupil} told {observer.first_name}: the line helped")


async def run_lesson(
    bot: BotUnderTest, teacher: SimPerson, observers: list[SimPerson], round_: int, ends: datetime
) -> None:
    """From the lesson's end: observers' notes and interviews; the teacher sees none of it."""
    before = marks(bot)
    await bot.run_until(ends + timedelta(minutes=1))
    for observer in observers:
        prompt = newest_with(observer, "My notes on the case pupils")
        # Prompted within the hour after the lesson ends.
        assert 0 <= prompt.date - ends.timestamp() <= 3600
        assert f"Research lesson {round_} has ended" in prompt.plain_text
    teacher_texts = since(teacher, before[teacher.user_id])
    assert any("Thank you for teaching" in t for t in teacher_texts)
    for observer in observers:
        observer = bot.person(observer.user_id, observer.first_name)
        await observe(bot, observer, round_)
        await settle(bot)
        observer = bot.person(observer.user_id, observer.first_name)
        await interview(bot, observer, round_)
    await settle(bot)
    for person in (teacher, *observers):
        person = bot.person(person.user_id, person.first_name)
        texts = since(person, before[person.user_id])
        assert any("Time for the post-lesson discussion" in t for t in texts)
        if person.user_id == teacher.user_id:
            # The teacher never gets the observers' prompts.
            assert not any("has ended" in t or "ask the case pupils" in t for t in texts)
        else:
            assert not any("Thank you for teaching" in t for t in texts)


async def discuss(
    bot: BotUnderTest, who: SimPerson, round_: int, observers: list[str], changes: list[str]
) -> None:
    replies = await who.taps("Post-lesson discussion")
    shown = "\n".join(r.plain_text for r in replies)
    # Each prediction is shown beside what the observers recorded at that moment.
    for m in range(2):
        predicted = shown.index(f"Predicted: R{round_} predict m{m} Pupil A")
        for name in observers:
            observed = shown.index(f"Observed ({name}): R{round_} {name} saw m{m} Pupil A")
            assert 0 < observed - predicted < 200
    assert "Said in interview" in shown and "the line helped" in shown
    assert "Observed: (no notes)" in shown  # P3 at the plenary, which nobody saw
    await who.says("Pupil A did better than predicted once the line was drawn.")
    who = await pause(bot, who)
    replies = await who.says("\n".join(f"- {c}" for c in changes))
    assert "Discussion saved" in replies[-1].plain_text


@pytest.mark.parametrize("restarts", [False, True], ids=["straight", "restart-mid-stage"])
async def test_a_whole_cycle_with_three_teachers(trio: BotUnderTest, restarts: bool) -> None:
    bot = trio
    RESTARTS["on"] = restarts
    alice, bruno, carmen = people(bot)
    await start_cycle(bot)
    alice, bruno, carmen = people(bot)
    assert [r["pseudonym"] for r in await bot.db.fetchall(
        "SELECT pseudonym FROM lesson_study_pupil ORDER BY position"
    )] == list(PUPILS)  # fmt: skip
    assert (
        await bot.db.fetchval(
            "SELECT COUNT(*) FROM lesson_study_pupil WHERE pseudonym LIKE '%Maria%'"
        )
        == 0
    )
    await settle(bot)
    for person in (alice, bruno, carmen):
        assert (
            "started a lesson-study cycle" in newest_with(person, "Record student voice").plain_text
        )

    # Student voice, then the first plan: predictions per case pupil at each key moment.
    await bruno.taps("Record student voice")
    await bruno.says("They like drawing it; they hate being asked first.")
    bruno = await pause(bot, bruno)
    alice, bruno, carmen = people(bot)
    await bruno.taps("Skip")
    await settle(bot)
    assert "Student voice" in newest_with(carmen, "Plan research lesson 1").plain_text
    offered = await plan_lesson(bot, carmen, 1, "Alice", "26/11/2026", "10:00")
    alice, bruno, carmen = people(bot)
    assert offered[0].startswith("Alice (whose turn")
    predictions = await bot.db.fetchval(
        "SELECT COUNT(*) FROM lesson_study_note WHERE kind = 'prediction' AND round = 1"
    )
    assert predictions == 9
    await settle(bot)
    assert "You teach research lesson 1" in alice.inbox[-1].plain_text
    for observer in (bruno, carmen):
        assert "Alice teaches" in observer.inbox[-1].plain_text
        assert "You observe" in observer.inbox[-1].plain_text
        # The time of someone else's lesson says whose clock it is on.
        assert "Thu 26 Nov 2026, 10:00 (Europe/London)" in observer.inbox[-1].plain_text

    # Reminders the day before and an hour before, each only the one meant for them.
    alice = await pause(bot, alice)  # a restart while the lesson is scheduled re-arms nothing
    alice, bruno, carmen = people(bot)
    mark = marks(bot)
    await bot.run_until(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    assert [t for t in since(alice, mark[101]) if "Reminder" in t] == [
        t for t in since(alice, mark[101]) if "you teach research lesson 1" in t
    ]
    assert len([t for t in since(alice, mark[101]) if "Reminder" in t]) == 2
    for observer in (bruno, carmen):
        reminders = [t for t in since(observer, mark[observer.user_id]) if "Reminder" in t]
        assert len(reminders) == 2
        assert all("Alice teaches research lesson 1" in t for t in reminders)
        assert "lesson 1 tomorrow — Thu 26 Nov 2026, 10:00 (Europe/London)" in reminders[0]

    await run_lesson(bot, alice, [bruno, carmen], 1, datetime(2026, 11, 26, 11, 0, tzinfo=UTC))
    alice, bruno, carmen = people(bot)
    changes_1 = ["Give Pupil A a number line of their own", "Pre-teach the word denominator"]
    await discuss(bot, bruno, 1, ["Bruno", "Carmen"], changes_1)
    alice, bruno, carmen = people(bot)
    await settle(bot)

    # Round 2: the changes are carried into the plan; Bruno's turn, but Carmen swaps in.
    offered = await plan_lesson(
        bot, alice, 2, "Carmen", "1/12/2026", "10:00", expect_carried=changes_1
    )
    alice, bruno, carmen = people(bot)
    assert offered[0].startswith("Bruno (whose turn") and not any("Alice" in o for o in offered)
    await settle(bot)
    await run_lesson(bot, carmen, [alice, bruno], 2, datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    alice, bruno, carmen = people(bot)
    changes_2 = ["Start with the plenary question"]
    await discuss(bot, alice, 2, ["Alice", "Bruno"], changes_2)
    alice, bruno, carmen = people(bot)
    await settle(bot)

    # Round 3: only Bruno has not taught.
    offered = await plan_lesson(
        bot, carmen, 3, "Bruno", "3/12/2026", "13:00", expect_carried=changes_2
    )
    alice, bruno, carmen = people(bot)
    # Back, Skip, Cancel keep their places: a dot where this question cannot be skipped.
    assert offered == ["Bruno (whose turn it is)", "« Back", "·", "✕ Cancel"]
    await settle(bot)
    await run_lesson(bot, bruno, [alice, carmen], 3, datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    alice, bruno, carmen = people(bot)
    await discuss(bot, carmen, 3, ["Alice", "Carmen"], ["Keep the number line from the start"])
    alice, bruno, carmen = people(bot)
    await settle(bot)
    teachers = [r[0] for r in await bot.db.fetchall(
        "SELECT p.display_name FROM research_lesson l JOIN person p ON p.id = l.teacher_id"
        " ORDER BY l.round"
    )]  # fmt: skip
    assert teachers == ["Alice", "Carmen", "Bruno"]  # each taught once

    # The closing account, agreed through approve / suggest a change.
    replies = await carmen.taps("Write the account")
    assert "fractions as numbers on a line" in replies[-1].plain_text
    await carmen.says("A shared number line lets new arrivals show what they know.")
    carmen = await pause(bot, carmen)
    alice, bruno, carmen = people(bot)
    replies = await carmen.says("We moved the plenary question to the start.")
    replies = await carmen.says("Draw before you talk.")
    assert "questions for the researchers" in replies[-1].plain_text
    replies = await carmen.taps("No questions")
    # The whole account, as the trio will read it, before it goes (sending it approves it).
    assert "Here is the account" in replies[-1].plain_text
    assert "What we’d tell colleagues: Draw before you talk." in replies[-1].plain_text
    await carmen.taps("Send to the trio")
    await settle(bot)
    assert "The account" in newest_with(alice, "Approve").plain_text
    await alice.taps("Approve")
    await bruno.taps("Suggest a change")
    bruno = await pause(bot, bruno)
    alice, bruno, carmen = people(bot)
    await bruno.says("Say that we pre-taught 'denominator' too.")
    await settle(bot)
    assert "suggests a change" in newest_with(carmen, "Revise the account").plain_text
    await carmen.taps("Revise the account")
    await carmen.taps("Keep it as it is")
    replies = await carmen.says("We pre-taught 'denominator' and moved the plenary question.")
    assert "Now:" in replies[-1].plain_text  # shows the current text to keep or replace
    await carmen.taps("Keep it as it is")
    replies = await carmen.taps("No questions")
    assert "We pre-taught 'denominator'" in replies[-1].plain_text  # the revision, in full
    await carmen.taps("Send to the trio")
    await settle(bot)
    status = await bot.db.fetchone("SELECT status, revision FROM lesson_study_account")
    assert status is not None and (status["status"], status["revision"]) == ("draft", 2)
    # Approvals start afresh for the revision: Alice approves again, then Bruno.
    await alice.taps("Approve", message=newest_with(alice, "Approve"))
    assert await bot.db.fetchval("SELECT status FROM lesson_study") == "active"
    await bruno.taps("Approve", message=newest_with(bruno, "Approve"))
    await settle(bot)
    row = await bot.db.fetchone(
        "SELECT a.status, a.changed, c.status AS cycle FROM lesson_study_account a"
        " JOIN lesson_study c ON c.id = a.lesson_study_id"
    )
    assert row is not None and (row["status"], row["cycle"]) == ("agreed", "agreed")
    assert "pre-taught" in json.loads(row["changed"])
    for person in (alice, bruno, carmen):
        assert "The account is agreed" in person.inbox[-1].plain_text


# --- nobody sees or changes what is not theirs ----------------------------------------------


async def other_trio_member(bot: BotUnderTest) -> SimPerson:
    """Dan, a teacher in a different trio, joined through his own invite."""
    from storage.invites import InviteRepo
    from storage.programme import ProgrammeRepo

    async with bot.db.transaction() as tx:
        trio_id = await ProgrammeRepo.upsert_trio(tx, ref="T-OTHER", kind="teachers", name="Other")
        await InviteRepo.create(tx, role="teacher", school_id=None, trio_id=trio_id, code="DANX1")
    dan = bot.person(104, "Dan")
    await join(dan, "DANX1")
    return dan


async def state(bot: BotUnderTest) -> tuple[object, ...]:
    row = await bot.db.fetchone("SELECT stage, stage_seq, round FROM lesson_study")
    notes = await bot.db.fetchval("SELECT COUNT(*) FROM lesson_study_note")
    flows = await bot.db.fetchval(
        "SELECT COUNT(*) FROM flow_state WHERE flow LIKE 'ls_%' AND person_id ="
        " (SELECT id FROM person WHERE telegram_id = 104)"
    )
    return (tuple(row) if row else None, notes, flows)


async def test_another_trio_can_read_or_change_nothing(trio: BotUnderTest) -> None:
    bot = trio
    RESTARTS["on"] = False
    await start_cycle(bot)
    await settle(bot)
    dan = await other_trio_member(bot)
    _, bruno, _ = people(bot)
    before = await state(bot)
    # Commands: his own trio has no cycle and too few teachers; Alice's cycle is not shown.
    replies = await dan.says("/lessonstudy")
    assert "needs three teachers" in replies[-1].plain_text
    assert "fractions" not in replies[-1].plain_text
    replies = await dan.says("/status")
    assert all("fractions" not in r.plain_text for r in replies)
    # Bruno's genuine, signed button, replayed from Dan's chat: refused, nothing opened.
    voice = button_data(newest_with(bruno, "Record student voice"), "Record student voice")
    await dan.taps_data(voice, message_id=dan.inbox[-1].message_id)
    assert "another trio" in (dan.last_answer or {})["text"]
    # A forged one (a valid-looking field changed, the signature kept) is not even read.
    forged = voice.replace(":v:", ":a:", 1)
    await dan.taps_data(forged, message_id=dan.inbox[-1].message_id)
    assert "isn't one I made" in (dan.last_answer or {})["text"]
    assert await state(bot) == before


async def test_a_monday_lessons_reminder_moved_off_sunday_says_today(trio: BotUnderTest) -> None:
    """The day-before reminder of a Monday lesson falls on Sunday and waits for Monday morning:
    it says "today", as it reads when it arrives, and names the zone of the time."""
    bot = trio
    RESTARTS["on"] = False
    _, bruno, carmen = people(bot)
    await start_cycle(bot)
    await settle(bot)
    await bruno.taps("Record student voice")
    await bruno.says("They like drawing it.")
    await bruno.taps("Skip")
    await settle(bot)
    await plan_lesson(bot, carmen, 1, "Alice", "30/11/2026", "10:00")
    _, bruno, _ = people(bot)
    mark = marks(bot)
    await bot.run_until(datetime(2026, 11, 30, 8, 30, tzinfo=UTC))
    reminders = [m for m in bruno.inbox[mark[bruno.user_id] :] if "Reminder" in m.plain_text]
    assert len(reminders) == 1
    arrived = datetime.fromtimestamp(reminders[0].date, UTC)
    assert arrived.date() == datetime(2026, 11, 30).date()  # Monday, not Sunday
    assert "lesson 1 today — Mon 30 Nov 2026, 10:00 (Europe/London)" in reminders[0].plain_text
    assert "tomorrow" not in reminders[0].plain_text


async def test_observers_and_the_teacher_each_get_only_their_own_steps(
    trio: BotUnderTest,
) -> None:
    bot = trio
    RESTARTS["on"] = False
    alice, bruno, carmen = people(bot)
    await start_cycle(bot)
    await settle(bot)
    await bruno.taps("Record student voice")
    await bruno.says("They like drawing it.")
    await bruno.taps("Skip")
    await settle(bot)
    await plan_lesson(bot, carmen, 1, "Alice", "26/11/2026", "10:00")
    # Days ahead: both reminders are promised (and armed).
    assert any("reminders the day before and an hour before" in t for t in since(carmen, -3))
    await bot.run_until(datetime(2026, 11, 26, 11, 1, tzinfo=UTC))
    notice = newest_with(bruno, "My notes")
    observer_button = button_data(notice, "My notes")
    # The teacher replays an observer's button: refused, no flow opens.
    await alice.taps_data(observer_button, message_id=alice.inbox[-1].message_id)
    assert "someone else in your trio" in (alice.last_answer or {})["text"]
    assert not any("What did" in m.plain_text for m in alice.inbox[-2:])
    # The observer's own tap works; once done, the same button is stale.
    await observe(bot, bruno, 1)
    await bruno.taps_data(observer_button, message_id=notice.message_id)
    assert "already done" in (bruno.last_answer or {})["text"]
    done = await bot.db.fetchval("SELECT COUNT(*) FROM lesson_study_task WHERE task = 'observe'")
    assert done == 1


async def test_the_trio_can_swap_teacher_and_move_the_lesson(trio: BotUnderTest) -> None:
    bot = trio
    RESTARTS["on"] = False
    alice, bruno, carmen = people(bot)
    await start_cycle(bot)
    await settle(bot)
    await bruno.taps("Record student voice")
    await bruno.says("They like drawing it.")
    await bruno.taps("Skip")
    await settle(bot)
    await plan_lesson(bot, carmen, 1, "Alice", "26/11/2026", "10:00")
    await settle(bot)
    await bruno.taps("Swap teacher or change time")
    await bruno.taps("Bruno")
    await bruno.says("27/11/2026")
    replies = await bruno.says("09:00")
    assert "Changed" in replies[-1].plain_text
    await settle(bot)
    assert "You teach research lesson 1" in bruno.inbox[-1].plain_text
    assert "Bruno teaches" in alice.inbox[-1].plain_text
    mark = marks(bot)
    await bot.run_until(datetime(2026, 11, 27, 10, 5, tzinfo=UTC))
    # Nothing fired for the old time; reminders follow the new teacher and time.
    alice_reminders = [t for t in since(alice, mark[101]) if "Reminder" in t]
    bruno_reminders = [t for t in since(bruno, mark[102]) if "Reminder" in t]
    assert len(alice_reminders) == 2 and all("Bruno teaches" in t for t in alice_reminders)
    assert len(bruno_reminders) == 2 and all("you teach" in t for t in bruno_reminders)
    assert any("Research lesson 1 has ended" in t for t in since(alice, mark[101]))
    assert any("Thank you for teaching" in t for t in since(bruno, mark[102]))


async def test_a_stalled_cycle_prompts_the_trio_once_and_is_flagged(
    db_path: Path, clock: FakeClock
) -> None:
    RESTARTS["on"] = False
    async for bot in bot_under_test(db_path, clock, lesson_study_stall_days=3):
        for user_id, name in ((101, "Alice"), (102, "Bruno"), (103, "Carmen")):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}")
        await start_cycle(bot)
        await bot.run_until(datetime(2026, 12, 4, tzinfo=UTC))
        alice, bruno, _ = people(bot)
        for person in people(bot):
            stalled = [m for m in person.inbox if "for 3 days" in m.plain_text]
            assert len(stalled) == 1
            assert "Record student voice" in stalled[0].buttons[0][0][0]
        assert await bot.db.fetchval("SELECT stalled_at FROM lesson_study") is not None
        replies = await alice.says("/status")
        assert "stalled" in replies[-1].plain_text
        # Eve, the coordinator, sees it among the cycles that may need support.
        eve = bot.person(105, "Eve")
        await join(eve, "DEMOEVE")
        replies = await eve.says("/status")
        assert "Lesson-study cycles stalled" in replies[-1].plain_text
        # Moving on clears the flag.
        await bruno.taps("Record student voice", message=newest_with(bruno, "Record"))
        await bruno.says("They like drawing it.")
        await bruno.taps("Skip")
        assert await bot.db.fetchval("SELECT stalled_at FROM lesson_study") is None


@pytest.mark.parametrize(
    "entry", ["Maria", "Jayden", "Tom Smith", "J. Smith", "ana lúcia", "Gonçalo", "Mohammed"]
)
def test_name_like_entries_are_queried(entry: str) -> None:
    from bot.flows.pseudonyms import looks_like_name

    assert looks_like_name(entry)


@pytest.mark.parametrize(
    "entry",
    ["Pupil A", "P1", "Student B", "pupil b2", "Alumna 3", "Aluno C", "A", "CP-2", "the quiet one"],
)
def test_pseudonyms_are_accepted_without_a_query(entry: str) -> None:
    from bot.flows.pseudonyms import looks_like_name

    assert not looks_like_name(entry)


async def test_erasing_a_member_keeps_the_trios_work_without_their_name(
    trio: BotUnderTest,
) -> None:
    from storage import personal_data

    bot = trio
    RESTARTS["on"] = False
    await start_cycle(bot)
    await settle(bot)
    _, bruno, _ = people(bot)
    await bruno.taps("Record student voice")
    await bruno.says("Asked with Bruno's form group: they like drawing it.")
    await bruno.taps("Skip")
    bruno_id = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 102")
    async with bot.db.transaction() as tx:
        assert await personal_data.erase(tx, bruno_id)
    note = await bot.db.fetchone("SELECT person_id, body FROM lesson_study_note")
    assert note is not None and note["person_id"] is None
    assert "Bruno" not in note["body"] and "[erased]" in note["body"]
    members = await bot.db.fetchval(
        "SELECT COUNT(*) FROM lesson_study_member WHERE person_id = ?", (bruno_id,)
    )
    assert members == 0


async def test_a_finished_cycle_stays_visible_after_a_member_is_erased(
    trio: BotUnderTest,
) -> None:
    from storage import personal_data
    from storage.lesson_study import LessonStudyRepo

    bot = trio
    RESTARTS["on"] = False
    await start_cycle(bot)
    await settle(bot)
    alice, _, _ = people(bot)
    cycle_id = int(await bot.db.fetchval("SELECT id FROM lesson_study"))
    # The stages are walked in test_a_whole_cycle_with_three_teachers; here the cycle ends.
    async with bot.db.transaction() as tx:
        await LessonStudyRepo.move(tx, cycle_id, "agreed", 3, bot.clock())
    bruno_id = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 102")
    async with bot.db.transaction() as tx:
        assert await personal_data.erase(tx, bruno_id)

    replies = await alice.says("/lessonstudy")
    shown = "\n".join(r.plain_text for r in replies)
    assert "Lesson study" in shown and "agreed" in shown  # the finished cycle's card
    assert "Bruno" not in shown
    # And what comes next: with Bruno gone there are not two colleagues to start another.
    assert "needs three teachers who have joined" in replies[-1].plain_text
