"""The instance lease on each store: one bot per SQLite file; a lease per worker on
PostgreSQL, where several workers share the database by design."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.leader import Leadership
from storage.lease import Lease, LeaseHeld, lease_name, live_workers
from storage.store import open_store
from tests.conftest import FakeClock

pytestmark = pytest.mark.both_stores


async def test_a_second_bot_on_sqlite_is_refused_and_workers_on_postgresql_each_hold_theirs(
    db: Database, db_path: str, clock: FakeClock
) -> None:
    other = await open_store(db_path, clock=clock)
    try:
        first = Lease(db, lease_name(db))
        await first.acquire()
        second = Lease(other, lease_name(other))
        if db.dialect == "sqlite":
            with pytest.raises(LeaseHeld):
                await second.acquire()
            assert await live_workers(db) == []
        else:
            await second.acquire()
            holders = [worker.holder for worker in await live_workers(db)]
            assert sorted(holders) == sorted([first.holder, second.holder])
            await second.release()  # a clean stop: its row goes
            assert [worker.holder for worker in await live_workers(db)] == [first.holder]
    finally:
        await other.close()


async def test_the_one_sqlite_process_always_leads(db: Database) -> None:
    leader = Leadership(db)
    assert await leader.check() is True
    await leader.close()
    # On PostgreSQL the lock went with the session: the next to try takes it.
    again = Leadership(db)
    assert await again.check() is True
    await again.close()
