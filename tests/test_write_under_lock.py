"""A teacher writes while another connection holds the database's write lock: a short lock
is waited out and the answer kept; a long one gets a plain "not saved, send it again",
nothing half-written, and the same words sent again are kept."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.harness import BotUnderTest, join

REFLECTION = "Wait time after questions doubled the hands up."


async def reflections(bot: BotUnderTest) -> list[str]:
    rows = await bot.db.fetchall("SELECT answer FROM reflection WHERE prompt = 'free'")
    return [row[0] for row in rows]


async def test_a_lock_shorter_than_the_patience_is_waited_out(
    bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    alice = bot.person(101, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/reflect")
    assert "free reflection" in alice.last_text
    bot.db.write_patience = 3.0
    locker.execute("BEGIN IMMEDIATE")  # an operator's long query, 1.5 s
    asyncio.get_running_loop().call_later(1.5, lambda: locker.execute("COMMIT"))
    started = asyncio.get_running_loop().time()
    replies = await alice.says(REFLECTION)
    waited = asyncio.get_running_loop().time() - started
    assert 1.4 < waited < 3.0
    assert "not kept" not in " ".join(m.plain_text for m in replies)
    assert any(REFLECTION in answer for answer in await reflections(bot))


async def test_a_lock_longer_than_the_patience_says_plainly_it_was_not_saved(
    bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    alice = bot.person(101, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/reflect")
    bot.db.write_patience = 1.0
    locker.execute("BEGIN IMMEDIATE")
    try:
        replies = await alice.says(REFLECTION)
    finally:
        locker.execute("COMMIT")
    [reply] = replies
    assert "not kept" in reply.plain_text and "send it again" in reply.plain_text
    assert "something went wrong" not in reply.plain_text.lower()
    assert await reflections(bot) == []  # nothing half-written
    # Once the lock is gone, the same words sent again are kept, in the same flow.
    await alice.says(REFLECTION)
    assert any(REFLECTION in answer for answer in await reflections(bot))


async def test_the_not_saved_reply_is_in_the_persons_language(
    bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    ana = bot.person(101, "Ana", "es")
    await join(ana, "DEMOALICE", consent="Sí", language="Español")
    await ana.says("/reflect")
    bot.db.write_patience = 0.5
    locker.execute("BEGIN IMMEDIATE")
    try:
        [reply] = await ana.says("Esperar después de preguntar ayudó.")
    finally:
        locker.execute("COMMIT")
    assert "no se ha guardado" in reply.plain_text
