"""A simulated term against the real bot process: crashes, Telegram faults, and invariants.

    .venv/bin/python bench/term.py [--teachers 1000] [--weeks 12] [--crashes 20] [--seed N]
                                   [--webhook] [--db postgresql://… [--workers 3]]

The real `triobot run` runs as a child process on the stand-in over HTTP and on a simulated
clock (TRIOBOT_SIM_CLOCK). Teachers join through their invites, answer, snooze, skip and
ignore weekly reflection prompts (text, voice notes, /reflect, typos, edits, cancelled flows);
leads schedule trio meetings, record attendance and write summaries that members approve or
ask to change; lesson-study trios run whole cycles (plans, predictions, observation and
interview notes, discussions, an agreed account). Meanwhile the bot is SIGKILLed, or stopped
with SIGTERM (each stop timed), and restarted; every fault kind is injected through
/sim/faults; during weekly fan-outs a second connection locks the database past the bot's
patience, and the disk under it (a tmpfs of its own) fills up (term_faults.py). At the end
the simulator's own record is checked against the stand-in's messages and the database; it
prints what it verified, or a NOT VERIFIED line for each invariant that failed and exits 1
(term_verdict.py).

Simulated time stands still while the bot works, but the stand-in enforces Telegram's limits
in real time (30 messages a second overall, about one a second per chat), so 1,000 teachers
take most of an hour: the run is bound by what Telegram would allow, not by the bot.
TERM_TRACE=1 prints clock steps, slow waits and every API call. With --workdir the database
ends up in <workdir>/db/term.db and the bot's log in <workdir>/bot.log.

With --db postgresql://…/postgres the term runs on a PostgreSQL database of its own made on
that server (bench/scratch_db.py, dropped after), seeded through the CLI and read by the
ledger there; --workers N (webhook mode) runs N bot processes on it behind a round-robin
load balancer (bench/term_fleet.py), and each crash or stop takes one worker at random.
The lock and disk-full episodes are SQLite's (a second sqlite3 connection, the database's
own tmpfs) and are not run on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from bench.scratch_db import check_server, scratch_database
from bench.term_checks import check, prompt_days
from bench.term_faults import FULL_SECONDS, LOCK_SECONDS, SLOW_ANSWER, Faults, tmpfs_megabytes
from bench.term_fleet import Fleet
from bench.term_people import NoReply, Person, Record
from bench.term_roster import Term, make_people, make_term, seed
from bench.term_verdict import report
from bench.term_work import Work, ready, starters
from bench.term_world import TRACE, BotProcess, Ledger, SimClock, WatchedTelegram
from bot.scheduling.timing import iso_week, local_instant
from bot.standin.http import StandInServer

LONDON = "Europe/London"
# Real seconds with something due and nothing sent before the run stops waiting for it
# (a failure): longer than any claim the bot may leave behind (2 minutes).
STALL = 180.0
FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 429, "retry_after": 1, "method": "sendMessage"},
    {"kind": "status", "status": 500, "method": "sendMessage"},
    {"kind": "status", "status": 502},
    {"kind": "slow", "seconds": SLOW_ANSWER},
    {"kind": "timeout", "seconds": 6, "method": "sendMessage"},
    {"kind": "drop", "method": "sendMessage"},
)


@dataclass
class Options:
    teachers: int = 1000
    weeks: int = 12
    crashes: int = 20
    seed: int = 1
    start: date = date(2027, 1, 4)
    workdir: Path | None = None
    verbose: bool = True
    reply_within: float = 45.0  # real seconds a person waits for an answer
    join_hours: tuple[int, ...] = (9, 11, 13, 16)  # waves, as after staff meetings
    lesson_study: bool = True  # lesson-study trios run cycles (the short test may leave it)
    # Leads write up their meetings' summaries. The short test leaves it: a summary is some
    # twenty messages in one chat, at Telegram's one a second.
    summaries: bool = True
    # Real seconds the database stays locked, and its disk full (the short test shortens them).
    lock_seconds: float = LOCK_SECONDS
    full_seconds: float = FULL_SECONDS
    # Webhook mode: the stand-in posts updates to the bot's HTTP server (README "Webhook mode").
    webhook: bool = False
    db_megabytes: int | None = None  # the database's tmpfs; by default sized to the term
    db: str | None = None  # a PostgreSQL server's URL: the term runs on a database made there
    workers: int = 1  # bot processes (more than one: PostgreSQL, webhook mode)


@dataclass
class Outcome:
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def london(day: date, hour: int, minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return local_instant(day, wall(hour, minute), ZoneInfo(LONDON))


class Simulation:
    def __init__(self, opts: Options, workdir: Path) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.workdir = workdir
        self.term: Term = make_term(opts.start, opts.weeks)
        self.clock = SimClock(workdir / "clock", london(opts.start, 7))
        self.api = WatchedTelegram(wall_clock=self.clock.wall)
        self.rec = Record()
        self.members = make_people(opts.teachers, self.rng)
        self.people = [
            Person(m, 100_000 + i, self.api, self.rec) for i, m in enumerate(self.members)
        ]
        for p in self.people:
            self.api.add_user(p.id, f"T{p.id}")
            p.within = opts.reply_within
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []
        self.crash_at: list[datetime] = []
        self.faults_at: list[datetime] = []
        self.blocked: list[Person] = []
        self.started_real = time.monotonic()
        self.crashing = False
        self.crash_turn = asyncio.Lock()  # crashes, stops and fault episodes take turns
        self.written_off = 0  # rows due that sat unsent for STALL seconds (a failure)
        self.work = Work(self)
        megabytes = opts.db_megabytes or tmpfs_megabytes(opts.teachers, opts.weeks)
        self.faults = Faults(self, megabytes, postgres=opts.db is not None)
        self.db_path: Path | str = self.faults.folder.path / "term.db"

    def log(self, text: str) -> None:
        if self.opts.verbose:
            spent = time.monotonic() - self.started_real
            print(f"[{spent:7.1f}s] {self.clock.now:%a %d %b %H:%M} {text}", flush=True)

    # -- the plan ------------------------------------------------------------------------
    def plan(self) -> list[tuple[datetime, str, Any]]:
        """What people do unprompted, and when the crashes and faults come."""
        events: list[tuple[datetime, str, Any]] = []
        monday = self.opts.start
        for p in self.people:
            # In a few waves, so hundreds join at once as after a staff meeting.
            at = london(monday, self.rng.choice(self.opts.join_hours))
            events.append((at, "join", p))
        leads = [p for p in self.people if p.m.role == "trio_lead"]
        for week in (2, 8):
            if week > self.opts.weeks:
                continue
            thursday = monday + timedelta(weeks=week - 1, days=3)
            for lead in leads:
                events.append(
                    (london(thursday - timedelta(days=3), 10), "meeting", (lead, thursday))
                )
        if self.opts.lesson_study:
            # A lesson-study trio starts its cycle once all three have joined: each
            # Wednesday of the first weeks, whoever has not managed yet tries.
            for week in range(min(3, self.opts.weeks)):
                wednesday = monday + timedelta(weeks=week, days=2)
                events.append((london(wednesday, 10), "lesson study", None))
        if self.opts.weeks >= 4:
            chosen = self.rng.sample(
                [p for p in self.people if p.m.role == "teacher"],
                max(1, len(self.people) // 100),
            )
            at = london(monday + timedelta(weeks=3), 12)
            events += [(at, "block", p) for p in chosen]
        # Crashes: half when a weekly fan-out starts (the busiest moment), half at random;
        # of each half, half are SIGKILLs and half graceful stops (SIGTERM).
        end = self.end
        tuesdays = [
            london(monday + timedelta(weeks=w, days=1), 15, 45) for w in range(self.opts.weeks)
        ]
        fan_outs = self.fan_outs()
        span = (end - london(monday, 9)).total_seconds()
        for i in range(self.opts.crashes):
            if i % 2 == 0:
                at = self.rng.choice([*fan_outs, london(monday, 11)])
            else:
                at = london(monday, 9) + timedelta(seconds=self.rng.uniform(0, span))
            events.append((at, "stop" if i % 4 >= 2 else "crash", i))
        events += self.faults.plan(fan_outs)
        for i in range(max(len(FAULTS), self.opts.crashes * 2)):  # every kind, 2 a crash
            at = self.rng.choice([*tuesdays, london(monday, 10)])
            at += timedelta(minutes=self.rng.randrange(0, 120))
            events.append((at, "fault", FAULTS[i % len(FAULTS)]))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def fan_outs(self) -> list[datetime]:
        """When the weekly prompts go out to (nearly) everyone: 15:45 London on each week's
        prompt day, from the second week (the first week's joiners are asked from the next)."""
        days = prompt_days(self).values()
        return [london(day, 15, 45) for day in days if day >= self.opts.start + timedelta(7)]

    @property
    def end(self) -> datetime:
        # The Monday after the term, past the digest of its last week.
        return london(self.opts.start + timedelta(weeks=self.opts.weeks), 10)

    # -- running -------------------------------------------------------------------------
    async def run(self) -> Outcome:
        """The term, in the database's own folder (a tmpfs, unmounted whatever happens), or
        on a PostgreSQL database of its own (dropped whatever happens)."""
        if self.opts.db is not None:
            with scratch_database(self.opts.db, "term") as url:
                self.db_path = url
                return await self._run(url)
        self.db_path = self.faults.folder.open()
        try:
            return await self._run(self.db_path)
        finally:
            self.faults.folder.close(keep=self.opts.workdir is not None)

    async def _run(self, db_path: Path | str) -> Outcome:
        await asyncio.to_thread(seed, self.workdir, db_path, self.members, self.term)
        server = StandInServer(api=self.api)
        runner, port = await server.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}"
        bot: BotProcess | Fleet
        if self.opts.workers > 1:
            bot = Fleet(
                self.opts.workers, db_path, url, self.clock.path, self.workdir, 0.2, self.rng
            )
        else:
            bot = BotProcess(
                db_path, url, self.clock.path, self.workdir / "bot.log", poll=0.2,
                webhook=self.opts.webhook,
            )  # fmt: skip
        self.bot = bot
        await bot.start()
        self.ledger = ledger = Ledger(db_path)
        try:
            return await self._term(bot, ledger, runner, url)
        finally:
            ledger.close()

    async def _term(
        self, bot: BotProcess | Fleet, ledger: Ledger, runner: Any, url: str
    ) -> Outcome:
        control = httpx.AsyncClient(base_url=url, timeout=10)
        events = self.plan()
        self.log(f"{len(self.people)} people, {len(events)} planned events")
        try:
            while True:
                await self.settle(ledger)
                if self.react():
                    continue
                # After a stall, what is due now (and stuck) is not a reason to stand still.
                after = self.clock.now if self.written_off else None
                upcoming = [
                    t for t in (ledger.next_due(after), events[0][0] if events else None) if t
                ]
                nxt = min([*upcoming, self.end])
                if nxt <= self.clock.now and self.clock.now >= self.end and not events:
                    break
                if nxt > self.clock.now:
                    self.clock.set(nxt)
                    if TRACE:
                        self.log("clock moved")
                while events and events[0][0] <= self.clock.now:
                    _, kind, what = events.pop(0)
                    await self.happen(kind, what, control)
                if self.clock.now >= self.end and not events and ledger.outstanding(self.end) == 0:
                    await self.settle(ledger)
                    if not self.react():
                        break
            stats = (await control.get("/sim/stats")).json()
        finally:
            # A fleet is stopped whole (a worker down at the end is not left to the others).
            status = await bot.stop() if bot.alive or isinstance(bot, Fleet) else 0
            await control.aclose()
            await runner.cleanup()
        self.log(f"bot stopped with status {status}")
        outcome = check(self, ledger, stats)
        if isinstance(bot, Fleet):
            outcome.figures["workers: starts of each / the balancer's forwards"] = (
                f"{[w.starts for w in bot.workers]} / {dict(bot.balancer.counts)}"
            )
        return outcome

    async def settle(self, ledger: Ledger) -> None:
        """Until every dialogue ended and nothing due now is left in the schedule or outbox
        (or nothing was sent for STALL seconds while something was due: noted, a failure)."""
        quiet_since: float | None = None
        progress: tuple[int, int] | None = None
        progressed = time.monotonic()
        while True:
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=1)
                quiet_since = None
                progressed = time.monotonic()
                continue
            if not self.bot.alive and not self.crashing:
                await self.bot.start()
            due = ledger.outstanding(self.clock.now) - self.written_off
            if due > 0:
                quiet_since = None
                if (due, len(self.api.sent)) != progress:
                    progress, progressed = (due, len(self.api.sent)), time.monotonic()
                elif time.monotonic() - progressed > STALL:
                    note = f"{due} rows due at {self.clock.now:%a %d %b %H:%M} and nothing sent"
                    self.faults.failures.append(f"the outbox stalled: {note} for {STALL:.0f} s")
                    self.log(f"stalled: {note}")
                    self.written_off += due
                    return
                await asyncio.sleep(0.1)
                continue
            # Nothing due: look again in a moment (a handler may be about to queue something).
            if quiet_since is None:
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > 0.4:
                self.faults.sample()
                return
            await asyncio.sleep(0.1)

    def spawn(self, person: Person, job: Any) -> None:
        person.busy = True

        async def run() -> None:
            try:
                await job
            except NoReply:
                pass
            except Exception as exc:  # the simulator's own bug: reported, never hidden
                self.errors.append(f"{person.m.ref}: {exc!r}")
            finally:
                person.busy = False

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def react(self) -> bool:
        """People read what arrived and act on prompts; True if anyone started something."""
        started = False
        for p in self.people:
            if p.busy or p.joined is None or p.blocked_at is not None:
                continue
            inbox = self.api.messages_in(p.id)
            # Everything from where they last read, including what came in while they were
            # busy with something else (a draft to approve that arrived mid-summary).
            for index in range(p.seen, len(inbox)):
                message = inbox[index]
                p.seen = index + 1
                if message.message_id in p.handled:
                    continue
                job = self.work.react(p, message)
                if job is None and self.is_prompt(message):
                    week = iso_week(self.clock.now, _zone(p.zone))
                    resumed = self.rec.snoozes[(p.m.ref, week)] > 0
                    job = p.on_prompt(self.rng, message, week, self.clock.now, resumed)
                if job is not None:
                    p.handled.add(message.message_id)
                    self.spawn(p, job)
                    started = True
                    break
        return started

    @staticmethod
    def is_prompt(message: Any) -> bool:
        return message.plain_text.startswith("This week's reflection") and any(
            "Answer now" in b for row in message.buttons for b, _ in row
        )

    async def happen(self, kind: str, what: Any, control: httpx.AsyncClient) -> None:
        if kind == "join":
            person: Person = what
            self.spawn(person, person.join(self.rng, self.clock.now))
        elif kind == "meeting":
            lead, day = what
            # 16:00 on the lead's own wall clock: the bot reads the time typed in their zone.
            zone = _zone(lead.zone)
            starts = local_instant(day, wall(16), zone)
            self.spawn(lead, lead.schedule_meeting(starts.astimezone(zone), starts))
        elif kind == "lesson study":
            for person, cycle in starters(self):
                if ready(self.work, cycle) and not person.busy:
                    self.spawn(person, self.work.start_cycle(person, cycle))
        elif kind == "block":
            person = what
            person.blocked_at = self.clock.now
            self.blocked.append(person)
            await control.post("/sim/block", json={"user_id": person.id})
        elif kind == "fault":
            await control.post("/sim/faults", json=what)
        elif kind in ("crash", "stop"):
            self.meanwhile(self.faults.restart(graceful=kind == "stop"))
        elif kind == "database lock":
            self.meanwhile(self.faults.lock())
        elif kind == "disk full":
            self.meanwhile(self.faults.disk_full())

    def meanwhile(self, episode: Coroutine[Any, Any, None]) -> None:
        """Run a crash, stop or fault episode; settled like a dialogue: the clock waits for it."""

        async def run() -> None:
            try:
                await episode
            except Exception as exc:  # the simulator's own bug: reported, never hidden
                self.errors.append(f"episode: {exc!r}")

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def simulate(opts: Options) -> Outcome:
    if opts.workdir is not None:
        opts.workdir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(Simulation(opts, opts.workdir).run())
    with tempfile.TemporaryDirectory(prefix="term-") as tmp:
        return asyncio.run(Simulation(opts, Path(tmp)).run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--crashes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the database and bot log here")
    parser.add_argument(
        "--webhook", action="store_true", help="webhook mode: updates posted, not polled"
    )
    parser.add_argument("--db", help="a PostgreSQL server's URL: the term runs on a database of"
                        " its own made there (by default a SQLite file)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="bot processes (PostgreSQL)")
    args = parser.parse_args(argv)
    if args.db is not None and (why := check_server(args.db)):
        parser.error(why)
    if args.workers > 1 and (args.db is None or not args.webhook):
        parser.error("--workers above 1 needs --db postgresql://… and --webhook (workers"
                     " polling one bot would take getUpdates from each other)")  # fmt: skip
    started = time.monotonic()
    outcome = simulate(
        Options(
            args.teachers, args.weeks, args.crashes, args.seed, workdir=args.workdir,
            webhook=args.webhook, db=args.db, workers=args.workers,
        )
    )  # fmt: skip
    print(describe())
    print(f"wall time: {time.monotonic() - started:.0f} s")
    lines, status = report(outcome)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["UTC", "Options", "Outcome", "simulate"]
