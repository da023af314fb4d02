"""The scheduler on its own: what happens to rows that fell due while the bot was down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.factory import build_application, running
from bot.scheduling.scheduler import Fired, Kind, Late, Scheduler
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from bot.telegram.context import Services
from storage.db import Database, Transaction
from storage.schedule import Due, ScheduleRepo
from tests.conftest import FakeClock
from tests.harness import settings_for

pytestmark = pytest.mark.both_stores

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def add(db: Database, kind: str, due: datetime, key: str, **payload: object) -> None:
    async with db.transaction() as tx:
        await ScheduleRepo.add(tx, kind, due, payload=dict(payload), dedupe_key=key)


async def statuses(db: Database) -> dict[str, tuple[str, str | None]]:
    rows = await db.fetchall("SELECT dedupe_key, status, note FROM schedule")
    return {r["dedupe_key"]: (r["status"], r["note"]) for r in rows}


async def test_each_kind_says_what_to_do_with_what_it_missed(db: Database) -> None:
    fired: list[str] = []

    async def record(tx: Transaction, due: Due, now: datetime) -> Fired:
        fired.append(due.dedupe_key or "")
        return Fired()

    kinds = {
        "late_ok": Kind(record, late=Late.SEND_LATE),
        # "The meeting starts in an hour" is pointless once the meeting has started.
        "meeting_soon": Kind(record, late=Late.DROP_STALE, stale_after=timedelta(minutes=50)),
        # Of a trio's missed weekly digests, only the newest is worth sending.
        "digest": Kind(record, late=Late.LATEST_ONLY, series=lambda d: str(d.payload["trio"])),
    }
    clock = FakeClock(T0)
    await add(db, "late_ok", T0 - timedelta(hours=30), "late")
    await add(db, "meeting_soon", T0 - timedelta(hours=2), "stale")
    await add(db, "meeting_soon", T0 - timedelta(minutes=10), "fresh")
    for week, trio in ((1, "a"), (2, "a"), (3, "a"), (2, "b")):
        await add(db, "digest", T0 - timedelta(days=7 * (4 - week)), f"d{week}{trio}", trio=trio)
    await add(db, "late_ok", T0 + timedelta(minutes=1), "future")
    await add(db, "mystery", T0 - timedelta(minutes=1), "unknown kind")

    report = await Scheduler(db, kinds, clock=clock).run_due()

    assert sorted(fired) == ["d2b", "d3a", "fresh", "late"]
    found = await statuses(db)
    assert found["stale"][0] == "dropped" and "stale" in (found["stale"][1] or "")
    assert found["d1a"] == ("dropped", "superseded by a later one")
    assert found["d2a"] == ("dropped", "superseded by a later one")
    assert found["future"][0] == "pending"
    assert found["unknown kind"][0] == "failed"
    assert (report.fired, report.dropped, report.failed) == (4, 3, 1)


async def test_a_failing_handler_is_retried_then_given_up_without_blocking_others(
    db: Database,
) -> None:
    calls: list[str] = []

    async def flaky(tx: Transaction, due: Due, now: datetime) -> Fired:
        calls.append(due.dedupe_key or "")
        await tx.execute("INSERT INTO meta (key, value) VALUES (?, 'written')", (due.dedupe_key,))
        if due.dedupe_key == "bad":
            raise RuntimeError("boom")
        return Fired()

    clock = FakeClock(T0)
    await add(db, "k", T0, "bad")
    await add(db, "k", T0, "good")
    scheduler = Scheduler(db, {"k": Kind(flaky)}, clock=clock)
    for _ in range(4):
        await scheduler.run_due()
    assert calls.count("good") == 1
    assert calls.count("bad") == 3  # MAX_ATTEMPTS, then failed for a person to look at
    found = await statuses(db)
    assert found["bad"][0] == "failed" and "boom" in (found["bad"][1] or "")
    # The failed attempts' own writes were rolled back; the good one's committed with it.
    keys = {r[0] for r in await db.fetchall("SELECT key FROM meta")}
    assert "good" in keys and "bad" not in keys


async def test_a_postponing_handler_moves_the_row_instead_of_firing(db: Database) -> None:
    later = T0 + timedelta(hours=10)

    async def not_now(tx: Transaction, due: Due, now: datetime) -> Fired:
        return Fired(until=later, note="quiet hours") if now < later else Fired()

    clock = FakeClock(T0)
    await add(db, "k", T0, "row")
    scheduler = Scheduler(db, {"k": Kind(not_now)}, clock=clock)
    assert (await scheduler.run_due()).postponed == 1
    due_at = await db.fetchval("SELECT due_at FROM schedule")
    assert due_at.startswith("2026-11-23T19:00")
    clock.advance(hours=10)
    assert (await scheduler.run_due()).fired == 1


async def test_the_running_bot_arms_apscheduler_without_its_misfire_default(
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0)
    api = FakeTelegram(clock=clock.monotonic)
    app = build_application(
        settings_for(tmp_path / "jobs.db"), request=StandInRequest(api), clock=clock
    )
    async with running(app):
        assert app.job_queue is not None
        jobs = {job.name: job for job in app.job_queue.jobs()}
        assert {"schedule", "schedule-catch-up", "flow-expiry"} <= set(jobs)
        # None = run however late: the schedule table's policies decide, not APScheduler.
        assert jobs["schedule"].job.misfire_grace_time is None
        services: Services = app.bot_data
        rounds = await services.db.fetchval(
            "SELECT COUNT(*) FROM schedule WHERE kind = 'reflection_round'"
        )
        assert rounds >= 1
