"""Which transaction a piece of work takes, where several workers share one PostgreSQL.

On SQLite there is one writer at a time (BEGIN IMMEDIATE) and one process per database (the
lease): every transaction is already everyone's turn, and these are plain `transaction()`.
On PostgreSQL, with N `triobot run` processes behind one webhook:
- `person_transaction`: one person's updates take turns across workers (an advisory lock
  on the person, taken before the transaction begins: storage/postgres.py), so two messages
  of theirs handled by two workers at once are both answered, one after the other, rather
  than one failing to serialise;
- `claim_transaction`: READ COMMITTED, for `SELECT … FOR UPDATE SKIP LOCKED` claims of
  schedule and outbox rows: a row another worker is claiming is skipped, not waited for.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import psycopg

from storage import postgres_sql
from storage.db import Database, StorageUnavailable, Transaction, is_transient
from storage.postgres import PostgresDatabase

T = TypeVar("T")

# How many times work that met another worker's conflicting transaction is done again at
# once, before the conflict is the caller's (PostgreSQL's documentation: applications at
# SERIALIZABLE "must be prepared to retry transactions due to serialization failures").
CONFLICT_TRIES = 8
# The pause before the second try is random up to this; it doubles with each try (capped),
# so that a crowd that collided (a school's teachers joining in the same second) spreads out.
CONFLICT_PAUSE = 0.03
CONFLICT_PAUSE_MAX = 0.5


def person_transaction(db: Database, person_id: int) -> AbstractAsyncContextManager[Transaction]:
    if isinstance(db, PostgresDatabase):
        return db.transaction(person=person_id)
    return db.transaction()


def claim_transaction(db: Database) -> AbstractAsyncContextManager[Transaction]:
    if isinstance(db, PostgresDatabase):
        return db.transaction(isolation="read committed")
    return db.transaction()


def transient(exc: BaseException) -> bool:
    """A statement's failure that is the database's situation on either store (locked,
    full, connection lost, a conflict with another worker), not the work's: the whole
    transaction is to be tried again later."""
    if isinstance(exc, sqlite3.Error):
        return is_transient(exc)
    return isinstance(exc, psycopg.Error) and postgres_sql.is_transient(exc)


def conflicted(exc: BaseException) -> bool:
    """StorageUnavailable because another worker's transaction conflicted (PostgreSQL's
    serialization failure or deadlock): nothing was kept, and trying again at once may do."""
    return getattr(exc.__cause__, "sqlstate", None) in ("40001", "40P01")


async def retry_conflicts(
    work: Callable[[], Awaitable[T]],
    *,
    tries: int = CONFLICT_TRIES,
    may_retry: Callable[[], bool] = lambda: True,
) -> T:
    """`work` (which opens its own transactions), done again after a short random pause
    while it fails only because another worker's transaction conflicted with it: nothing of
    that try was kept. `may_retry`: False once the try did something that must not happen
    twice (a message already sent), and the conflict is then the caller's."""
    for attempt in range(1, tries + 1):
        try:
            return await work()
        except StorageUnavailable as exc:
            if attempt == tries or not conflicted(exc) or not may_retry():
                raise
            # Jittered and growing, so two workers that collided do not collide again.
            longest = min(CONFLICT_PAUSE * 2 ** (attempt - 1), CONFLICT_PAUSE_MAX)
            await asyncio.sleep(random.uniform(0.0, longest))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover
