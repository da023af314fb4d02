"""What /readyz and /metrics read and write: a heartbeat row, and the backlog at a glance.

Every query here is served by a partial index (outbox_pending, outbox_sending, schedule_due,
flow_state_open), so what a scrape costs grows with what is waiting, never with the history:
with 1,000,000 sent rows, 10,000 pending and 5,000 due, 1.6 ms (bench/probes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Reader, from_db_time, to_db_time

HEARTBEAT_KEY = "readyz_heartbeat"


async def heartbeat(db: Database, now: datetime) -> None:
    """The cheapest real write: one meta row, in its own short transaction. Raises what the
    transaction raises (StorageUnavailable when the database cannot take a write)."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (HEARTBEAT_KEY, to_db_time(now)),
        )


@dataclass(frozen=True, slots=True)
class Backlog:
    """The queues as they stand: what /metrics shows as gauges."""

    outbox_depth: int  # rows waiting to be sent (pending, or claimed and in flight)
    outbox_oldest_due: datetime | None  # not_before of the oldest pending row that may go now
    schedule_due: int  # pending schedule rows whose due_at has come
    schedule_overdue: int  # of those, the ones due before `overdue_before`
    flows_open: tuple[tuple[str, int], ...]  # (flow, open count), by flow name


async def backlog(q: Reader, now: datetime, overdue_before: datetime) -> Backlog:
    row = await q.fetchone(
        "SELECT"
        " (SELECT COUNT(*) FROM outbox WHERE status = 'pending')"
        " + (SELECT COUNT(*) FROM outbox WHERE status = 'sending') AS depth,"
        " (SELECT MIN(not_before) FROM outbox"
        "  WHERE status = 'pending' AND not_before <= :now) AS oldest,"
        " (SELECT COUNT(*) FROM schedule WHERE status = 'pending' AND due_at <= :now) AS due,"
        " (SELECT COUNT(*) FROM schedule"
        "  WHERE status = 'pending' AND due_at <= :overdue) AS overdue",
        {"now": to_db_time(now), "overdue": to_db_time(overdue_before)},
    )
    assert row is not None
    flows = await q.fetchall(
        "SELECT flow, COUNT(*) AS n FROM flow_state WHERE status = 'open'"
        " GROUP BY flow ORDER BY flow"
    )
    return Backlog(
        outbox_depth=int(row["depth"]),
        outbox_oldest_due=from_db_time(row["oldest"]),
        schedule_due=int(row["due"]),
        schedule_overdue=int(row["overdue"]),
        flows_open=tuple((str(f["flow"]), int(f["n"])) for f in flows),
    )
