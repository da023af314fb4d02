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

import sqlite3
from contextlib import AbstractAsyncContextManager

import psycopg

from storage import postgres_sql
from storage.db import Database, Transaction, is_transient
from storage.postgres import PostgresDatabase


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
