"""Hostile input: thousands of generated updates interleaved with real flows.

Each example starts a bot with a joined trio (Alice the lead, Bruno, Carmen) and a stranger,
then plays a generated sequence: random Unicode and oversize text, commands with junk
arguments, stickers, photos, documents, voice notes, locations, edited messages, taps on real
buttons old and new, forged callback data, other people's genuine buttons replayed from
one's own chat, and messages in a group. After every update it checks:
  * no handler raised (the error handler would log at ERROR),
  * Telegram refused nothing the bot tried (the stand-in is strict; `fail_on_refusal`),
  * a private message got a reply, and every button tap got its callback answered,
  * nobody's data changed but the sender's own — and a stranger or a forged button
    changed nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.standin.driver import SimPerson
from storage.db import Database
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join

PEOPLE = {"alice": (301, "DEMOALICE"), "bruno": (302, "DEMOBRUNO"), "carmen": (303, "DEMOCARMEN")}
STRANGER = 399
GROUP = -100555
ACTORS = (*PEOPLE, "stranger")
COMMANDS = (
    "/start",
    "/start DEMOALICE",
    "/start ' OR 1=1 --",
    "/help me",
    "/settings now please",
    "/privacy ../../etc/passwd",
    "/reflect <b>bold</b>",
    "/status all",
    "/invite teacher T-99",
    "/cancel twice",
    "/nonsense",
    "/start@triobot_test_bot",
)
# Tables whose rows belong to one person, and how to find whose.
OWNED = {
    "person": "id",
    "consent": "person_id",
    "person_role": "person_id",
    "flow_state": "person_id",
    "reflection": "person_id",
    "trio_member": "person_id",
}

texts = st.one_of(
    st.text(min_size=1, max_size=200).filter(str.strip),
    st.sampled_from(COMMANDS),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3).filter(str.strip), st.just(2500)),
    st.sampled_from(["yes", "1", "2026-12-01", "16:00", "Europe/London", "no", "back", "skip"]),
)
actions = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(ACTORS), texts),
    st.tuples(
        st.sampled_from(["sticker", "photo", "document", "voice", "location"]),
        st.sampled_from(ACTORS),
        st.none(),
    ),
    st.tuples(st.just("edit"), st.sampled_from(ACTORS), texts),
    st.tuples(st.just("tap"), st.sampled_from(ACTORS), st.integers(0, 50)),
    st.tuples(
        st.just("forged"),
        st.sampled_from(ACTORS),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64),
    ),
    st.tuples(st.just("replay"), st.sampled_from(ACTORS), st.integers(0, 50)),
    st.tuples(st.just("group"), st.sampled_from(ACTORS), texts),
)


async def snapshot(db: Database) -> dict[tuple[str, int | None], list[tuple[Any, ...]]]:
    """Every owned row, grouped by (table, owner); plus everything else under owner None."""
    found: dict[tuple[str, int | None], list[tuple[Any, ...]]] = {}
    for table, owner in OWNED.items():
        for row in await db.fetchall(f"SELECT * FROM {table}"):
            values = tuple(row)
            if table == "flow_state":
                # updated_at/expiry move when the owner writes; they are still the owner's.
                values = tuple(v for k, v in zip(row.keys(), row, strict=True) if k != "id")
            found.setdefault((table, row[owner]), []).append(values)
    for key in found:
        found[key].sort(key=repr)
    for table in ("invite", "invite_use", "outbox", "schedule", "trio", "school"):
        rows = await db.fetchall(f"SELECT * FROM {table}")
        found[(table, None)] = sorted((tuple(r) for r in rows), key=repr)
    return found


async def person_ids(db: Database) -> dict[int, int]:
    rows = await db.fetchall("SELECT telegram_id, id FROM person WHERE telegram_id IS NOT NULL")
    return {r[0]: r[1] for r in rows}


def buttons_in(bot: BotUnderTest, chat: int) -> list[tuple[int, str]]:
    return [
        (m.message_id, data)
        for m in bot.api.messages_in(chat)
        for row in m.buttons
        for _, data in row
        if data
    ]


async def play(steps: list[tuple[str, str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
        async for bot in bot_under_test(Path(tmp) / "hostile.db", clock):
            people: dict[str, SimPerson] = {}
            for name, (uid, code) in PEOPLE.items():
                people[name] = bot.person(uid, name.title())
                await join(people[name], code)
            people["stranger"] = bot.person(STRANGER, "Mallory")
            bot.api.add_group(GROUP, "Trio chat", [uid for uid, _ in PEOPLE.values()] + [STRANGER])
            for step in steps:
                await one_step(bot, people, step)


async def one_step(
    bot: BotUnderTest, people: dict[str, SimPerson], step: tuple[str, str, Any]
) -> None:
    kind, actor, value = step
    who = people[actor]
    chat = who.user_id
    ids = await person_ids(bot.db)
    me = ids.get(chat)
    before = await snapshot(bot.db)
    sent_before = len(bot.api.messages_in(chat))
    edits_before = sum(m.edits for m in bot.api.messages_in(chat))
    answers_before = len(bot.api.answers)
    reply_due = False
    callback = False
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
    elif kind in ("tap", "replay"):
        source = chat if kind == "tap" else people[_other(actor)].user_id
        found = buttons_in(bot, source)
        if not found:
            return
        message_id, data = found[value % len(found)]
        if kind == "replay":  # another person's genuine button, sent from my own chat
            own = bot.api.messages_in(chat)
            if not own:
                return
            message_id = own[-1].message_id
        await who.taps_data(data, message_id=message_id)
        callback = True
    elif kind == "forged":
        own = bot.api.messages_in(chat)
        if not own:
            return
        await who.taps_data(value, message_id=own[-1].message_id)
        callback = True
    elif kind == "group":
        await who.says(value, chat_id=GROUP)
    after = await snapshot(bot.db)

    if reply_due:
        edits_after = sum(m.edits for m in bot.api.messages_in(chat))
        assert len(bot.api.messages_in(chat)) > sent_before or edits_after > edits_before, step
    if callback:
        assert len(bot.api.answers) > answers_before, ("callback never answered", step)
        assert not bot.api.open_queries, step
    untouchable = {k for k in before.keys() | after.keys() if k[1] is not None and k[1] != me}
    if me is None or kind in ("forged", "replay", "group"):
        # Strangers, forged and foreign buttons, group chatter: nothing anyone owns changes,
        # and only the sender's own flow bookkeeping may move for a replayed foreign button.
        untouchable |= {k for k in before.keys() | after.keys() if k[1] is not None}
        if kind == "replay" and me is not None:
            untouchable -= {("flow_state", me)}
    for key in untouchable:
        assert before.get(key) == after.get(key), (step, key, before.get(key), after.get(key))
    if me is None:
        assert before == after, step


def _other(actor: str) -> str:
    order = list(PEOPLE)
    if actor not in order:
        return order[0]
    return order[(order.index(actor) + 1) % len(order)]


@settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(actions, min_size=15, max_size=45))
def test_generated_hostile_updates_never_break_or_leak(
    steps: list[tuple[str, str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        asyncio.run(play(steps))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
