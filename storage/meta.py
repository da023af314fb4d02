"""The meta table: the bot's own keys and marks, one value per name."""

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
    """What is kept under `name`, or None."""
    return await q.fetchval("SELECT value FROM meta WHERE key = ?", (name,))


async def keep(tx: Transaction, name: str, kept: str) -> None:
    """Keep `kept` under `name`, which must not hold anything yet."""
    await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, kept))
