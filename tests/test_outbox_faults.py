"""The outbox keeps going through the faults operators meet: a database locked longer than
busy_timeout or full in the middle of a fan-out, a group upgraded to a supergroup, a message
Telegram refuses, two senders on one database. Nothing is lost, nothing sent twice."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import sqlite3
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.standin.request import StandInRequest
from bot.telegram.sender import OutboxSender
from storage.clock import utcnow
from storage.db import Database
from storage.outbox import OutboxRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test
from tests.test_scheduling import prompts_in, seed_people, start_rounds

TUESDAY_1545 = datetime(2026, 11, 24, 15, 45, tzinfo=UTC)


@pytest.fixture
async def quiet_bot(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async for running in bot_under_test(db_path, clock, demo=False):
        # Short waits so a test of a lock "longer than the patience" takes seconds.
        running.db.write_patience = 1.0
        await running.db.fetchval("PRAGMA busy_timeout = 200")
        running.db.busy_timeout_ms = 200
        yield running


async def queued_fan_out(bot: BotUnderTest, count: int) -> list[int]:
    """`count` teachers whose weekly prompts are all queued in the outbox, unsent."""
    people = await seed_people(bot, count)
    await start_rounds(bot)
    await bot.run_until(TUESDAY_1545 - timedelta(minutes=1))
    await bot.services.scheduler.run_due()
    bot.clock.advance(minutes=1)
    await bot.services.scheduler.run_due()
    pending = await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    assert pending == count
    return people


def after_sends(bot: BotUnderTest, count: int, fault: Callable[[], None]) -> None:
    """Call `fault` once Telegram has taken `count` messages (in the middle of a fan-out)."""
    original = bot.api.send_message
    taken = 0

    def send_message(p: dict[str, Any], files: Any) -> Any:
        nonlocal taken
        result = original(p, files)
        taken += 1
        if taken == count:
            fault()
        return result

    bot.api._methods["sendmessage"] = send_message


async def run_sender_until(bot: BotUnderTest, done: Callable[[], bool], within: float) -> None:
    """The sender's own loop, as the bot runs it, until `done()` (or fail after `within` s)."""
    stop = asyncio.Event()
    task = asyncio.create_task(bot.services.sender.run(stop, idle=0.05))
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not done():
            assert not task.done(), f"the sender ended: {task.exception()!r}"
            assert asyncio.get_running_loop().time() < deadline, "the outbox never caught up"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


def everyone_once(bot: BotUnderTest, people: list[int]) -> bool:
    return all(len(prompts_in(bot, chat)) >= 1 for chat in people)


async def test_a_lock_longer_than_busy_timeout_in_a_fan_out_is_waited_out(
    quiet_bot: BotUnderTest, locker: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    bot = quiet_bot
    people = await queued_fan_out(bot, 60)
    # After the 20th message another connection holds the write lock for 3 s: longer than
    # busy_timeout (0.2 s here) and than the write patience (1 s here).
    after_sends(bot, 20, lambda: locker.execute("BEGIN IMMEDIATE"))
    release = asyncio.get_running_loop().call_later(3.0, lambda: locker.execute("COMMIT"))
    with caplog.at_level(logging.WARNING):
        await run_sender_until(bot, lambda: everyone_once(bot, people), within=30)
    release.cancel()
    assert Counter(len(prompts_in(bot, chat)) for chat in people) == {1: 60}  # none twice
    assert bot.services.sender.stats.storage_errors >= 1
    assert "database unavailable" in caplog.text or "not yet recorded" in caplog.text
    left = await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status != 'sent'")
    assert left == 0


async def test_a_full_disk_in_a_fan_out_pauses_the_sender_until_space_is_freed(
    quiet_bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bot = quiet_bot
    people = await queued_fan_out(bot, 40)
    full = False

    # SQLite answers every write with SQLITE_FULL while the disk is full; aiosqlite runs
    # statements on its own thread, so the fault goes in at the Transaction.
    from storage import db as db_module

    original = db_module.Transaction.execute

    async def execute(self: db_module.Transaction, sql: str, params: Any = ()) -> int:
        if full and sql.lstrip().upper().startswith("UPDATE OUTBOX"):
            raise sqlite3.OperationalError("database or disk is full")
        return await original(self, sql, params)

    monkeypatch.setattr(db_module.Transaction, "execute", execute)

    def fill() -> None:
        nonlocal full
        full = True

    def free() -> None:
        nonlocal full
        full = False

    after_sends(bot, 15, fill)
    asyncio.get_running_loop().call_later(2.5, free)
    with caplog.at_level(logging.WARNING):
        await run_sender_until(bot, lambda: everyone_once(bot, people), within=30)
    assert Counter(len(prompts_in(bot, chat)) for chat in people) == {1: 40}
    assert "disk is full" in caplog.text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == 0


def _mount_small_tmpfs(folder: Path) -> bool:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return mounted.returncode == 0


async def test_a_really_full_disk_is_waited_out_and_nothing_is_lost(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The same on a real, full file system: a 4 MiB tmpfs filled up by another file."""
    folder = tmp_path / "small"
    if not _mount_small_tmpfs(folder):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected fault test covers it")
    try:
        async for bot in bot_under_test(folder / "triobot.db", clock, demo=False):
            bot.db.write_patience = 1.0
            people = await queued_fan_out(bot, 30)
            await bot.db.checkpoint()
            filler = folder / "filler"
            after_sends(bot, 10, functools.partial(_fill_disk, filler))
            asyncio.get_running_loop().call_later(2.5, filler.unlink)
            await run_sender_until(bot, functools.partial(everyone_once, bot, people), within=40)
            assert Counter(len(prompts_in(bot, chat)) for chat in people) == {1: 30}
            unsent = await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status != 'sent'")
            assert unsent == 0
    finally:
        _unmount(folder)


def _fill_disk(filler: Path) -> None:
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass  # ENOSPC: the disk is full now


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_a_group_upgraded_to_a_supergroup_is_followed(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    [teacher] = await seed_people(bot, 1)
    now = utcnow()
    async with bot.db.transaction() as tx:
        trio = await tx.execute(
            "INSERT INTO trio (ref, kind, name, created_at) VALUES ('T9', 'schools', 'Trio 9', ?)",
            (now.isoformat(),),
        )
        await tx.execute(
            "INSERT INTO trio_chat (trio_id, chat_id, linked_at) VALUES (?, -4001, ?)",
            (trio, now.isoformat()),
        )
        for n in range(3):
            await OutboxRepo.enqueue(tx, -4001, "notice", {"text": f"group {n}"}, now=bot.clock())
        await OutboxRepo.enqueue(tx, teacher, "notice", {"text": "to a person"}, now=bot.clock())
    bot.api.add_group(-4001, "Trio 9", [teacher])
    bot.api.upgrade_group(-4001, -1004001)
    for _ in range(5):
        await bot.services.sender.drain()
        bot.clock.advance(10)
    moved = [m.plain_text for m in bot.api.messages_in(-1004001)]
    assert moved == ["group 0", "group 1", "group 2"]
    assert [m.plain_text for m in bot.api.messages_in(teacher)] == ["to a person"]
    assert await bot.db.fetchval("SELECT chat_id FROM trio_chat WHERE trio_id = ?", (trio,)) == (
        -1004001
    )
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == 0
    assert bot.services.sender.stats.moved == 1
    assert len(bot.api.refusals) == 1  # one refused send, then the new id


async def test_a_message_that_cannot_be_sent_fails_alone(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    people = await seed_people(bot, 3)
    async with bot.db.transaction() as tx:
        await OutboxRepo.enqueue(tx, people[0], "notice", {"text": "<b>unclosed"}, now=bot.clock())
        await OutboxRepo.enqueue(tx, people[1], "notice", {"no": "text"}, now=bot.clock())
        await OutboxRepo.enqueue(tx, people[2], "notice", {"text": "fine"}, now=bot.clock())
    assert await bot.services.sender.drain() == 1
    assert [m.plain_text for m in bot.api.messages_in(people[2])] == ["fine"]
    failed = await bot.db.fetchall(
        "SELECT chat_id, last_error FROM outbox WHERE status = 'failed' ORDER BY id"
    )
    assert [row[0] for row in failed] == people[:2]
    assert "parse" in failed[0][1].lower()  # Telegram's own words, for `deliveries --failed`
    assert "KeyError" in failed[1][1]


async def test_two_senders_on_one_database_never_send_a_row_twice(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    people = await queued_fan_out(bot, 80)
    other_db = await Database.open(bot.settings.db_path)
    try:
        other_bot = Bot("123456:CONSOLE", request=StandInRequest(bot.api))
        await other_bot.initialize()
        other = OutboxSender(other_db, other_bot, clock=bot.clock, sleep=bot._sleep)
        ours = bot.services.sender
        first, second = await asyncio.gather(ours.drain(), other.drain())
        await other_bot.shutdown()
    finally:
        await other_db.close()
    assert first + second == 80
    assert first > 0 and second > 0  # both really sent
    received = Counter(len(prompts_in(bot, chat)) for chat in people)
    assert received == {1: 80}, received


def dead_pid() -> int:
    """The pid of a process that has ended on this host."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def test_a_claim_left_by_a_killed_sender_is_sent_after_restart(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    people = await queued_fan_out(bot, 5)
    # A sender on this host that died right after claiming a row (SIGKILL between claim
    # and send), its claim still far from expiring.
    row = await bot.db.fetchval("SELECT MIN(id) FROM outbox")
    far = datetime.now(UTC) + timedelta(minutes=30)
    gone = f"{socket.gethostname()}:{dead_pid()}:dead"
    assert await bot.services.outbox.claim(row, gone, far, bot.clock())
    await run_sender_until(bot, lambda: everyone_once(bot, people), within=10)
    assert Counter(len(prompts_in(bot, chat)) for chat in people) == {1: 5}


async def test_a_live_senders_claim_elsewhere_is_left_until_it_expires(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    people = await queued_fan_out(bot, 3)
    row = await bot.db.fetchval("SELECT MIN(id) FROM outbox")
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    assert await bot.services.outbox.claim(row, "other-host:4242:live", soon, bot.clock())
    claimed_chat = await bot.db.fetchval("SELECT chat_id FROM outbox WHERE id = ?", (row,))
    await bot.services.sender.drain()
    assert prompts_in(bot, claimed_chat) == []  # another sender's, for now
    await asyncio.sleep(1.6)
    released = await bot.services.outbox.release_stale(datetime.now(UTC))
    assert released == 1
    await bot.services.sender.drain()
    assert Counter(len(prompts_in(bot, chat)) for chat in people) == {1: 3}


async def test_a_bot_api_outage_pauses_the_sender_and_fails_no_row(
    quiet_bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    bot = quiet_bot
    people = await queued_fan_out(bot, 10)
    # 40 answers of 502 in a row: five times the attempts that fail a single row.
    bot.api.fail_next("sendMessage", 502, "Bad Gateway", times=40)
    with caplog.at_level(logging.WARNING):
        for _ in range(80):
            await bot.services.sender.drain()
            if everyone_once(bot, people):
                break
            bot.clock.advance(30)
    assert Counter(len(prompts_in(bot, chat)) for chat in people) == {1: 10}
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == 0
    assert "the Bot API is not answering" in caplog.text
    assert bot.services.sender.stats.network_errors == 40


async def test_a_write_cancelled_while_it_waits_for_the_lock_leaves_the_database_usable(
    quiet_bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    bot = quiet_bot
    locker.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with bot.db.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")

    waiting = asyncio.create_task(write())
    await asyncio.sleep(0.3)  # inside the wait for the lock
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    locker.execute("COMMIT")
    await write()  # not "cannot start a transaction within a transaction"
    assert await bot.db.fetchval("SELECT value FROM meta WHERE key = 'x'") == "y"
