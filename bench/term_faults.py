"""The term's harder faults: graceful stops, a database locked past the bot's patience, a full disk.

Graceful stops: about half the planned crashes are a SIGTERM instead of a SIGKILL, then a
restart. The bot promises (bot/app/runner.py) to end within STOP_BOUND of the signal plus one
request in flight, with exit code 0; each stop is timed from the signal to the exit.

A database lock: a second sqlite3 connection holds BEGIN IMMEDIATE for `lock_seconds` of real
time while a weekly fan-out is being sent — longer than the bot waits for a write
(storage/db.py WRITE_PATIENCE) — and then rolls back, having written nothing. People keep
acting meanwhile; what the bot could not write it answers "… not kept. Please send it
again", and they do (term_world.py, `see`).

A full disk: the bot's database lives in a tmpfs of its own (DbFolder); during a fan-out a
filler file takes every free byte for `full_seconds`, then is deleted.

After each episode the outbox must catch up (nothing due left within CATCH_UP real seconds),
and at the end no outbox row may still wait, or be claimed, long past its time. Stops and
episodes take turns with the SIGKILLs and with each other, so each one's effect is its own:
a stop's time is not a lock's wait.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sqlite3
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.term_people import PROMPT
from bot.app.runner import STOP_BOUND

if TYPE_CHECKING:
    from bench.term import Simulation
    from bench.term_world import Ledger

# The stand-in's "slow" fault: the longest it makes a client wait for an answer it then gets.
SLOW_ANSWER = 1.5
# A stop may take the bot's bound plus one request in flight (bot/app/runner.py): 5 s, plus the
# longest the stand-in makes a client wait for an answer it then gives (a "slow" one), 6.5 s.
# (A "timeout" fault's request lasts until the client's own 5 s read timeout: a stop that
# met one has 1.5 s left for everything else.)
STOP_LIMIT = STOP_BOUND + SLOW_ANSWER
LOCK_SECONDS = 25.0  # real seconds: past the bot's 10 s write patience, twice over
FULL_SECONDS = 20.0
CATCH_UP = 600.0  # real seconds, after an episode, for the outbox to send everything due
# At the end, an outbox row still waiting or claimed this long (simulated) after it was due
# is stuck: the term ends only once everything due has gone, so this should never count one.
STUCK_AFTER = timedelta(minutes=10)
FAN_OUT_SEEN_WITHIN = 10.0  # real seconds: an episode waits this long for a fan-out's first prompt


def tmpfs_megabytes(teachers: int, weeks: int) -> int:
    """The database folder's size: a 28-teacher, 12-week term left a 3.2 MB database (about
    9 KB a teacher-week: the outbox, digest files, flow states), with a 4 MB WAL beside it.
    Three times that a teacher-week, plus 32 MiB for the WAL and the -shm, is headroom."""
    return 32 + teachers * weeks * 27 // 1024


class DbFolder:
    """The folder of the bot's database: a tmpfs of its own when one can be mounted (the
    simulator runs as root), so that a filler file can take its last free byte."""

    def __init__(self, path: Path, megabytes: int) -> None:
        self.path = path
        self.megabytes = megabytes
        self.mounted = False
        self.note = ""  # why there is no tmpfs, when there is none
        self.filler = path / "filler"

    def open(self) -> Path:
        """Mount the tmpfs (or say why not, out loud); the database's path inside it."""
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.note = "not running as root"
        else:
            size = f"size={self.megabytes}m,mode=0700"
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(self.path)],
                capture_output=True,
                text=True,
                check=False,
            )
            self.mounted = done.returncode == 0
            self.note = "" if self.mounted else f"mount failed: {(done.stderr or '').strip()}"
        if not self.mounted:
            print(f"NOTE: no tmpfs for the database ({self.note}): the disk-full episode is"
                  " skipped", flush=True)  # fmt: skip
        return self.path / "term.db"

    def close(self, keep: bool) -> None:
        """Unmount; with `keep`, the database files stay in the folder (copied out and back)."""
        if not self.mounted:
            return
        self.empty()
        kept = self.path.with_name(self.path.name + ".kept")
        if keep:
            kept.mkdir(exist_ok=True)
            for file in self.path.glob("term.db*"):
                shutil.copy2(file, kept / file.name)
        for argv in (["umount", str(self.path)], ["umount", "-l", str(self.path)]):
            if subprocess.run(argv, capture_output=True, check=False).returncode == 0:
                self.mounted = False
                break
        if self.mounted:
            print(f"NOTE: could not unmount the tmpfs at {self.path}", flush=True)
        elif keep:
            for file in kept.iterdir():
                shutil.move(file, self.path / file.name)
            kept.rmdir()

    def usage(self) -> tuple[int, int]:
        """(bytes used, bytes in all) on the folder's file system."""
        found = os.statvfs(self.path)
        return (found.f_blocks - found.f_bfree) * found.f_frsize, found.f_blocks * found.f_frsize

    def fill(self) -> int:
        """Write zeros until the file system refuses (ENOSPC); how many bytes that took."""
        written = 0
        with self.filler.open("wb", buffering=0) as out:
            for size in (1 << 20, 1 << 12, 1):  # to the last page
                chunk = bytes(size)
                try:
                    while True:
                        written += out.write(chunk) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        return written

    def empty(self) -> None:
        self.filler.unlink(missing_ok=True)


@dataclass
class Episode:
    kind: str  # "database lock" | "disk full"
    sim_at: datetime
    began: float  # real seconds into the run
    fan_out: bool  # a fan-out's prompts were going out when it began
    due: int = 0  # schedule and outbox rows due and not done, as it began
    held: float = 0.0  # real seconds
    what: str = ""  # what was done (the filler's size)
    not_kept: int = 0  # "not kept" replies people met, from its start to the catch-up
    log: Counter[str] = field(default_factory=Counter)  # the bot's log lines meanwhile
    caught_up: float | None = None  # real seconds from the release until nothing was due
    left: int = 0  # rows still due CATCH_UP seconds after the release


class Faults:
    """Plans and runs the stops and episodes, and reports on them."""

    def __init__(self, sim: Simulation, megabytes: int, postgres: bool = False) -> None:
        self.sim = sim
        self.postgres = postgres  # the episodes are SQLite's: none is planned on PostgreSQL
        self.folder = DbFolder(sim.workdir / "db", megabytes)
        self.planned: list[str] = []
        self.episodes: list[Episode] = []
        self.failures: list[str] = []  # seen while running: the bot gone mid-episode, …
        self.peak = 0  # bytes used in the database folder, at its fullest seen (no filler)

    def plan(self, fan_outs: list[datetime]) -> list[tuple[datetime, str, Any]]:
        """A lock at one weekly fan-out and a full disk at another (the same one, one after
        the other, when the term has only one)."""
        if not fan_outs or self.postgres:
            return []
        kinds = ["database lock"] + (["disk full"] if self.folder.mounted else [])
        if len(fan_outs) >= len(kinds):
            picks = self.sim.rng.sample(fan_outs, len(kinds))
        else:
            picks = [fan_outs[0]] * len(kinds)
        self.planned = kinds
        return list(zip(picks, kinds, [None] * len(kinds), strict=True))

    async def restart(self, graceful: bool) -> None:
        """SIGKILL, or SIGTERM timed to the exit, at a random moment of whatever the bot is
        doing; then start it again."""
        sim = self.sim
        # Crashes planned for the same moment come one after another, each a moment after the
        # last one's restart: that bot may still be starting (a SIGTERM then must still end
        # it with exit code 0).
        async with sim.crash_turn:
            sim.crashing = True
            try:
                await asyncio.sleep(sim.rng.uniform(0.5, 2.5))
                if not sim.bot.alive:
                    await sim.bot.start()
                    await asyncio.sleep(sim.rng.uniform(2.0, 3.0))
                if graceful:
                    took, code = await sim.bot.terminate()
                    sim.log(f"SIGTERM #{len(sim.bot.stops)}: exit code {code} after {took:.2f} s")
                else:
                    await sim.bot.kill()
                    sim.log(f"SIGKILL #{sim.bot.kills}")
                await sim.bot.start()
            finally:
                sim.crashing = False

    async def lock(self) -> None:
        """BEGIN IMMEDIATE from a connection of our own, held, then rolled back."""
        path = self.sim.db_path
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)

        async def take() -> str:
            # The bot's own writes are short: waiting for one of them takes milliseconds.
            try:
                await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
            except sqlite3.Error:
                conn.close()
                raise
            return "BEGIN IMMEDIATE from a second connection"

        async def release() -> None:
            await asyncio.to_thread(conn.execute, "ROLLBACK")
            conn.close()

        await self._episode("database lock", take, release, self.sim.opts.lock_seconds)

    async def disk_full(self) -> None:
        """A filler file takes every free byte of the database's tmpfs, then is deleted."""

        async def fill() -> str:
            self.sample()
            written = await asyncio.to_thread(self.folder.fill)
            return f"filler {written / 2**20:.1f} MiB, {self.free()} bytes left"

        async def empty() -> None:
            await asyncio.to_thread(self.folder.empty)

        await self._episode("disk full", fill, empty, self.sim.opts.full_seconds)

    def sample(self) -> None:
        """Note how full the database's folder is (between episodes: no filler in it)."""
        if self.folder.mounted:
            self.peak = max(self.peak, self.folder.usage()[0])

    def free(self) -> int:
        used, size = self.folder.usage()
        return size - used

    async def _episode(
        self,
        kind: str,
        begin: Callable[[], Awaitable[str]],
        end: Callable[[], Awaitable[None]],
        seconds: float,
    ) -> None:
        sim = self.sim
        sent = len(sim.api.sent)
        async with sim.crash_turn:
            # Into a running bot, as the crashes are (a start meeting a long lock refuses,
            # exit 2: that is not what this episode is about).
            if not sim.bot.alive:
                await sim.bot.start()
            await sim.bot.up()
            fan_out = await self._fan_out_under_way(sent)
            ep = Episode(kind, sim.clock.now, time.monotonic() - sim.started_real, fan_out)
            ep.due = sim.ledger.outstanding(sim.clock.now)
            kept, log_from = len(sim.api.not_kept), sim.bot.log.stat().st_size
            ep.what = await begin()
            began = time.monotonic()
            sim.log(f"{kind} begins ({ep.what}; {ep.due} rows due)")
            try:
                await self._meanwhile(began + seconds, kind)
            finally:
                await end()
            ep.held = time.monotonic() - began
            sim.log(f"{kind} ends after {ep.held:.1f} s")
            await self._catch_up(ep)
            caught = f"in {ep.caught_up:.1f} s" if ep.caught_up is not None else "not in time"
            sim.log(f"{kind}: the outbox caught up {caught}")
            ep.not_kept = len(sim.api.not_kept) - kept
            ep.log = self._log_since(log_from)
            self.episodes.append(ep)

    async def _fan_out_under_way(self, sent: int) -> bool:
        """Wait until a weekly prompt went out since message `sent` (the fan-out is being
        sent); False if none came within FAN_OUT_SEEN_WITHIN."""
        deadline = time.monotonic() + FAN_OUT_SEEN_WITHIN
        while time.monotonic() < deadline:
            if any(m.plain_text.startswith(PROMPT) for m in self.sim.api.sent[sent:]):
                return True
            await asyncio.sleep(0.05)
        return False

    async def _keep_going(self, kind: str) -> None:
        """People act on what arrived; a bot that ended meanwhile is a failure, restarted."""
        sim = self.sim
        sim.react()
        if not sim.bot.alive:
            code = sim.bot.process.returncode if sim.bot.process else None
            self.failures.append(f"the bot exited (code {code}) during the {kind} episode")
            sim.log(f"the bot exited (code {code}) during the {kind}: starting it again")
            await sim.bot.start()

    async def _meanwhile(self, until: float, kind: str) -> None:
        while time.monotonic() < until:
            await self._keep_going(kind)
            await asyncio.sleep(0.25)

    async def _catch_up(self, ep: Episode) -> None:
        """Until nothing is due (for half a second), or CATCH_UP passed: the rows left then."""
        sim = self.sim
        released = time.monotonic()
        quiet: float | None = None
        while True:
            await self._keep_going(ep.kind)
            now = time.monotonic()
            due = sim.ledger.outstanding(sim.clock.now)
            if due == 0:
                quiet = quiet or now
                if now - quiet > 0.5:
                    ep.caught_up = quiet - released
                    return
            else:
                quiet = None
            if now - released > CATCH_UP:
                ep.left = due
                self.failures.append(f"{due} rows still due {CATCH_UP:.0f} s after the {ep.kind}")
                return
            await asyncio.sleep(0.2)

    def _log_since(self, offset: int) -> Counter[str]:
        """The bot's warnings and errors from `offset` on, by what they say."""
        found: Counter[str] = Counter()
        with self.sim.bot.log.open("rb") as log:
            log.seek(offset)
            for raw in log:
                line = raw.decode("utf-8", "replace")
                for needle, name in LOG_KINDS:
                    if needle in line:
                        found[name] += 1
                        break
                else:
                    if " WARNING " in line:
                        found["other warnings"] += 1
                    elif " ERROR " in line or " CRITICAL " in line:
                        found["errors"] += 1
        return found

    def report(self, ledger: Ledger, failures: list[str]) -> dict[str, Any]:
        """The figures of the stops and episodes; what failed goes into `failures`."""
        sim, figures = self.sim, dict[str, Any]()
        stops = sim.bot.stops
        times = sorted(took for took, _, _ in stops)
        figures["graceful stops (SIGTERM + restart)"] = sum(not final for _, _, final in stops)
        if times:
            figures["stop times, SIGTERM to exit (n / median / max)"] = (
                f"{len(times)} / {statistics.median(times):.2f} s / {times[-1]:.2f} s"
                f" (limit {STOP_LIMIT:.1f} s; the last one ends the run;"
                f" {sim.bot.stopped_starting} came while it was still starting)"
            )
        figures["exit codes after SIGTERM"] = dict(Counter(str(code) for _, code, _ in stops))
        slow = [f"{took:.2f} s" for took, _, _ in stops if took > STOP_LIMIT]
        if slow:
            failures.append(f"{len(slow)} stops took longer than {STOP_LIMIT:.1f} s: {slow}")
        codes = [code for _, code, _ in stops if code != 0]
        if codes:
            failures.append(f"{len(codes)} stops did not exit with code 0: {codes}")
        during = sum(ep.not_kept for ep in self.episodes)
        figures["'not kept' refusals met by people (sent again) / in the episodes"] = (
            f"{len(sim.api.not_kept)} / {during}"
        )
        for ep in self.episodes:
            figures[f"{ep.kind} episode"] = _describe(ep)
        if not self.folder.mounted and self.folder.note:
            figures["disk full episode"] = f"skipped: {self.folder.note}"
        if self.postgres:
            figures["database lock and disk full episodes"] = (
                "skipped: SQLite's (a second sqlite3 connection, the database's own tmpfs)"
            )
        for kind in self.planned:
            if not any(ep.kind == kind for ep in self.episodes):
                failures.append(f"the {kind} episode was planned but never ran")
        stuck = ledger.stuck(sim.clock.now - STUCK_AFTER)
        figures["rows stuck (outbox rows waiting or claimed 10+ min past due)"] = stuck
        if stuck:
            failures.append(f"{stuck} outbox rows still waiting or claimed at the end")
        if self.folder.mounted:
            self.sample()
            size = self.folder.usage()[1]
            figures["database tmpfs: most used seen / size"] = (
                f"{self.peak / 2**20:.1f} / {size / 2**20:.0f} MiB"
            )
        failures.extend(self.failures)
        return figures


# What the bot's log says in an episode (the first match names a line).
LOG_KINDS = (
    ("an update was not saved", "updates not saved"),
    ("outbox paused", "outbox paused"),
    ("sent but not yet recorded", "sent, recorded late"),
    ("Not starting", "starts refused"),
    ("Traceback", "tracebacks"),
)


def _describe(ep: Episode) -> str:
    moment = f"{ep.sim_at:%a %d %b %H:%M} (real {ep.began:.0f} s)"
    # A second episode at the same fan-out begins once the first one's catch-up sent it all.
    during = "no fan-out seen" if not ep.fan_out else "during a fan-out" if ep.due else "after it"
    caught = (
        f"outbox caught up {ep.caught_up:.1f} s after"
        if ep.caught_up is not None
        else f"{ep.left} rows still due after {CATCH_UP:.0f} s"
    )
    return (
        f"{moment}, {during}, held {ep.held:.1f} s ({ep.what}); {ep.due} rows due as it began;"
        f" {ep.not_kept} 'not kept' met; bot log {json_counts(ep.log)}; {caught}"
    )


def json_counts(counts: Counter[str]) -> str:
    return "{" + ", ".join(f"{k}: {n}" for k, n in counts.most_common()) + "}"
