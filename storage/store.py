"""Which store TRIOBOT_DB names: a PostgreSQL URL, or else a SQLite file's path.

Nothing about a URL is ever taken for a file path: `postgresql://…` (or `postgres://…`)
opens PostgreSQL, and any other `scheme://…` stops start-up with one line saying so.
"""

from __future__ import annotations

import re
from pathlib import Path

from storage.clock import Clock, utcnow
from storage.db import Database, Synchronous
from storage.postgres import PostgresDatabase
from storage.postgres_sql import URL_SCHEMES, safe_url
from storage.schema import StorageError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and bool(_URL.match(target))


def is_postgres(target: str | Path) -> bool:
    return is_url(target) and str(target).split("://", 1)[0].lower() in URL_SCHEMES


def check_target(target: str | Path) -> None:
    """Refuse a URL that names no store triobot has (StorageError: one line)."""
    if is_url(target) and not is_postgres(target):
        raise StorageError(
            f"TRIOBOT_DB={safe_url(str(target))} is a URL but not a PostgreSQL one: give"
            " postgresql://user@host:port/database, or a file path for SQLite"
        )


async def open_store(
    target: str | Path,
    *,
    clock: Clock = utcnow,
    synchronous: Synchronous = "NORMAL",
    pool_size: int = 4,
) -> Database:
    """The database `target` names, migrated and ready."""
    check_target(target)
    if is_postgres(target):
        return await PostgresDatabase.open(str(target), clock=clock, pool_size=pool_size)
    return await Database.open(Path(target), clock=clock, synchronous=synchronous)
