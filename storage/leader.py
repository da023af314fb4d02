"""Which worker runs the periodic jobs (the scheduler's tick, the flow-expiry sweep, and
through the schedule the digests), when several share one PostgreSQL.

The leader holds a session-level advisory lock on a connection of its own, outside the pool.
The lock lives exactly as long as that session: when the leader's process dies, or its
connection does, PostgreSQL releases it and the next worker to try takes it. Every worker
tries (or, leading, checks its connection) every LEAD_EVERY seconds, so a new leader is
running within about that long. On SQLite there is one process per database (the lease):
it always leads.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import psycopg
from psycopg import AsyncConnection

from storage.db import Database
from storage.postgres import PostgresDatabase

log = logging.getLogger(__name__)
LEADER_LOCK = 7_240_003  # one-number advisory key (storage/postgres.py's are the others)
LEAD_EVERY = 3.0


class Leadership:
    def __init__(self, db: Database) -> None:
        self.url = db.url if isinstance(db, PostgresDatabase) else None
        self.leading = self.url is None
        self._conn: AsyncConnection[Any] | None = None

    async def check(self) -> bool:
        """Take the lead if it is free, or make sure we still hold it; whether we lead."""
        if self.url is None:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=5
                )
            if self.leading:
                await self._conn.execute("SELECT 1")  # the lock lives while this session does
            else:
                cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,))
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    self.leading = True
                    log.info("this worker now runs the periodic jobs (leader)")
        except psycopg.Error as exc:
            if self.leading:
                log.warning("leadership lost with its connection (%s)", exc)
            await self._drop()
        return self.leading

    async def _drop(self) -> None:
        self.leading = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
        self._conn = None

    async def close(self) -> None:
        """Step down (the lock goes with the session): another worker leads at its next try."""
        await self._drop()
        self.leading = self.url is None
