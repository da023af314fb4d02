"""Advisory locks on PostgreSQL: the keys every worker uses, and a person's turn.

pg_advisory_lock keys, one number per purpose, the same in every worker: storage/postgres.py's
MIGRATE_LOCK (7_240_001), storage/leader.py's LEADER_LOCK (7_240_003), and here the two-number
keys (a key space of their own) of people's turns: (PERSON_LOCKS, person id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection

PERSON_LOCKS = 7_240_002


@asynccontextmanager
async def person_turn(conn: AsyncConnection[Any], person: int | None) -> AsyncIterator[bool]:
    """Try to take the person's advisory lock, BEFORE the transaction begins, and hold it
    around it. Yields True while held (and at once when `person` is None: nothing to take),
    False when another worker holds it: the caller then waits outside its process's turn and
    tries again (storage/postgres.py), so a worker never stands still while someone else's
    turn lasts.

    Not pg_advisory_xact_lock inside the transaction: a SERIALIZABLE transaction takes its
    snapshot at its first statement, so one that waited there for the lock would still see
    the flow state as it was before the other worker's commit, and fail to serialise on
    writing it. Taken first (the connection is in autocommit), the snapshot comes after."""
    if person is None:
        yield True
        return
    key = (PERSON_LOCKS, person & 0x7FFFFFFF)  # a rare shared key only makes two wait
    try:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        row = await cursor.fetchone()
    except BaseException:
        await conn.close()  # cancelled on the way: the lock must not stay on a pooled one
        raise
    if row is None or not row[0]:
        yield False
        return
    try:
        yield True
    finally:
        if not conn.closed:
            try:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            except psycopg.Error:
                await conn.close()  # the session's end releases it; the pool drops it
            except BaseException:
                await conn.close()
                raise
