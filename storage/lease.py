"""One running bot per database: a lease row, taken at start and renewed while it runs.

On PostgreSQL several workers share the database by design (README "Scaling out"): each
holds a lease row of its own ('worker:<holder>'), renewed the same way, so `triobot status`
can list the live ones; nothing refuses a second worker.

Leases run on real time, never the simulated clock (TRIOBOT_SIM_CLOCK moves people's time,
not the processes'): they say whether a process is alive.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import Database, from_db_time, to_db_time

# A lease not renewed for this long is free. The holder renews it every LEASE_RENEW, so a
# database locked for longer than the gap (an operator's long query) does not cost it.
LEASE_TTL = timedelta(seconds=60)
LEASE_RENEW = timedelta(seconds=10)


def real_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Holder:
    holder: str
    pid: int
    host: str
    started_at: datetime
    renewed_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Holder:
        times = [from_db_time(row[key]) for key in ("started_at", "renewed_at", "expires_at")]
        started, renewed, expires = (t if t is not None else real_now() for t in times)
        return cls(row["holder"], row["pid"], row["host"], started, renewed, expires)

    def describe(self) -> str:
        return (
            f"pid {self.pid} on {self.host}, started {self.started_at:%Y-%m-%d %H:%M:%S} UTC,"
            f" last renewed {self.renewed_at:%H:%M:%S} UTC"
        )


class LeaseHeld(Exception):
    """Another live process holds the lease."""

    def __init__(self, name: str, holder: Holder) -> None:
        super().__init__(
            f"another triobot holds this database ({holder.describe()}); stop it first,"
            f" or wait until {holder.expires_at:%H:%M:%S} UTC if it was killed on another machine"
        )
        self.name = name
        self.holder = holder


class LeaseLost(Exception):
    """While we ran, another process took the lease (ours had expired)."""


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_free(holder: Holder, now: datetime) -> bool:
    if holder.expires_at <= now:
        return True
    # A holder on this machine whose process is gone (SIGKILL, OOM) is provably dead: a
    # restart need not wait for the expiry. Another machine's we cannot see, so we wait.
    # (Containers that share a host name but not a pid namespace must not share a database
    # file: they would see each other as gone.)
    return holder.host == socket.gethostname() and not _alive(holder.pid)


def check_free(path: Path, name: str = "bot") -> None:
    """Before anything opens the database to migrate or write: LeaseHeld if a live process
    holds it, so a newer triobot started beside a running one changes nothing at all."""
    if not path.exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM instance_lease WHERE name = ?", (name,)).fetchone()
    except sqlite3.Error:
        return  # no lease table yet (an older schema), or unreadable: open() will say
    if row is not None:
        holder = Holder.from_row(row)
        if not is_free(holder, real_now()):
            raise LeaseHeld(name, holder)


def dead_on_this_host(holders: list[str]) -> tuple[str, ...]:
    """Of these holder ids (host:pid:random), those of this host whose process is gone."""
    here = socket.gethostname()
    dead = []
    for holder in holders:
        host, _, rest = holder.partition(":")
        pid, _, _ = rest.partition(":")
        if host == here and pid.isdigit() and not _alive(int(pid)):
            dead.append(holder)
    return tuple(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


WORKER = "worker:"


def lease_name(db: Database, holder: str | None = None) -> str:
    """SQLite: the one 'bot' lease; PostgreSQL: this worker's own."""
    return "bot" if db.dialect == "sqlite" else f"{WORKER}{holder or new_holder_id()}"


async def live_workers(db: Database, now: datetime | None = None) -> list[Holder]:
    """The workers whose lease is live (PostgreSQL; SQLite has none of these rows)."""
    rows = await db.fetchall(
        "SELECT * FROM instance_lease WHERE name LIKE ? AND expires_at > ? ORDER BY started_at",
        (f"{WORKER}%", to_db_time(now or real_now())),
    )
    return [Holder.from_row(row) for row in rows]


class Lease:
    """`acquire` once, `renew` every LEASE_RENEW, `release` at a clean stop."""

    def __init__(self, db: Database, name: str = "bot", holder: str | None = None) -> None:
        self.db = db
        self.name = name
        # A worker's lease is named after its holder (lease_name): the same id.
        own = name[len(WORKER) :] if name.startswith(WORKER) else None
        self.holder: str = holder or own or new_holder_id()
        self.host = socket.gethostname()
        self.pid = os.getpid()

    async def current(self) -> Holder | None:
        row = await self.db.fetchone("SELECT * FROM instance_lease WHERE name = ?", (self.name,))
        return None if row is None else Holder.from_row(row)

    async def acquire(self, now: datetime | None = None) -> Holder | None:
        """Take the lease, or raise LeaseHeld. Returns the previous holder it replaced, if any
        (expired, or a process on this host that no longer exists)."""
        now = now or real_now()
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT * FROM instance_lease WHERE name = ?", (self.name,))
            previous = None if row is None else Holder.from_row(row)
            if (
                previous is not None
                and previous.holder != self.holder
                and not self._free(previous, now)
            ):
                raise LeaseHeld(self.name, previous)
            if self.name.startswith(WORKER):  # workers that died: their rows go
                await tx.execute(
                    "DELETE FROM instance_lease WHERE name LIKE ? AND expires_at <= ?",
                    (f"{WORKER}%", to_db_time(now)),
                )
            await tx.execute(
                "INSERT INTO instance_lease (name, holder, pid, host, started_at, renewed_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                " holder = excluded.holder, pid = excluded.pid, host = excluded.host,"
                " started_at = excluded.started_at, renewed_at = excluded.renewed_at,"
                " expires_at = excluded.expires_at",
                (
                    self.name,
                    self.holder,
                    self.pid,
                    self.host,
                    to_db_time(now),
                    to_db_time(now),
                    to_db_time(now + LEASE_TTL),
                ),
            )
        return previous

    def _free(self, holder: Holder, now: datetime) -> bool:
        return is_free(holder, now)

    async def renew(self, now: datetime | None = None) -> None:
        """Extend our lease; LeaseLost if someone else holds it now."""
        now = now or real_now()
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE instance_lease SET renewed_at = ?, expires_at = ?"
                " WHERE name = ? AND holder = ?",
                (to_db_time(now), to_db_time(now + LEASE_TTL), self.name, self.holder),
            )
        if not changed:
            raise LeaseLost(f"the {self.name!r} lease is held by another process now")

    async def release(self) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM instance_lease WHERE name = ? AND holder = ?",
                (self.name, self.holder),
            )
