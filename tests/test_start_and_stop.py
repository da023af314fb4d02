"""Starting and stopping the real `triobot run` as an operator meets it: a Bot API that
refuses the cosmetic, is away, or is the wrong URL; a second process on the same database;
SIGTERM in the middle of a fan-out, with the database locked too; a second signal."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.standin.http import StandInServer, TransportFault
from storage.clock import utcnow
from storage.db import Database
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from tests.botprocess import (
    SIGNALS,
    TOKEN,
    assert_clean_exit,
    bot_process,
    stand_in_server,
    start_bot,
    until,
)

# SIGTERM to exit: 5 s and one request in flight (the stand-in answers at once), and the
# time Python takes to start and stop on a busy 2-core machine.
STOP_LIMIT = 6.5


async def queue_messages(db_path: Path, server: StandInServer, count: int) -> list[int]:
    """`count` teachers who started the bot, each with one message waiting in the outbox."""
    db = await Database.open(db_path)
    ids = list(range(9000, 9000 + count))
    try:
        async with db.transaction() as tx:
            for user_id in ids:
                person = await PeopleRepo.create(
                    tx, telegram_id=user_id, school_id=None, role="teacher", status="active"
                )
                await OutboxRepo.enqueue(
                    tx,
                    user_id,
                    "notice",
                    {"text": f"notice {user_id}"},
                    now=utcnow(),
                    person_id=person,
                )
    finally:
        await db.close()
    for user_id in ids:
        server.api.add_user(user_id, f"T{user_id}")
        server.api.started.add(user_id)
    return ids


async def outbox_statuses(db_path: Path) -> dict[str, int]:
    db = await Database.open(db_path)
    try:
        return await OutboxRepo(db).counts()
    finally:
        await db.close()


def menu_502(server: StandInServer) -> None:
    server.api.fail_next("setMyCommands", 502, "Bad Gateway")


def menu_404(server: StandInServer) -> None:
    server.api.fail_next("setMyCommands", 404, "Not Found")


def menu_timeout(server: StandInServer) -> None:
    server.transport_faults.append(TransportFault("timeout", "setMyCommands", 8.0, 1))


@pytest.mark.parametrize("fault", [menu_502, menu_404, menu_timeout], ids=["502", "404", "timeout"])
async def test_a_command_menu_the_bot_api_refuses_is_a_warning_and_retried(
    tmp_path: Path, fault: Callable[[StandInServer], None]
) -> None:
    async with stand_in_server() as (server, url):
        fault(server)
        async with bot_process(url, tmp_path / "bot.db") as bot:
            await bot.wait_for("running: polling")
            line = await bot.wait_for("command menu not registered")
            assert "trying again in" in line
            # It serves people meanwhile, and the menu arrives on a later try.
            server.api.add_user(77, "Bruno")
            server.api.push_update(server.api.text(77, "/help"))
            await bot.wait_for("command menu registered", within=30)
            assert server.api.commands
            assert server.api.messages_in(77)
            assert await bot.stop() < STOP_LIMIT
        assert bot.process.returncode == 0
        assert TOKEN.split(":")[1] not in bot.output


async def test_a_wrong_api_url_says_so_in_one_line(tmp_path: Path) -> None:
    async with (
        stand_in_server() as (_, url),
        bot_process(f"{url}/wrong/path", tmp_path / "bot.db") as bot,
    ):
        assert await bot.exit_code() == 2
    assert "TELEGRAM_API_URL looks wrong" in bot.output
    assert "404" in bot.output
    assert "token was rejected" not in bot.output.lower()
    assert_clean_exit(bot.output)


async def test_a_rejected_token_says_so_in_one_line(tmp_path: Path) -> None:
    async with stand_in_server() as (server, url):
        server.api.fail_next("getMe", 401, "Unauthorized")
        async with bot_process(url, tmp_path / "bot.db") as bot:
            assert await bot.exit_code() == 2
    assert "The token was rejected by the server" in bot.output
    assert "TELEGRAM_API_URL looks wrong" not in bot.output
    assert_clean_exit(bot.output)


async def test_an_unreachable_bot_api_is_logged_at_every_retry(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here once it is closed
    url = f"http://127.0.0.1:{closed_port}"
    async with bot_process(url, tmp_path / "bot.db") as bot:
        first = await bot.wait_for("not answering")
        second = await bot.wait_for("trying again in 2 s", within=10)
        for line in (first, second):
            assert f"{url}/bot<token>/getMe" in line
        assert await bot.stop() < STOP_LIMIT
    assert bot.process.returncode == 0
    assert TOKEN.split(":")[1] not in bot.output
    assert_clean_exit(bot.output)


async def test_a_getme_that_keeps_failing_is_logged_and_then_the_bot_starts(
    tmp_path: Path,
) -> None:
    async with stand_in_server() as (server, url):
        server.api.fail_next("getMe", 502, "Bad Gateway", times=3)
        async with bot_process(url, tmp_path / "bot.db") as bot:
            await bot.wait_for("(HTTP 502)")
            await bot.wait_for("running: polling", within=20)
            assert sum("not answering" in line for line in bot.lines) == 3
            await bot.stop()


async def test_a_second_bot_on_the_same_database_refuses_and_a_killed_one_does_not_block(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "bot.db"
    async with stand_in_server() as (_, url), bot_process(url, db_path) as first:
        await first.wait_for("running: polling")
        async with bot_process(url, db_path) as second:
            assert await second.exit_code() == 2
        assert "another triobot holds this database" in second.output
        assert f"pid {first.process.pid}" in second.output
        assert_clean_exit(second.output)
        # An operator's SIGKILL (or the OOM killer): no clean release of the lease.
        first.process.send_signal(signal.SIGKILL)
        await first.exit_code()
        async with bot_process(url, db_path) as third:
            await third.wait_for("running: polling")
            assert "took over the lease of a stopped process" in third.output
            await third.stop()
        assert third.process.returncode == 0


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
async def test_a_stop_signal_in_a_fan_out_ends_within_the_bound_and_keeps_the_rest(
    tmp_path: Path, sig: signal.Signals
) -> None:
    db_path = tmp_path / "bot.db"
    async with stand_in_server() as (server, url):
        people = await queue_messages(db_path, server, 400)
        async with bot_process(url, db_path) as bot:
            await bot.wait_for("running: polling")
            await until(lambda: sum(len(server.api.messages_in(p)) for p in people) >= 30)
            took = await bot.stop(sig)
        sent_before_stop = sum(len(server.api.messages_in(p)) for p in people)
    assert took < STOP_LIMIT, bot.output
    print(f"{sig.name} mid-fan-out: exited {took:.2f} s after the signal")
    assert bot.process.returncode == 0
    assert_clean_exit(bot.output)
    statuses = await outbox_statuses(db_path)
    # The rest stays queued, none left claimed, each row sent at most once.
    assert statuses.get("sending", 0) == 0
    assert statuses["sent"] == sent_before_stop
    assert statuses["pending"] == 400 - sent_before_stop > 300
    assert "stopped in" in bot.output


async def test_a_stop_while_the_database_is_locked_still_ends_within_the_bound(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "bot.db"
    async with stand_in_server() as (server, url):
        people = await queue_messages(db_path, server, 300)
        async with bot_process(url, db_path) as bot:
            await bot.wait_for("running: polling")
            await until(lambda: sum(len(server.api.messages_in(p)) for p in people) >= 20)
            locker = sqlite3.connect(db_path, isolation_level=None)
            locker.execute("BEGIN IMMEDIATE")
            try:
                await asyncio.sleep(3)  # the sender meets the lock
                took = await bot.stop()
            finally:
                locker.execute("ROLLBACK")
                locker.close()
    assert took < STOP_LIMIT, bot.output
    print(f"SIGTERM with the database locked: exited {took:.2f} s after the signal")
    assert bot.process.returncode == 0
    assert_clean_exit(bot.output)
    statuses = await outbox_statuses(db_path)
    assert statuses.get("pending", 0) + statuses.get("sending", 0) > 0  # kept for next start


async def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
    async with stand_in_server() as (server, url):
        await queue_messages(db_path, server, 100)
        async with bot_process(url, db_path) as bot:
            await bot.wait_for("running: polling")
            locker = sqlite3.connect(db_path, isolation_level=None)
            locker.execute("BEGIN IMMEDIATE")  # so the first stop has something to wait for
            try:
                bot.process.send_signal(signal.SIGTERM)
                await bot.wait_for("stopping (a second signal exits at once)")
                took = await bot.stop(signal.SIGTERM)
            finally:
                locker.execute("ROLLBACK")
                locker.close()
    assert took < 1.5
    assert bot.process.returncode == 130
    assert "second SIGTERM: exiting now" in bot.output


async def test_start_bot_helper_runs_the_cli(tmp_path: Path) -> None:
    """The helper above really runs `triobot run` (not the console)."""
    async with stand_in_server() as (_, url):
        bot = await start_bot(url, tmp_path / "bot.db")
        try:
            await bot.wait_for("running: polling")
        finally:
            await bot.stop()


async def test_a_stop_while_polling_cannot_start_ends_at_once(tmp_path: Path) -> None:
    """deleteWebhook keeps failing, so polling never starts (PTB retries it for ever): the
    first SIGTERM still stops the bot."""
    async with stand_in_server() as (server, url):
        server.api.fail_next("deleteWebhook", 502, "Bad Gateway", times=10_000)
        async with bot_process(url, tmp_path / "bot.db") as bot:
            await until(lambda: server.api.calls["deleteWebhook"] >= 2, within=20)
            took = await bot.stop()
    assert took < STOP_LIMIT
    assert bot.process.returncode == 0
    assert "running: polling" not in bot.output
    assert_clean_exit(bot.output)


async def test_a_database_locked_at_start_is_waited_out(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
    db = await Database.open(db_path)
    await db.close()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        async with stand_in_server() as (_, url), bot_process(url, db_path) as bot:
            line = await bot.wait_for("database unavailable at start", within=30)
            assert "trying again in" in line
            locker.execute("ROLLBACK")
            await bot.wait_for("running: polling", within=30)
            assert await bot.stop() < STOP_LIMIT
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
    assert bot.process.returncode == 0
    assert_clean_exit(bot.output)


async def test_a_stop_signal_while_the_process_is_still_starting_is_a_clean_stop(
    tmp_path: Path,
) -> None:
    """SIGTERM in the first half second (Python importing PTB), before the event loop's own
    handlers exist: noted and honoured, exit 0, rather than the default death by signal."""
    async with stand_in_server() as (_, url):
        bot = await start_bot(url, tmp_path / "bot.db")
        await asyncio.sleep(0.4)
        took = await bot.stop()
    assert bot.process.returncode == 0, bot.output
    assert took < STOP_LIMIT
    assert_clean_exit(bot.output)
