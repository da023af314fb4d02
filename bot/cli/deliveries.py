"""`triobot deliveries`: what is due to be sent, and what failed, for the coordinator."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Settings
from storage.db import Database
from storage.deliveries import DeliveriesRepo, Delivery, Which
from storage.lease import Lease, real_now
from storage.outbox import OutboxRepo
from storage.store import open_store


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "deliveries", help="scheduled and queued deliveries: what is due, what failed"
    )
    parser.add_argument(
        "--failed", action="store_true", help="list failures (newest first) instead of due rows"
    )
    parser.add_argument(
        "--hours", type=float, default=24, help="with the default (due): look this far ahead"
    )
    parser.add_argument("--limit", type=int, default=50, help="at most this many rows")


def run(settings: Settings, args: argparse.Namespace, clock: Clock) -> int:
    if args.limit < 1 or args.hours < 0:
        print("--limit must be at least 1 and --hours not negative")
        return 2
    return asyncio.run(_run(settings, args, clock))


async def _run(settings: Settings, args: argparse.Namespace, clock: Clock) -> int:
    db = await open_store(settings.db_path, clock=clock)
    try:
        repo = DeliveriesRepo(db)
        now = clock()
        which: Which = "failed" if args.failed else "due"
        rows = await repo.listing(which, until=now + timedelta(hours=args.hours), limit=args.limit)
        totals = await repo.totals()
        health = await sender_health(db, settings)
    finally:
        await db.close()
    zone = ZoneInfo(settings.programme_tz)
    print(_summary(totals))
    print(health)
    if not rows:
        print("Nothing failed." if which == "failed" else f"Nothing due in {args.hours:g} h.")
        return 0
    title = "Failed, newest first" if which == "failed" else f"Due in the next {args.hours:g} h"
    print(f"{title} (times in {settings.programme_tz}):")
    for row in rows:
        print(_line(row, zone, overdue=which == "due" and row.when < now))
    return 1 if which == "failed" else 0


# A row still waiting this long after it could have gone is overdue: the sender is stuck,
# paused, or not running.
OVERDUE_AFTER = timedelta(minutes=5)


async def sender_health(db: Database, settings: Settings) -> str:
    """Whether a bot runs on this database, when the outbox last sent, what is overdue."""
    now = db.clock()
    zone = ZoneInfo(settings.programme_tz)
    health = await OutboxRepo(db).health(now, OVERDUE_AFTER)
    holder = await Lease(db).current()
    if holder is None or holder.expires_at <= real_now():
        running = "Bot: not running on this database."
    else:
        running = f"Bot: running ({holder.describe()})."
    if health.last_sent_at is None:
        last = "never sent anything"
    else:
        ago = max(timedelta(0), now - health.last_sent_at)
        local = health.last_sent_at.astimezone(zone).strftime("%a %d %b %H:%M:%S")
        last = f"last sent {local} ({_ago(ago)} ago)"
    minutes = OVERDUE_AFTER.total_seconds() / 60
    overdue = f"{health.overdue} overdue (waiting over {minutes:g} min)"
    return f"{running} Outbox: {last}; {health.waiting} waiting, {overdue}."


def _ago(gap: timedelta) -> str:
    seconds = int(gap.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _summary(totals: dict[tuple[str, str], int]) -> str:
    def get(source: str, status: str) -> int:
        return totals.get((source, status), 0)

    return (
        f"Schedule: {get('schedule', 'pending')} pending, {get('schedule', 'failed')} failed."
        f" Outbox: {get('outbox', 'pending')} waiting to send, {get('outbox', 'sent')} sent,"
        f" {get('outbox', 'failed')} failed."
    )


def _line(row: Delivery, zone: ZoneInfo, *, overdue: bool) -> str:
    when = row.when.astimezone(zone).strftime("%a %d %b %H:%M")
    flag = " OVERDUE" if overdue else ""
    note = f" — {row.note}" if row.note else ""
    return (
        f"  {when}{flag}  {row.source}#{row.id}  {row.kind}  {row.person}"
        f"  attempts {row.attempts}{note}"
    )
