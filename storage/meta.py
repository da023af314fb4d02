"""The meta table: the bot's own keys and marks, one value per name.

A secret is bytes on both stores. A mark kept as text is text again when read: SQLite keeps
it as TEXT in its typeless column, PostgreSQL's column is BYTEA, so there the text is
written as its UTF-8 bytes and decoded when read."""

from __future__ import annotations

import secrets
from typing import Any

from storage.db import Reader, Transaction


async def secret_key(tx: Transaction, name: str) -> bytes:
    """The random key kept under `name`: made the first time it is asked for, the same after
    (across restarts), never exported."""
    await tx.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (name, secrets.token_bytes(32)),
    )
    return bytes(await tx.fetchval("SELECT value FROM meta WHERE key = ?", (name,)))


async def value(q: Reader, name: str) -> Any:
    """What `keep` kept under `name` (the same str), or None."""
    kept = await q.fetchval("SELECT value FROM meta WHERE key = ?", (name,))
    if kept is not None and q.dialect == "postgresql":
        return bytes(kept).decode("utf-8")
    return kept


async def keep(tx: Transaction, name: str, kept: str) -> None:
    """Keep `kept` under `name`, which must not hold anything yet."""
    stored: str | bytes = kept.encode("utf-8") if tx.dialect == "postgresql" else kept
    await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, stored))
