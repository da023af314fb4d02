"""Hostile input: thousands of generated updates interleaved with real flows.

Each example starts a bot with a joined trio (Alice the lead, Bruno, Carmen), two joined
outsiders (Dana, a researcher; Olga, the lead of another trio) and a stranger, all of them in
the trio's Telegram group too. It then plays a generated sequence (tests/hostile_episodes.py):
random Unicode and oversize text, commands with junk arguments, stickers, photos, documents,
voice notes, locations, edited messages, taps on real buttons old and new, forged callback
data, other people's genuine buttons replayed from one's own chat — buried in the
conversations people really have: meetings scheduled, moved, cancelled and held, attendance,
reflections, summaries written privately or in the group (with /skip and /back), approved,
changed and confirmed, actions followed up, a lesson-study cycle started and planned, /digest
for past, future and impossible weeks, /link from whoever is in the group; with time passing
so reminders and prompts arrive. After every update it checks:
  * no handler raised (the error handler would log at ERROR),
  * Telegram refused nothing the bot tried (the stand-in is strict; `fail_on_refusal`),
  * a private message got a reply, so did a command in the group from someone who has
    joined, and every button tap got its callback answered,
  * no row changed that the sender may not change. `snapshot` groups rows by who may change
    them: a person's own rows; a trio's meetings, attendance and group link by its lead; what
    a summary says by its writers; its agreement, and lesson study, by any member. A stranger
    changes nothing at all, an outsider nothing of the trio's, a forged button nothing anyone
    owns, someone else's flow button only the sender's own flow bookkeeping. (A button on a
    meeting, summary or lesson-study message only names what it is about; replayed, it is
    judged as the sender's own tap.)
What the generated runs found is kept in `FOUND`, as explicit examples.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import tempfile
import traceback
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

from bot.standin.driver import SimPerson
from bot.standin.world import SentMessage
from storage.invites import InviteRepo
from storage.programme import ProgrammeRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join
from tests.hostile_episodes import TRIO, TYPED, Step, press, say, sequences, wait

PEOPLE = {
    "alice": (301, "DEMOALICE"),
    "bruno": (302, "DEMOBRUNO"),
    "carmen": (303, "DEMOCARMEN"),
    "dana": (304, "DEMODANA"),
    "olga": (305, "OLGAX1"),
}
STRANGER = 399
GROUP = -100555
# Commands the bot answers in a group when someone who has joined sends them.
ANSWERED_IN_GROUP = {"/link", "/meeting", "/summary", "/skip", "/back", "/cancel", "/start",
                     "/settings", "/privacy", "/reflect", "/status", "/invite", "/digest",
                     "/lessonstudy"}  # fmt: skip

Owners = frozenset[int | None] | None  # who may change these rows; None: the bot's bookkeeping
Snapshot = dict[tuple[str, Owners], list[tuple[Any, ...]]]

# Rows that belong to one person, and the column that says whose.
OWNED = {
    "person": "id",
    "consent": "person_id",
    "person_role": "person_id",
    "flow_state": "person_id",
    "reflection": "person_id",
    "trio_member": "person_id",
    "meeting_reflection": "person_id",
    "summary_approval": "person_id",
    "lesson_study_note": "person_id",
    "lesson_study_task": "person_id",
    "lesson_study_approval": "person_id",
}
# Rows of a trio, by who in it may change them; each query's first column is the trio.
# Only the lead schedules, moves, cancels, takes attendance, names a writer, links a group.
BY_LEAD = {
    "meeting": "SELECT trio_id, * FROM meeting",
    "meeting_attendance": "SELECT m.trio_id, a.* FROM meeting_attendance a"
    " JOIN meeting m ON m.id = a.meeting_id",
    "trio_chat": "SELECT trio_id, * FROM trio_chat",
}
# Lesson study is the whole trio's work, and any member's approval can make a summary agreed.
BY_MEMBERS = {
    "lesson_study": "SELECT trio_id, * FROM lesson_study",
    "lesson_study_member": "SELECT c.trio_id, x.* FROM lesson_study_member x"
    " JOIN lesson_study c ON c.id = x.lesson_study_id",
    "lesson_study_pupil": "SELECT c.trio_id, x.* FROM lesson_study_pupil x"
    " JOIN lesson_study c ON c.id = x.lesson_study_id",
    "research_lesson": "SELECT c.trio_id, x.* FROM research_lesson x"
    " JOIN lesson_study c ON c.id = x.lesson_study_id",
    "lesson_study_account": "SELECT c.trio_id, x.* FROM lesson_study_account x"
    " JOIN lesson_study c ON c.id = x.lesson_study_id",
    "summary (agreement)": "SELECT trio_id, id, status, agreed_at, agreed_how, updated_at"
    " FROM summary",
}
# What a summary says: its author, or whoever may write the trio's summaries (the lead, or
# the member the lead named), since a summary written again replaces the old one.
BY_WRITERS = {
    "summary": "SELECT trio_id, author_id, id, meeting_id, focus, no_actions, revision,"
    " circulated_at, agree_by, created_at FROM summary",
    "summary_item": "SELECT s.trio_id, s.author_id, i.* FROM summary_item i"
    " JOIN summary s ON s.id = i.summary_id",
    "action": "SELECT a.trio_id, s.author_id, a.id, a.summary_id, a.what, a.owner_id,"
    " a.due_on, a.position, a.created_at FROM action a JOIN summary s ON s.id = a.summary_id",
}
UNOWNED = ("invite", "invite_use", "outbox", "schedule", "trio", "school")


def snapshot(db: sqlite3.Connection) -> Snapshot:
    """Every row of interest, grouped by (table, the people who may change it)."""
    found: Snapshot = defaultdict(list)
    members: dict[int, set[int | None]] = defaultdict(set)
    leads: dict[int, set[int | None]] = defaultdict(set)
    for trio, person, is_lead in db.execute("SELECT trio_id, person_id, is_lead FROM trio_member"):
        members[trio].add(person)
        if is_lead:
            leads[trio].add(person)
    writers = {trio: set(people) for trio, people in leads.items()}
    for trio, runner in db.execute(
        "SELECT trio_id, summary_runner_id FROM meeting WHERE summary_runner_id IS NOT NULL"
    ):
        writers.setdefault(trio, set()).add(runner)

    for table, owner in OWNED.items():
        for row in db.execute(f"SELECT * FROM {table}"):
            values = tuple(row)
            if table == "flow_state":
                # updated_at/expiry move when the owner writes; they are still the owner's.
                values = tuple(v for k, v in zip(row.keys(), row, strict=True) if k != "id")
            found[(table, frozenset({row[owner]}))].append(values)
    for tables, scope in ((BY_LEAD, leads), (BY_MEMBERS, members)):
        for table, sql in tables.items():
            for trio, *values in db.execute(sql):
                found[(table, frozenset(scope[trio]))].append(tuple(values))
    for table, sql in BY_WRITERS.items():
        for trio, author, *values in db.execute(sql):
            found[(table, frozenset({author, *writers.get(trio, ())}))].append(tuple(values))
    # How an action went: its owner says, or a writer; one for the whole trio, any member.
    for trio, owner, *values in db.execute(
        "SELECT trio_id, owner_id, id, status, updated_at FROM action"
    ):
        who = {owner, *writers.get(trio, ())} if owner is not None else members[trio]
        found[("action (status)", frozenset(who))].append(tuple(values))
    for rows in found.values():
        rows.sort(key=repr)
    for table in UNOWNED:
        rows = db.execute(f"SELECT * FROM {table}").fetchall()
        found[(table, None)] = sorted((tuple(r) for r in rows), key=repr)
    return dict(found)


def person_ids(db: sqlite3.Connection) -> dict[int, int]:
    rows = db.execute("SELECT telegram_id, id FROM person WHERE telegram_id IS NOT NULL")
    return {telegram_id: person_id for telegram_id, person_id in rows}


def buttons_in(bot: BotUnderTest, chat: int) -> list[tuple[int, str]]:
    return [
        (m.message_id, button["callback_data"])
        for m in bot.api.messages_in(chat)
        for row in (m.reply_markup or {}).get("inline_keyboard", [])
        for button in row
        if button.get("callback_data")
    ]


def newest_button(bot: BotUnderTest, chat: int, label: str) -> tuple[int, str] | None:
    """The newest button in `chat` whose label contains `label`, as a person would find it."""
    for m in reversed(bot.api.messages_in(chat)):
        if m.deleted:
            continue
        for row in (m.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if label in button.get("text", "") and button.get("callback_data"):
                    return m.message_id, button["callback_data"]
    return None


def question_in_group(bot: BotUnderTest) -> SentMessage | None:
    """What a member would reply to: the bot's newest question in the group, else its newest
    message there."""
    inbox = [m for m in bot.api.messages_in(GROUP) if not m.deleted]
    asking = [m for m in inbox if (m.reply_markup or {}).get("force_reply")] or inbox
    return asking[-1] if asking else None


NAVIGATION = ("« Back", "Skip »", "✕ Cancel", "Discard it")
# How often (one pick in n) a person taps a navigation button rather than answering.
NAVIGATING = (("Skip »", 3), ("« Back", 17), ("✕ Cancel", 53))


def next_answer(bot: BotUnderTest, chat: int, pick: int) -> tuple[str, Any] | None:
    """What a person does with the bot's newest question in `chat`: mostly taps one of its
    options, now and then Skip, Back or Cancel, otherwise types the kind of answer the
    question wants (`pick` decides which), as a concrete step for `one_step`."""
    asked = [
        m
        for m in bot.api.messages_in(chat)
        if not m.deleted and {"inline_keyboard", "force_reply"} & set(m.reply_markup or {})
    ]
    if not asked:
        return None
    question = asked[-1]
    buttons = [
        (button["text"], button["callback_data"])
        for row in (question.reply_markup or {}).get("inline_keyboard", [])
        for button in row
        if button.get("callback_data") and not button["text"].startswith("✓")
    ]
    shown = question.plain_text.lower()
    options = [data for label, data in buttons if label not in NAVIGATION]
    navigation = {label: data for label, data in buttons if label in NAVIGATION}
    # Where typing is one of the ways to answer ("type it, or tap…"), half the time they type.
    if options and pick % 5 and not ("type" in shown and pick % 2):
        return "press at", (question.message_id, options[pick % len(options)])
    for label, every in NAVIGATING:
        if label in navigation and pick % every == 0:
            return "press at", (question.message_id, navigation[label])
    if chat == GROUP:  # a ForceReply has no buttons: the commands instead
        for command, every in (("/skip", 4), ("/back", 17)):
            if pick % every == 0:
                return "group", command
    choices = next(typed for word, typed in TYPED if word in shown)
    return ("greply" if chat == GROUP else "text"), choices[pick % len(choices)]


async def play(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.db"
        clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # a Tuesday in term
        # PTB's rate limiter waits in real time, the stand-in counts on the fake clock, and
        # each update moves that clock on 4 s: a group's 20 messages a minute are kept to.
        async for bot in bot_under_test(path, clock, rate_limiter=False):
            bot.conversation.step_seconds = 4
            async with bot.db.transaction() as tx:
                other = await ProgrammeRepo.upsert_trio(
                    tx, ref="T-OTHER", kind="teachers", name="Another trio"
                )
                await InviteRepo.create(
                    tx, role="trio_lead", school_id=None, trio_id=other, code="OLGAX1"
                )
            people: dict[str, SimPerson] = {}
            for name, (uid, code) in PEOPLE.items():
                people[name] = bot.person(uid, name.title())
                await join(people[name], code)
            people["stranger"] = bot.person(STRANGER, "Mallory")
            bot.api.add_group(GROUP, "Trio chat", [uid for uid, _ in PEOPLE.values()] + [STRANGER])
            # Read beside the bot's own connection (WAL): no hop through aiosqlite's thread.
            db = sqlite3.connect(path, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                for step in steps:
                    await one_step(bot, people, db, step)
                    await bot.tick()  # what the answer queued goes out, as the bot's loop would
            finally:
                db.close()


async def one_step(
    bot: BotUnderTest, people: dict[str, SimPerson], db: sqlite3.Connection, step: Step
) -> None:
    kind, actor, value = step
    if kind == "wait":
        await bot.run_until(bot.clock.now + timedelta(minutes=value))
        return
    who = people[actor]
    in_group = kind in ("group", "greply", "gpress", "gtap", "ganswer")
    chat = GROUP if in_group else who.user_id
    if kind in ("answer", "ganswer"):
        resolved = next_answer(bot, chat, value)
        if resolved is None:
            return
        kind, value = resolved
    me = person_ids(db).get(who.user_id)
    before = snapshot(db)
    sent_before = len(bot.api.messages_in(chat))
    edits_before = sum(m.edits for m in bot.api.messages_in(chat))
    answers_before = len(bot.api.answers)
    reply_due = False
    callback = False
    flow_button = False  # a replayed button of someone else's flow, rather than a notice's
    if kind == "text":
        await who.says(value)
        reply_due = True
    elif kind in ("sticker", "photo", "location"):
        await getattr(who, f"sends_{kind}")()
        reply_due = True
    elif kind == "document":
        await who.sends_document("notes.pdf")
        reply_due = True
    elif kind == "voice":
        await who.sends_voice(duration=7)
        reply_due = True
    elif kind == "edit":
        mine = [
            mid
            for (c, mid), msg in bot.api._user_messages.items()
            if c == chat and "text" in msg and msg["from"]["id"] == chat
        ]
        if not mine:
            return
        await who.conversation.deliver(bot.api.edited_text(chat, mine[-1], value or "edited"))
    elif kind in ("tap", "gtap", "replay"):
        source = people[_other(actor)].user_id if kind == "replay" else chat
        found = buttons_in(bot, source)
        if not found:
            return
        message_id, data = found[value % len(found)]
        if kind == "replay":  # another person's genuine button, on a keyboard in my chat
            keyboards = buttons_in(bot, chat)
            if not keyboards:
                return
            message_id = keyboards[-1][0]
            fields = bot.services.engine.signer.verify(data)
            flow_button = fields is None or fields[0] == "f"
        await who.taps_data(data, message_id=message_id, chat_id=chat)
        callback = True
    elif kind in ("press", "gpress", "press at"):
        target = value if kind == "press at" else newest_button(bot, chat, value)
        if target is None:
            return
        await who.taps_data(target[1], message_id=target[0], chat_id=chat)
        callback = True
    elif kind == "forged":
        own = bot.api.messages_in(chat)
        if not own:
            return
        await who.taps_data(value, message_id=own[-1].message_id)
        callback = True
    elif kind == "group":
        await who.says(value, chat_id=GROUP)
        command = value.split()[0] if value.split() else ""
        reply_due = me is not None and command in ANSWERED_IN_GROUP
    elif kind == "greply":
        question = question_in_group(bot)
        if question is None:
            return
        await who.says(value, chat_id=GROUP, reply_to=question)
    after = snapshot(db)

    if reply_due:
        edits_after = sum(m.edits for m in bot.api.messages_in(chat))
        assert len(bot.api.messages_in(chat)) > sent_before or edits_after > edits_before, step
    if callback:
        assert len(bot.api.answers) > answers_before, ("callback never answered", step)
        assert not bot.api.open_queries, step
    if me is None:
        assert before == after, step
    if person_ids(db).get(who.user_id) != me:
        # They erased themselves (/privacy): that rewrites other people's rows by design —
        # their name redacted in the trio's words, references to them dropped — as
        # tests/test_data_rights.py checks. From now on they are a stranger here.
        return
    for key in before.keys() | after.keys():
        if before.get(key) == after.get(key):
            continue
        _, owners = key
        if owners is None:
            continue  # the bot's own bookkeeping: the outbox, the schedule
        if kind == "forged" or flow_button:
            # Forged data changes nothing anyone owns; another person's flow button only the
            # sender's own flow bookkeeping.
            allowed = flow_button and key == ("flow_state", frozenset({me}))
        else:
            allowed = me in owners
        assert allowed, (step, key, before.get(key), after.get(key))


def _other(actor: str) -> str:
    if actor not in TRIO:
        return TRIO[0]
    return TRIO[(TRIO.index(actor) + 1) % len(TRIO)]


# What the generated runs found (December 2026), kept as examples: each replays in a moment.
FOUND = {
    # A researcher's /digest for a week at either end of the calendar: OverflowError.
    "digest of a week at the calendar's ends": [
        say("dana", "/digest 9999-W52"),
        say("dana", "/digest 0001-W01"),
    ],
    # A meeting in the last hour of 31/12/9999 is accepted, then fails as it is scheduled.
    "meeting in the last hour of year 9999": [
        say("alice", "/meeting"),
        press("alice", "New meeting"),
        say("alice", "31/12/9999"),
        say("alice", "23:00"),
        press("alice", "Skip"),
        say("alice", "Feedback"),
        press("alice", "Send the invitations"),
    ],
    # So is a research lesson on 31/12/9999, at any hour.
    "research lesson in year 9999": [
        say("alice", "/lessonstudy"),
        *(say("alice", text) for text in ("Maths", "Year 5", "fractions", "new to English")),
        *(say("alice", text) for text in ("Pupil A", "new arrivals")),
        press("alice", "Done"),
        press("bruno", "Record student voice"),
        say("bruno", "They like drawing it"),
        press("bruno", "Skip"),
        press("carmen", "Plan research lesson 1"),
        *(say("carmen", text) for text in ("An outline", "Placing 1/2", "A prediction")),
        press("carmen", "Alice"),
        say("carmen", "31/12/9999"),
        say("carmen", "10:00"),
    ],
    # The lead of another trio, in this trio's group, links it to hers: this trio's link
    # is deleted (and the same the other way round).
    "group link taken by another trio's lead": [
        ("group", "alice", "/link"),
        ("group", "olga", "/link"),
    ],
    # A stranger's /link, /skip or /back in a private chat gets no reply at all.
    "stranger navigating in private": [
        say("stranger", "/link"),
        say("stranger", "/skip"),
        say("stranger", "/back"),
    ],
    # A member writes the summary, then asks to be erased; the lead confirms it after the
    # deadline. Every digest of that week then fails (pandas merges a person_id column of
    # NULLs, the erased author's, with one of integers): the weekly one, each time the
    # schedule retries it, and a researcher's /digest.
    "summary agreed after its author was erased": [
        say("alice", "/meeting"),
        press("alice", "New meeting"),
        *(say("alice", text) for text in ("24/11/2026", "16:00", "https://meet.example/t")),
        say("alice", "Feedback"),
        press("alice", "Send the invitations"),
        wait(8 * 60),
        *(press("alice", label) for label in ("Record attendance", "Alice", "Bruno", "Done")),
        press("alice", "Ask Bruno"),
        press("bruno", "Start the summary"),
        press("bruno", "Keep the planned focus"),
        *(press("bruno", "Skip") for _ in range(3)),
        say("bruno", "Book looks"),
        *(press("bruno", label) for label in ("Skip", "No actions agreed", "Skip", "Skip")),
        press("bruno", "Send to the trio"),
        say("bruno", "/privacy"),
        press("bruno", "Erase my data"),
        press("bruno", "Yes, erase everything"),
        wait(5 * 24 * 60 + 120),
        say("alice", "/summary"),
        press("alice", "Confirm as agreed"),
        wait(3 * 24 * 60),
        say("dana", "/digest 2026-W48"),
    ],
    # Two messages sent while a flow sat idle for an hour, then Continue: both are applied
    # at once, each refused with the question asked again — four messages in a burst, and
    # Telegram refuses the fourth (429).
    "held messages answered at once": [
        say("alice", "/meeting"),
        press("alice", "New meeting"),
        wait(61),
        say("alice", "hello"),
        say("alice", "again"),
        press("alice", "Continue"),
    ],
}


@settings(
    max_examples=80,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=sequences(extras=12))
@example(steps=FOUND["digest of a week at the calendar's ends"])
@example(steps=FOUND["meeting in the last hour of year 9999"])
@example(steps=FOUND["research lesson in year 9999"])
@example(steps=FOUND["group link taken by another trio's lead"])
@example(steps=FOUND["stranger navigating in private"])
@example(steps=FOUND["held messages answered at once"])
@example(steps=FOUND["summary agreed after its author was erased"])
def test_generated_hostile_updates_never_break_or_leak(
    steps: list[Step], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        asyncio.run(play(steps))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.getMessage()}: {_raised(r)}" for r in errors]


def _raised(record: logging.LogRecord) -> str:
    """The exception a log record carries, and where it was raised."""
    if not record.exc_info or record.exc_info[1] is None:
        return "-"
    error = record.exc_info[1]
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{error!r}{where}"
