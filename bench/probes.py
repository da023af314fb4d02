"""What /readyz and /metrics cost on a database with a long history.

    python bench/probes.py                         # 1,000,000 sent, 10,000 pending, 5,000 due
    python bench/probes.py --sent 100000 --pending 100 --due 10

Fills a fresh database with `--sent` sent outbox rows and a quarter as many done schedule rows
(the history), `--pending` unsent outbox rows and `--due` due schedule rows (a fan-out in
progress), then times what each probe does on it:
the read behind a scrape's gauges (storage/health.py `backlog`) and the write behind /readyz's
database check (`heartbeat`), `--repeat` times each; prints median, 95th percentile and most
in milliseconds, and each query's plan (every one should use a partial index, not scan).

It checks its own work and exits 1 when it was not done: every timed read returned the seeded
counts (pending, due, overdue, the oldest due), the heartbeat row holds what was written, and
every plan reads each table through an index. A tiny run, for the tests:

    python bench/probes.py --sent 2400 --pending 50 --due 20 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from bench.verdict import conclude
from storage.db import Database, to_db_time
from storage.health import HEARTBEAT_KEY, Backlog, backlog, heartbeat

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
OVERDUE = NOW - timedelta(seconds=45)  # what a scrape counts as overdue
PLANS = (
    "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
    "SELECT COUNT(*) FROM outbox WHERE status = 'sending'",
    "SELECT MIN(not_before) FROM outbox WHERE status = 'pending' AND not_before <= '2027'",
    "SELECT COUNT(*) FROM schedule WHERE status = 'pending' AND due_at <= '2027'",
    "SELECT flow, COUNT(*) FROM flow_state WHERE status = 'open' GROUP BY flow",
)


@dataclass(frozen=True)
class Seeded:
    """What `fill` put in, as the probes should count it."""

    sent: int
    pending: int
    due: int
    overdue: int


async def fill(db: Database, sent: int, pending: int, due: int) -> Seeded:
    stamp = to_db_time(NOW)
    done = sent // 4
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
                (to_db_time(due_at(i)), "done" if i < done else "pending", stamp)
                for i in range(done + due)
            ),
        )
    overdue = sum(due_at(i) <= OVERDUE for i in range(done, done + due))
    return Seeded(sent, pending, due, overdue)


def due_at(i: int) -> datetime:
    """Schedule row i falls due up to ten hours ago; one in 600 falls due now (not overdue)."""
    return NOW - timedelta(minutes=i % 600)


@dataclass(frozen=True)
class Measured:
    """What the run saw: each timed read's answer, the heartbeat row after, each plan."""

    reads: list[Backlog]
    heartbeat: str | None
    plans: dict[str, str]


def check(seeded: Seeded, measured: Measured) -> list[str]:
    """How the probes' answers differ from what was seeded (empty when they do not)."""
    failures = []
    expected = Backlog(
        outbox_depth=seeded.pending,
        outbox_oldest_due=NOW if seeded.pending else None,
        schedule_due=seeded.due,
        schedule_overdue=seeded.overdue,
        flows_open=(),
    )
    wrong = [read for read in measured.reads if read != expected]
    if not measured.reads:
        failures.append("no read was timed")
    elif wrong:
        failures.append(f"{len(wrong)} of {len(measured.reads)} reads: {wrong[0]}, not {expected}")
    if measured.heartbeat != to_db_time(NOW):
        failures.append(f"heartbeat row {measured.heartbeat!r}, not {to_db_time(NOW)!r}")
    for sql, plan in measured.plans.items():
        tables = [step for step in plan.split("; ") if step.startswith(("SCAN", "SEARCH"))]
        if not tables or any(" INDEX " not in step for step in tables):
            failures.append(f"{sql[:40]}…: {plan}, not through an index")
    return failures


def verified(seeded: Seeded, measured: Measured) -> list[str]:
    return [
        f"all {len(measured.reads)} reads of the backlog counted what was seeded: "
        f"{seeded.pending:,} pending, {seeded.due:,} due, {seeded.overdue:,} of them overdue, "
        f"the oldest due now, under {seeded.sent:,} sent",
        "the heartbeat row holds the time written",
        f"all {len(measured.plans)} queries read each table through an index (no full scan)",
    ]


async def timed(
    work: Callable[[], Awaitable[Backlog | None]], repeat: int
) -> tuple[str, list[Backlog]]:
    times, answers = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await work()
        times.append((time.perf_counter() - started) * 1000)
        if answer is not None:
            answers.append(answer)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    figures = f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, most {times[-1]:.1f} ms"
    return figures, answers


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sent", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    print(describe())
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "probes.db", clock=lambda: NOW)
        try:
            seeded = await fill(db, args.sent, args.pending, args.due)
            plans = {}
            for sql in PLANS:
                plan = "; ".join(row[3] for row in await db.fetchall("EXPLAIN QUERY PLAN " + sql))
                plans[sql] = plan
                print(f"{sql[:58]:58}  {plan}")
            found = await backlog(db, NOW, OVERDUE)
            print(
                f"{args.sent:,} sent, {found.outbox_depth:,} pending, "
                f"{found.schedule_due:,} due ({found.schedule_overdue:,} overdue)"
            )
            scrape, reads = await timed(lambda: backlog(db, NOW, OVERDUE), args.repeat)
            print(f"/metrics database read: {scrape}")
            write, _ = await timed(lambda: heartbeat(db, NOW), args.repeat)
            print(f"/readyz heartbeat write: {write}")
            row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (HEARTBEAT_KEY,))
            measured = Measured([found, *reads], None if row is None else row["value"], plans)
        finally:
            await db.close()
    print()
    return conclude(check(seeded, measured), verified(seeded, measured))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
