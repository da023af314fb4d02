"""The scheduler: fires due rows of the schedule table, each exactly once.

APScheduler (PTB's JobQueue) only wakes this up; the table is the truth. A tick claims the
due rows inside one BEGIN IMMEDIATE transaction and runs each kind's handler in a savepoint
within it, so the handler's own writes (outbox messages, the next occurrence) commit together
with the row being marked done. Two loops — or two processes — racing serialise on SQLite's
write lock, and the second finds the rows already done: nothing fires twice.

On PostgreSQL, where several workers may tick, the due rows are first claimed in a short
READ COMMITTED transaction (`FOR UPDATE SKIP LOCKED`: another worker's rows are skipped),
then fired as above in a SERIALIZABLE one that checks each claim is still this worker's. A
worker that dies between the two leaves claims that expire after `claim_ttl` (real time):
another worker then fires those rows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from bot import logs
from bot.clock import Clock
from storage.db import Database, Transaction
from storage.lease import new_holder_id, real_now
from storage.schedule import Due, ScheduleRepo
from storage.turns import retry_conflicts, transient

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# Rows claimed per transaction. The write lock is held for the whole batch (~2 ms a row for a
# reflection delivery), so a big fan-out must not keep people's own replies waiting long.
BATCH = 100
# A claimed row not fired within this (real) time is free again: its worker died.
CLAIM_TTL = timedelta(minutes=2)


class Late(Enum):
    """What to do with a row that fell due while the bot was down (or busy)."""

    SEND_LATE = "send late"  # still worth doing, however late
    LATEST_ONLY = "latest only"  # of several missed occurrences of one series, only the last
    DROP_STALE = "drop stale"  # pointless after `stale_after` (e.g. "meeting in one hour")


@dataclass(frozen=True, slots=True)
class Fired:
    """A handler's verdict: done, or not yet (postpone to `until`, e.g. out of quiet hours)."""

    until: datetime | None = None
    note: str | None = None


Handler = Callable[[Transaction, Due, datetime], Awaitable[Fired | None]]


@dataclass(frozen=True, slots=True)
class Kind:
    handler: Handler
    late: Late = Late.SEND_LATE
    stale_after: timedelta = timedelta(hours=1)
    series: Callable[[Due], str] | None = None  # LATEST_ONLY groups rows by this


@dataclass(slots=True)
class TickReport:
    fired: int = 0
    dropped: int = 0
    postponed: int = 0
    failed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def touched(self) -> int:
        return self.fired + self.dropped + self.postponed + self.failed

    def add(self, other: TickReport) -> None:
        for name in ("fired", "dropped", "postponed", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, count in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + count


class Scheduler:
    def __init__(
        self, db: Database, kinds: dict[str, Kind], *, clock: Clock, owner: str | None = None
    ) -> None:
        self.db = db
        self.kinds = kinds
        self.clock = clock
        self.repo = ScheduleRepo(db)
        self.owner = owner or new_holder_id()  # whose claims (PostgreSQL)
        self.claim_ttl = CLAIM_TTL
        # For /readyz and /metrics: when a tick last went through, and what ticks did since
        # the start.
        self.ticked_at: datetime | None = None
        self.totals = TickReport()

    async def tick(self, limit: int = BATCH) -> TickReport:
        """Fire what is due now (up to `limit` rows; call again while rows remain)."""
        now = self.clock()
        report = TickReport()
        if self.db.dialect == "postgresql":
            await self._claimed_tick(now, limit, report)
        else:
            async with self.db.transaction() as tx:
                due = await ScheduleRepo.due(tx, now, limit)
                await self._fire_all(tx, due, now, report)
        self.ticked_at = now
        self.totals.add(report)
        return report

    async def run_due(
        self, limit: int = BATCH, stopping: Callable[[], bool] = lambda: False
    ) -> TickReport:
        """Tick until nothing due remains (a start-up catch-up, or a big fan-out), or until
        the bot is stopping: what is left stays due for the next start."""
        total = TickReport()
        while not stopping():
            report = await self.tick(limit)
            total.add(report)
            if report.touched < limit or report.touched == report.postponed:
                return total
        return total

    async def _claimed_tick(self, now: datetime, limit: int, report: TickReport) -> None:
        claimed = await self.repo.claim_due(
            now, limit, self.owner, real_now() + self.claim_ttl, real_now()
        )
        if not claimed:
            return
        ids = [row.id for row in claimed]

        async def fire() -> TickReport:
            tried = TickReport()
            async with self.db.transaction() as tx:
                mine = await ScheduleRepo.still_claimed(tx, ids, self.owner)
                due = [row for row in claimed if row.id in mine]
                await self._fire_all(tx, due, now, tried)
                await ScheduleRepo.unclaim(tx, ids, self.owner)
            return tried

        try:
            # A conflict with another worker's transaction undid all of it: at once again,
            # rather than after the job's back-off.
            report.add(await retry_conflicts(fire))
        except BaseException:
            # Nothing of the firing was kept: the rows go again at the next tick, here or in
            # another worker, without waiting for the claims to expire.
            try:
                await self.repo.give_back(ids, self.owner)
            except Exception as exc:
                log.warning("schedule claims not given back (%s): they expire", exc)
            raise

    async def _fire_all(
        self, tx: Transaction, due: list[Due], now: datetime, report: TickReport
    ) -> None:
        superseded = self._superseded(due)
        for row in due:
            with logs.context(row_id=row.id, person_id=row.person_id):
                await self._fire(tx, row, now, row.id in superseded, report)

    def _superseded(self, due: list[Due]) -> set[int]:
        """Rows of a LATEST_ONLY series that a later due row of the same series replaces."""
        latest: dict[tuple[str, str], Due] = {}
        dropped: set[int] = set()
        for row in due:
            kind = self.kinds.get(row.kind)
            if kind is None or kind.late is not Late.LATEST_ONLY or kind.series is None:
                continue
            key = (row.kind, kind.series(row))
            previous = latest.get(key)
            if previous is not None:
                dropped.add(previous.id)
            latest[key] = row
        return dropped

    async def _fire(
        self, tx: Transaction, row: Due, now: datetime, superseded: bool, report: TickReport
    ) -> None:
        kind = self.kinds.get(row.kind)
        if kind is None:
            await ScheduleRepo.finish(tx, row.id, "failed", now, f"unknown kind {row.kind}")
            report.failed += 1
            return
        if superseded:
            await ScheduleRepo.finish(tx, row.id, "dropped", now, "superseded by a later one")
            report.dropped += 1
            return
        if kind.late is Late.DROP_STALE and now - row.due_at > kind.stale_after:
            await ScheduleRepo.finish(tx, row.id, "dropped", now, f"stale: {now - row.due_at}")
            report.dropped += 1
            return
        try:
            # One broken row must not hold up the rest: the savepoint undoes its writes alone.
            async with tx.savepoint():
                verdict = await kind.handler(tx, row, now)
        except Exception as exc:
            if transient(exc):
                # The database's trouble (full, locked, a conflict with another worker), not
                # this row's: the whole tick is rolled back and tried again, and no attempt
                # is counted against the row.
                raise
            await self._failed(tx, row, now, exc, report)
            return
        if verdict is not None and verdict.until is not None:
            await ScheduleRepo.postpone(tx, row.id, verdict.until, verdict.note or "postponed")
            report.postponed += 1
            return
        await ScheduleRepo.finish(tx, row.id, "done", now, verdict.note if verdict else None)
        report.fired += 1
        report.by_kind[row.kind] = report.by_kind.get(row.kind, 0) + 1

    async def _failed(
        self, tx: Transaction, row: Due, now: datetime, exc: Exception, report: TickReport
    ) -> None:
        # Its writes are undone already (the savepoint); the attempt is counted.
        log.error("schedule row %s (%s) failed", row.id, row.kind, exc_info=exc)
        attempts = await ScheduleRepo.failed_attempt(tx, row.id, repr(exc)[:300])
        if attempts >= MAX_ATTEMPTS:
            await ScheduleRepo.finish(tx, row.id, "failed", now, repr(exc)[:300])
        report.failed += 1
