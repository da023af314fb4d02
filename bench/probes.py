"""What /readyz and /metrics cost on a database with a long history.

    python bench/probes.py                         # 1,000,000 sent, 10,000 pending, 5,000 due
    python bench/probes.py --sent 100000 --pending 100 --due 10

Fills a fresh database with `--sent` sent outbox rows and a quarter as many done schedule rows
(the history), `--pending` unsent outbox rows and `--due` due schedule rows (a fan-out in
progress), then times what each probe does on it:
the read behind a scrape's gauges (storage/health.py `backlog`) and the write behind /readyz's
database check (`heartbeat`), `--repeat` times each; prints median, 95th percentile and most
in milliseconds, and each query's plan (every one should use a partial index, not scan).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.db import Database, to_db_time
from storage.health import backlog, heartbeat

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
PLANS = (
    "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
    "SELECT COUNT(*) FROM outbox WHERE status = 'sending'",
    "SELECT MIN(not_before) FROM outbox WHERE status = 'pending' AND not_before <= '2027'",
    "SELECT COUNT(*) FROM schedule WHERE status = 'pending' AND due_at <= '2027'",
    "SELECT flow, COUNT(*) FROM flow_state WHERE status = 'open' GROUP BY flow",
)


async def fill(db: Database, sent: int, pending: int, due: int) -> None:
    stamp = to_db_time(NOW)
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO outbox (chat_id, kind, payload, status, not_before, created_at)"
            " VALUES (?, 'reflection', '{}', ?, ?, ?)",
            (
                (1000 + i % 5000, "sent" if i < sent else "pending", stamp, stamp)
                for i in range(sent + pending)
            ),
        )
        await tx.executemany(
            "INSERT INTO schedule (kind, payload, due_at, status, created_at)"
            " VALUES ('reflection_delivery', '{}', ?, ?, ?)",
            (
                (
                    to_db_time(NOW - timedelta(minutes=i % 600)),
                    "done" if i < sent // 4 else "pending",
                    stamp,
                )
                for i in range(sent // 4 + due)
            ),
        )


async def timed(work: Callable[[], Awaitable[object]], repeat: int) -> str:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, most {times[-1]:.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sent", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "probes.db", clock=lambda: NOW)
        try:
            await fill(db, args.sent, args.pending, args.due)
            for sql in PLANS:
                plan = "; ".join(row[3] for row in await db.fetchall("EXPLAIN QUERY PLAN " + sql))
                print(f"{sql[:58]:58}  {plan}")
            found = await backlog(db, NOW, NOW - timedelta(seconds=45))
            print(
                f"{args.sent:,} sent, {found.outbox_depth:,} pending, "
                f"{found.schedule_due:,} due ({found.schedule_overdue:,} overdue)"
            )
            scrape = await timed(lambda: backlog(db, NOW, NOW - timedelta(seconds=45)), args.repeat)
            print(f"/metrics database read: {scrape}")
            print(
                f"/readyz heartbeat write: {await timed(lambda: heartbeat(db, NOW), args.repeat)}"
            )
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
