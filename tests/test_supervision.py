"""Background loops never die silently: a loop that fails or ends is logged and started
again after a growing pause; a periodic job that fails backs off and comes back; the one
instance lease names its holder, frees when its process is gone, and is not stolen."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.console import run_console
from bot.scheduling.supervision import Backoff, guarded_job, supervise
from storage.clock import utcnow
from storage.db import Database, StorageUnavailable
from storage.lease import LEASE_TTL, Lease, LeaseHeld, LeaseLost, check_free, real_now
from tests.harness import settings_for


async def test_a_loop_that_fails_is_restarted_and_each_restart_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    third_run = asyncio.Event()
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("row 7 (reflection) broke")
        if runs == 2:
            return  # ended by itself, as a loop must not
        third_run.set()
        await stop.wait()

    with caplog.at_level(logging.INFO):
        task = asyncio.create_task(
            supervise("outbox sender", flaky, stop, backoff=Backoff(first=0.01, most=0.02))
        )
        await asyncio.wait_for(third_run.wait(), timeout=1)
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    assert "outbox sender failed; restarting it" in caplog.text
    assert "row 7 (reflection) broke" in caplog.text  # the traceback is logged
    assert "outbox sender ended by itself; restarting it" in caplog.text
    assert caplog.text.count("outbox sender restarted") == 2


async def test_a_finite_job_is_not_restarted_once_done() -> None:
    stop = asyncio.Event()
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    await asyncio.wait_for(supervise("menu", once, stop, finite=True), timeout=1)
    assert runs == 1


def test_backoff_grows_to_its_ceiling_and_resets() -> None:
    backoff = Backoff(first=1.0, most=8.0)
    waits = [backoff.next() for _ in range(6)]
    for wait, expected in zip(waits, (1, 2, 4, 8, 8, 8), strict=True):
        assert expected * 0.9 <= wait <= expected * 1.1  # doubling, with 10% jitter
    backoff.reset()
    assert backoff.next() <= 1.1


async def test_a_periodic_job_backs_off_after_a_database_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    @guarded_job("schedule tick", first=0.2, most=1.0)
    async def tick(context: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StorageUnavailable("database is locked")

    with caplog.at_level(logging.INFO):
        await tick(None)  # fails: paused
        await tick(None)  # skipped: within the pause
        assert calls == 1
        await asyncio.sleep(0.25)
        await tick(None)
    assert calls == 2
    assert "schedule tick paused: database unavailable (database is locked)" in caplog.text
    assert "schedule tick running again" in caplog.text


async def test_the_lease_names_its_holder_and_is_not_taken_while_alive(db: Database) -> None:
    first = Lease(db, holder="host-a:1:aa")
    first.host = "host-a"  # as if on another machine: no pid check can free it
    await first.acquire()
    second = Lease(db)
    with pytest.raises(LeaseHeld) as held:
        await second.acquire()
    assert "pid" in str(held.value) and "host-a" in str(held.value)
    # Once it expires (its holder stopped renewing), it is free.
    later = real_now() + LEASE_TTL + timedelta(seconds=1)
    await second.acquire(now=later)
    with pytest.raises(LeaseLost):
        await first.renew(now=later)


async def test_the_console_refuses_beside_a_running_bot(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "bot.db")
    db = await Database.open(settings.db_path)
    try:
        holder = Lease(db, holder="elsewhere:1:bb")
        holder.host = "elsewhere"
        await holder.acquire()
    finally:
        await db.close()

    class NoInput:
        def isatty(self) -> bool:
            return False

        def readline(self) -> str:
            return ""

    with pytest.raises(LeaseHeld):
        await run_console(settings, clock=utcnow, stdin=NoInput(), out=io.StringIO())  # type: ignore[arg-type]


async def test_the_lease_is_checked_before_the_database_is_opened_to_migrate(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    check_free(path)  # no database yet: free
    db = await Database.open(path)
    try:
        check_free(path)  # a database, no lease: free
        holder = Lease(db, holder="elsewhere:1:cc")
        holder.host = "elsewhere"
        await holder.acquire()
    finally:
        await db.close()
    with pytest.raises(LeaseHeld):
        check_free(path)
