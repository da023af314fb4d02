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
async def person_turn(conn: AsyncConnection[Any], person: int | None) -> AsyncIterator[None]:
    """Hold the person's advisory lock around the transaction, taken BEFORE it begins.

    Not pg_advisory_xact_lock inside it: a SERIALIZABLE transaction takes its snapshot at
    its first statement, so one that waited there for the lock would still see the flow
    state as it was before the other worker's commit, and fail to serialise on writing it.
    Taken first (the connection is in autocommit), the snapshot comes after the wait."""
    if person is None:
        yield
        return
    key = (PERSON_LOCKS, person & 0x7FFFFFFF)  # a rare shared key only makes two wait
    try:
        await conn.execute("SELECT pg_advisory_lock(%s, %s)", key)
    except BaseException:
        await conn.close()  # cancelled while waiting: the lock must not stay on a pooled one
        raise
    try:
        yield
    finally:
        if not conn.closed:
            try:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            except psycopg.Error:
                await conn.close()  # the session's end releases it; the pool drops it
            except BaseException:
                await conn.close()
                raise
