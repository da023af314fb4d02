"""Fan-out: N people due at the same minute, sent under Telegram's limits; and re-arming.

    python bench/fanout.py                      # 10,000 people, 100,000 pending rows
    python bench/fanout.py --people 2000 --rearm-rows 20000 --baseline 300
    python bench/fanout.py --people 200 --rearm-rows 2000 --baseline 30   # CI's size
    python bench/fanout.py --db postgresql://postgres@127.0.0.1:5432/postgres --workers 3
                           [--people 600]   # real worker processes: bench/fanout_workers.py

Part 1 — the fan-out. N consenting teachers share a reminder time. The weekly round fans out
into N deliveries, all due at Tuesday 15:45; the scheduler fires them (each claimed in a
transaction) into the outbox, and the outbox sender sends them. The stand-in for Telegram
enforces Telegram's limits (30 messages/s overall, 1/s per private chat, 20/min per group) and
answers 429 with retry_after when they are exceeded. Time is "hybrid": it runs at real speed
while the bot works, and the sender's waits are skipped forward rather than slept, so the
figures include every real cost and the run takes seconds, not the 400 virtual seconds that
10,000 messages at 25/s need. It prints the achieved rate as a ratio of the configured limit,
the 429s provoked, and lost and duplicated messages (from the stand-in's own record).

Meanwhile people answer: `--answer-share` of them (0.2) type an answer the moment their
prompt arrives, through the real Application (PTB's update queue, flood control, the prompt
reply handler, the rate limiter) on the same stand-in; each answer is stored and replied to
while the fan-out goes on. The latency of each reply, from the update's arrival to the reply's
arrival at the stand-in (in the same hybrid time, so it includes the outbox's waits skipped
meanwhile: an upper bound), is reported as p50 / p95 / max.

For comparison, in the same run: what a PTB user would otherwise write — `asyncio.gather` of
`bot.send_message` calls through PTB's AIORateLimiter (its defaults: 30/s overall, up to 3
retries on 429) — sends `--baseline` messages in real time on a stand-in with the same limits.

The run then checks its own work and prints a "verified:" line per check (every prompt
arrived exactly once, no 429, the outbox at ≥ 0.95 of its configured rate, every answer
stored and replied to, replies p95 < 2 s, the re-arm claimed and the JobQueue holds every
row), or "NOT VERIFIED:" lines and exits 1.

Part 2 — re-arming. A database with `--rearm-rows` pending schedule rows: the time from
opening it to a bot whose schedule is armed (post_init done, the first due rows claimed), and,
for comparison, the time to re-register the same rows as PTB JobQueue (APScheduler) jobs, which
is what keeping the schedule in the job queue would cost at every start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ExtBot

from bench.machine import describe, peak_rss_mb
from bot.app.factory import build_application, running
from bot.config import Settings
from bot.standin.api import FakeTelegram
from bot.standin.limits import Limits
from bot.standin.request import StandInRequest
from bot.telegram.context import Services
from storage.db import Database, to_db_time

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
DUE = datetime(2026, 11, 24, 15, 45, tzinfo=UTC)  # Tuesday, everyone's reminder time
TOKEN = "123456:BENCHFANOUT"
PROMPT = "<b>This week's reflection</b>"  # how the prompt begins (a reply may quote it)


def is_prompt(text: str | None) -> bool:
    return bool(text) and str(text).startswith(PROMPT)


ANSWER = "We tried paired reading with the quieter group and they talked more."
# Targets the run verifies.
MIN_RATIO = 0.95
MAX_REPLY_P95 = 2.0


class HybridClock:
    """Real elapsed time plus whatever the code chose to wait: waits are skipped, not slept."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.real0 = time.perf_counter()
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.perf_counter() - self.real0 + self.skipped

    def utc(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    def wall(self) -> float:
        return self.utc().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.skipped += max(0.0, seconds)
        await asyncio.sleep(0)

    def jump_to(self, moment: datetime) -> None:
        self.skipped += max(0.0, (moment - self.utc()).total_seconds())


def settings(db_path: Path, per_second: float) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        db_path=db_path,
        programme_tz="Europe/London",
        send_per_second=per_second,
    )


async def seed_people(db: Database, count: int) -> list[int]:
    """`count` active, consenting teachers in London, reminder 15:45; their Telegram ids."""
    ids = list(range(10_000_000, 10_000_000 + count))
    now = to_db_time(START)
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO person (telegram_id, display_name, language, time_zone, status,"
            " onboarded_at, created_at, updated_at) VALUES (?, ?, 'en', 'Europe/London',"
            " 'active', ?, ?, ?)",
            [(uid, f"Teacher {uid}", now, now, now) for uid in ids],
        )
        await tx.execute(
            "INSERT INTO person_role (person_id, role) SELECT id, 'teacher' FROM person"
        )
        await tx.execute(
            "INSERT INTO consent (person_id, given, version, recorded_at)"
            " SELECT id, 1, '2026-1', ? FROM person",
            (now,),
        )
    return ids


class AnsweringTelegram(FakeTelegram):
    """The stand-in, with people who answer their prompt the moment it arrives.

    `answer(uid)` is called for each person in `answering` when their prompt arrives; the
    time each typed (the clock's seconds) and each reply's latency are kept here."""

    def __init__(self, clock: HybridClock, answering: set[int]) -> None:
        super().__init__(limits=Limits(), clock=clock.monotonic, wall_clock=clock.wall)
        self.hybrid = clock
        self.answering = answering
        self.answer: Callable[[int], None] | None = None
        self.typed_at: dict[int, float] = {}
        self.latency: dict[int, float] = {}
        self.all_replied = asyncio.Event()  # every answer so far has its reply
        self.all_replied.set()

    async def handle(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
    ) -> tuple[int, dict[str, Any]]:
        result = await super().handle(method, params, files)
        if result[0] != 200 or method.lower() != "sendmessage":
            return result
        chat, text = int(params["chat_id"]), str(params.get("text", ""))
        if is_prompt(text):
            if chat in self.answering and chat not in self.typed_at and self.answer is not None:
                self.typed_at[chat] = self.hybrid.monotonic()
                self.all_replied.clear()
                self.answer(chat)
        elif chat in self.typed_at and chat not in self.latency:
            self.latency[chat] = self.hybrid.monotonic() - self.typed_at[chat]
            if len(self.latency) == len(self.typed_at):
                self.all_replied.set()
        return result


async def fanout(
    people: int, per_second: float, workdir: Path, answer_share: float = 0.2
) -> dict[str, Any]:
    clock = HybridClock(START)
    ids = list(range(10_000_000, 10_000_000 + people))
    answering = set(ids[:: max(1, round(1 / answer_share))]) if answer_share > 0 else set()
    api = AnsweringTelegram(clock, answering)
    app = build_application(
        settings(workdir / "fanout.db", per_second),
        request=StandInRequest(api),
        polling=False,
        clock=clock.utc,
        background=False,
        menu=False,
    )
    async with running(app):
        services: Services = app.bot_data
        await seed_people(services.db, people)
        for uid in ids:
            api.add_user(uid, f"T{uid}")
            api.started.add(uid)
        sender = services.attach_sender(
            services.sender.bot, monotonic=clock.monotonic, sleep=clock.sleep
        )
        api.answer = _answerer(app, api)
        await services.reflections.ensure_rounds()
        await services.scheduler.run_due()  # the weekly round: N deliveries for Tuesday
        clock.jump_to(DUE)
        real0 = time.perf_counter()
        fired = await services.scheduler.run_due()
        fan_real = time.perf_counter() - real0
        v0, real0, cpu0 = clock.monotonic(), time.perf_counter(), time.process_time()
        sent = await sender.drain()
        elapsed_virtual = clock.monotonic() - v0
        elapsed_real = time.perf_counter() - real0
        # The last answers may still be on their way: their replies are not the outbox's.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(api.all_replied.wait(), timeout=30)
        cpu = time.process_time() - cpu0
        stored = await services.db.fetchval(
            "SELECT COUNT(*) FROM reflection WHERE status = 'answered' AND answer LIKE ?",
            (f"%{ANSWER[:40]}%",),
        )
        received = Counter(m.chat_id for m in api.sent if is_prompt(m.text))
        budget = sender.budget
    lost = sum(1 for uid in ids if received[uid] == 0)
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    # Rate over the span the sending took: the first message goes at once, so N messages
    # at r per second take (N − 1) / r seconds.
    rate = (sent - 1) / elapsed_virtual if elapsed_virtual > 0 else float("inf")
    latencies = sorted(api.latency.values())
    return {
        "people": people,
        "fired": fired.fired,
        "fan_out_seconds": fan_real,
        "sent": sent,
        "received": sum(1 for uid in ids if received[uid] > 0),
        "per_second": per_second,
        "rate": rate,
        "ratio": rate / per_second,
        "too_many_requests": sum(1 for r in api.refusals if r[2] == 429),
        "refused": len(api.refusals),
        "lost": lost,
        "duplicated": duplicated,
        "virtual_seconds": elapsed_virtual,
        "real_seconds": elapsed_real,
        "cpu_ms_per_message": 1000 * cpu / max(1, sent + len(latencies)),
        "peak_mb": peak_rss_mb(),
        "answered": len(api.typed_at),
        "stored": stored,
        "replied": len(latencies),
        "reply_p50": statistics.median(latencies) if latencies else float("nan"),
        "reply_p95": _percentile(latencies, 0.95),
        "reply_max": latencies[-1] if latencies else float("nan"),
        "reply_waited": budget.reply_waited,
        "replies_in_budget": budget.replies,
    }


def _answerer(app: Application, api: FakeTelegram) -> Callable[[int], None]:  # type: ignore[type-arg]
    """A person types their answer: the update goes into PTB's queue, as polling puts it."""

    def answer(uid: int) -> None:
        update = Update.de_json(api.text(uid, ANSWER), app.bot)
        app.update_queue.put_nowait(update)

    return answer


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def ptb_baseline(count: int) -> dict[str, float]:
    """gather(send_message) through PTB's AIORateLimiter, in real time, same limits."""
    api = FakeTelegram(limits=Limits())
    for uid in range(count):
        api.add_user(uid + 1, f"T{uid}")
        api.started.add(uid + 1)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(StandInRequest(api))
        .get_updates_request(StandInRequest(api))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .updater(None)
        .build()
    )
    bot: ExtBot[None] = app.bot
    failures = 0
    async with app:
        t0 = time.perf_counter()

        async def one(uid: int) -> None:
            nonlocal failures
            try:
                await bot.send_message(uid, "<b>This week's reflection</b> …", parse_mode="HTML")
            except Exception:  # the message is lost: PTB gave up after its retries
                failures += 1

        await asyncio.gather(*(one(uid + 1) for uid in range(count)))
        elapsed = time.perf_counter() - t0
    received = Counter(m.chat_id for m in api.sent)
    return {
        "sent": len(received),
        "rate": (len(received) - 1) / elapsed,
        "ratio": (len(received) - 1) / elapsed / 30.0,
        "too_many_requests": sum(1 for r in api.refusals if r[2] == 429),
        "lost": failures,
        "duplicated": sum(n - 1 for n in received.values() if n > 1),
        "real_seconds": elapsed,
        "count": count,
    }


async def seed_pending(db: Database, rows: int) -> None:
    people = max(1, rows // 10)
    await seed_people(db, people)
    async with db.transaction() as tx:
        base = DUE + timedelta(days=1)
        await tx.executemany(
            "INSERT INTO schedule (kind, person_id, payload, due_at, dedupe_key, created_at)"
            " VALUES ('reflection_deliver', ?, ?, ?, ?, ?)",
            [
                (
                    1 + i % people,
                    json.dumps({"prompt": "practice", "period": "2026-W48"}),
                    to_db_time(base + timedelta(minutes=i % 20_000)),
                    f"bench:{i}",
                    to_db_time(START),
                )
                for i in range(rows)
            ],
        )


async def rearm(rows: int, workdir: Path) -> dict[str, float]:
    path = workdir / "rearm.db"
    db = await Database.open(path)
    await seed_pending(db, rows)
    await db.close()
    pending = rows
    clock = HybridClock(DUE + timedelta(days=1, hours=2))  # some of it is already due
    api = FakeTelegram(limits=Limits(), clock=clock.monotonic, wall_clock=clock.wall)
    for uid in range(10_000_000, 10_000_000 + max(1, rows // 10)):
        api.add_user(uid, f"T{uid}")
        api.started.add(uid)
    t0 = time.perf_counter()
    app = build_application(
        settings(path, 25),
        request=StandInRequest(api),
        polling=False,
        clock=clock.utc,
        background=True,
        menu=False,
    )
    async with running(app):
        services: Services = app.bot_data
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        first = await services.scheduler.tick()  # the catch-up's first claim (one batch)
        claim = time.perf_counter() - t1
        pending = await services.db.fetchval(
            "SELECT COUNT(*) FROM schedule WHERE status = 'pending'"
        )
        assert app.job_queue is not None
    # The alternative: every pending row as an APScheduler job in PTB's JobQueue.
    ptb = ApplicationBuilder().token(TOKEN).request(StandInRequest(api)).updater(None).build()
    async with ptb:
        assert ptb.job_queue is not None
        await ptb.job_queue.start()
        t2 = time.perf_counter()
        for i in range(rows):
            # Due a day and more from now (real time: APScheduler's clock), as the rows are.
            ptb.job_queue.run_once(
                _noop, when=timedelta(days=1, minutes=i % 20_000), name=f"bench:{i}"
            )
        jobs = time.perf_counter() - t2
        registered = len(ptb.job_queue.jobs())
        await ptb.job_queue.stop()
    return {
        "rows": rows,
        "start_seconds": started,
        "first_claim_seconds": claim,
        "claimed_first_tick": first.touched,
        "pending_after": pending,
        "jobqueue_seconds": jobs,
        "jobs_registered": registered,
    }


async def _noop(context: object) -> None:
    return None


def shortfalls(ours: dict[str, Any], arm: dict[str, Any]) -> list[str]:
    """What the run did not do that it should have; empty when every check holds."""
    failures = []
    people = ours["people"]
    if ours["fired"] != people or ours["sent"] != people:
        failures.append(f"{people} prompts due, but {ours['fired']} fired and {ours['sent']} sent")
    if ours["lost"] or ours["duplicated"] or ours["received"] != people:
        failures.append(
            f"{ours['received']} of {people} people got their prompt;"
            f" {ours['lost']} lost, {ours['duplicated']} duplicated"
        )
    if ours["too_many_requests"] or ours["refused"]:
        failures.append(
            f"the stand-in refused {ours['refused']} calls, {ours['too_many_requests']} with 429"
        )
    if not ours["ratio"] >= MIN_RATIO:
        failures.append(
            f"the outbox went at {ours['ratio']:.3f} of its configured rate (needs {MIN_RATIO})"
        )
    answered = ours["answered"]
    if ours["stored"] != answered or ours["replied"] != answered:
        failures.append(
            f"{answered} people answered: {ours['stored']} answers stored,"
            f" {ours['replied']} replied to"
        )
    if answered and not ours["reply_p95"] < MAX_REPLY_P95:
        failures.append(
            f"replies during the fan-out took {ours['reply_p95']:.2f} s at p95"
            f" (needs < {MAX_REPLY_P95:g} s)"
        )
    if arm["claimed_first_tick"] <= 0:
        failures.append("re-arming claimed no due row at the first tick")
    if arm["jobs_registered"] != arm["rows"]:
        failures.append(
            f"the JobQueue holds {arm['jobs_registered']} of {arm['rows']} jobs registered"
        )
    return failures


def verified(ours: dict[str, Any], arm: dict[str, Any]) -> list[str]:
    """One line per check that held, with its numbers (printed after `verified: `)."""
    return [
        f"{ours['people']} prompts fired and sent; each arrived exactly once"
        f" ({ours['received']} people, 0 lost, 0 duplicated, from the stand-in's record)",
        "no call refused by the stand-in (0 × 429)",
        f"outbox at {ours['ratio']:.3f} of its configured {ours['per_second']:g}/s (≥ {MIN_RATIO})",
        f"{ours['answered']} answers during the fan-out: all stored, all replied to;"
        f" p95 {ours['reply_p95']:.3f} s (< {MAX_REPLY_P95:g} s)",
        f"re-arm: {arm['claimed_first_tick']} due rows claimed at the first tick;"
        f" {arm['jobs_registered']} of {arm['rows']} rows registered as JobQueue jobs",
    ]


def report(ours: dict[str, Any], base: dict[str, Any] | None, arm: dict[str, Any]) -> None:
    print("\n-- fan-out through the schedule and the outbox (triobot)")
    print(f"scheduler fired {ours['fired']:.0f} deliveries in {ours['fan_out_seconds']:.2f} s")
    print(
        f"sent {ours['sent']:.0f} in {ours['virtual_seconds']:.1f} s of (hybrid) time:"
        f" {ours['rate']:.2f}/s = {ours['ratio']:.3f} of the configured limit (target ≥ 0.95)"
    )
    print(f"429s provoked: {ours['too_many_requests']:.0f} (target 0)")
    print(f"lost: {ours['lost']:.0f}   duplicated: {ours['duplicated']:.0f} (targets 0)")
    print(
        f"replies to the {ours['answered']} people who answered meanwhile: p50"
        f" {ours['reply_p50']:.3f} s, p95 {ours['reply_p95']:.3f} s, max"
        f" {ours['reply_max']:.3f} s (target p95 < 2 s); waited for room in the budget"
        f" {ours['reply_waited']:.2f} s in all"
    )
    print(
        f"real work: {ours['real_seconds']:.1f} s, {ours['cpu_ms_per_message']:.2f} ms CPU per"
        f" message sent or answer handled (so up to {1000 / ours['cpu_ms_per_message']:.0f}"
        f" messages/s before the machine, not the limit, is the bottleneck); peak memory"
        f" {ours['peak_mb']:.0f} MB"
    )
    if base is not None:
        print(f"\n-- PTB AIORateLimiter + gather, {base['count']} messages, real time")
        print(
            f"sent {base['sent']:.0f} in {base['real_seconds']:.1f} s: {base['rate']:.2f}/s ="
            f" {base['ratio']:.3f} of its 30/s; 429s provoked: {base['too_many_requests']:.0f};"
            f" lost: {base['lost']:.0f}; duplicated: {base['duplicated']:.0f}"
        )
        print(
            "  (and nothing durable: a crash mid-way loses every message not yet sent, with"
            " no record of which)"
        )
    print(f"\n-- re-arming {arm['rows']:.0f} pending schedule rows at start-up")
    print(
        f"start-up to armed (open, migrate, post_init, jobs): {arm['start_seconds']:.2f} s"
        f" (target < 3 s); first catch-up claim of {arm['claimed_first_tick']:.0f} due rows:"
        f" {arm['first_claim_seconds']:.2f} s"
    )
    print(
        f"the same rows as PTB JobQueue jobs: {arm['jobqueue_seconds']:.2f} s to register"
        f" ({arm['jobqueue_seconds'] / max(arm['start_seconds'], 1e-9):.1f}× triobot's start-up)"
        " — and gone again at the next restart"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--per-second", type=float, default=25.0)
    parser.add_argument(
        "--answer-share", type=float, default=0.2, help="share who answer at once (0–1)"
    )
    parser.add_argument("--baseline", type=int, default=600, help="messages for PTB, real time")
    parser.add_argument("--rearm-rows", type=int, default=100_000)
    parser.add_argument("--db", help="a PostgreSQL server: the fan-out by --workers processes")
    parser.add_argument("--workers", type=int, default=3, help="bot processes (with --db)")
    args = parser.parse_args()
    if args.db is not None:
        from bench import fanout_workers
        from bench.scratch_db import check_server

        if why := check_server(args.db):
            parser.error(why)
        print(f"fanout: {args.people} people due at the same minute, {args.workers} workers;"
              f" {args.per_second:g}/s configured; machine: {describe()}")  # fmt: skip
        return fanout_workers.main(args.db, args.people, args.workers, args.per_second)
    if args.people < 2 or not 0 <= args.answer_share <= 1 or args.rearm_rows < 10:
        parser.error("--people needs at least 2, --rearm-rows 10, --answer-share 0 to 1")
    print(f"fanout: {args.people} people due at the same minute; limit {args.per_second:g}/s;")
    print(f"  {args.answer_share:g} of them answer the moment their prompt arrives")
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="triobot-fanout-") as tmp:
        ours = asyncio.run(fanout(args.people, args.per_second, Path(tmp), args.answer_share))
        base = asyncio.run(ptb_baseline(args.baseline)) if args.baseline else None
        arm = asyncio.run(rearm(args.rearm_rows, Path(tmp)))
    report(ours, base, arm)
    failures = shortfalls(ours, arm)
    print()
    for line in failures:
        print(f"NOT VERIFIED: {line}")
    if failures:
        return 1
    for line in verified(ours, arm):
        print(f"verified: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
