"""The simulated term's moving parts: the bot process, the clock, the stand-in, and waiting.

The bot runs as a real `python -m bot.cli.main run` process against the stand-in over HTTP, on the
simulated clock (TRIOBOT_SIM_CLOCK, a file this side rewrites). Time stands still while the
bot works; the simulator moves it to the next thing due once everything due now is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import clock as sim_clock
from bot.standin.api import FakeTelegram, SentMessage
from storage.db import from_db_time, to_db_time
from storage.postgres_sql import connect_reader, to_postgres
from storage.store import is_postgres

TOKEN = "123456:TERMSIM"
REFUSED_GRACE = 3.0  # real seconds
# How long after a person's message the bot's messages to them count as its answer. The
# simulated clock stands still while people type, so an answer normally carries the very
# second they wrote; a crash mid-dialogue delays it by the restart (a simulated minute or two).
REPLY_WINDOW = 10 * 60.0  # simulated seconds
TRACE = bool(os.environ.get("TERM_TRACE"))
# The bot's answer to an update it could not write (prompts/en/errors/not_saved.j2).
NOT_KEPT = "not kept. Please send it again"
RESENDS = 6  # how often a person sends the same again after "not kept" before giving up
# "Please send it again in a minute": a moment, in real seconds (the simulated clock stands
# still meanwhile). Each refusal already took the bot's write patience (10 s) to come.
RESEND_PAUSE = 2.0
# A stopping bot still running after this long is killed (the stop check fails long before).
# bot/app/runner.py's line once a start is done: handlers installed, polling, the outbox running.
RUNNING = (b"running: polling", b"running: webhook")
STOP_GIVE_UP = 30.0
# Before anything the bot schedules: "nothing due after it" leaves nothing out.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class WatchedTelegram(FakeTelegram):
    """The stand-in, telling waiters which chats the bot just touched."""

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        super().__init__(wall_clock=wall_clock)
        self.touched: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        # When a message to a chat was last refused with a 5xx (never delivered, and the bot
        # does not retry a reply): a waiter there need not sit out its whole patience.
        self.refused_at: dict[int, float] = {}
        # When (simulated seconds) each person sent the bot something: the bot's answer to a
        # message typed at 21:00 is a reply, not a message sent into their quiet hours.
        self.spoke_at: dict[int, list[float]] = defaultdict(list)
        # When (real seconds) each person last sent something: how long an answer took.
        self.last_spoke: dict[int, float] = {}
        # Every message the bot sent or edited, per chat, with when (real seconds): whether
        # an answer a person stopped waiting for came later, and how late.
        self.changes: dict[int, list[tuple[float, SentMessage]]] = defaultdict(list)
        # "Not kept" answers someone sent the same again for, (chat, message id), and when
        # (real seconds) each was met.
        self.refusals_met: set[tuple[int, int]] = set()
        self.not_kept: list[float] = []

    def push_update(self, update: dict[str, Any]) -> None:
        body = update.get("message") or update.get("edited_message") or update.get("callback_query")
        sender = (body or {}).get("from", {}).get("id")
        if sender is not None:
            self.spoke_at[int(sender)].append(self.wall_clock())
            self.last_spoke[int(sender)] = time.monotonic()
        super().push_update(update)

    def answers_them(self, message: SentMessage, within: float = REPLY_WINDOW) -> bool:
        """Whether `message` went out within `within` simulated seconds of something they sent."""
        # Message dates are whole seconds, so one written at 12.7 s carries 12.
        return any(
            -1 < message.date - said <= within for said in self.spoke_at.get(message.chat_id, ())
        )

    async def handle(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
    ) -> tuple[int, dict[str, Any]]:
        query_user = self.open_queries.get(str(params.get("callback_query_id", "")))
        began = time.monotonic()
        result = await super().handle(method, params, files)
        if TRACE:
            print(f"    api {began:.1f} {method} chat={params.get('chat_id')} -> {result[0]}"
                  f" ({time.monotonic() - began:.1f} s)", flush=True)  # fmt: skip
        if result[0] == 200:
            self._note_change(method.lower(), params)
        for chat in (params.get("chat_id"), query_user):
            if chat is not None:
                try:
                    if result[0] >= 500:
                        self.refused_at[int(chat)] = time.monotonic()
                    self.touched[int(chat)].set()
                except (TypeError, ValueError):
                    pass
        return result

    def _note_change(self, method: str, params: dict[str, Any]) -> None:
        try:
            chat = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            return
        mine = self.by_chat.get(chat) or []
        if method.startswith(("send", "copy", "forward")) and method != "sendchataction":
            changed = mine[-1:]
        elif method.startswith("edit"):
            wanted = int(params.get("message_id", 0))
            changed = [m for m in reversed(mine) if m.message_id == wanted][:1]
        else:
            return
        for m in changed:
            self.changes[chat].append((time.monotonic(), m))

    def answered_after(
        self, chat: int, since: float, match: Callable[[SentMessage], bool]
    ) -> float | None:
        """Real seconds from `since` to the first message sent or edited after it that
        `match`es, None if there was none."""
        for at, m in self.changes.get(chat, ()):
            if at >= since and match(m):
                return at - since
        return None

    async def wait_for(
        self, chat: int, found: Callable[[list[SentMessage]], bool], within: float
    ) -> bool:
        began = time.monotonic()
        deadline = began + within
        event = self.touched[chat]
        while True:
            if found(self.messages_in(chat)):
                return True
            refused = self.refused_at.get(chat, 0.0)
            if refused >= began:
                # A reply was refused: give the bot REFUSED_GRACE more to answer some other
                # way (another message of the same dialogue), then stop waiting.
                deadline = min(deadline, refused + REFUSED_GRACE)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(left, 0.5))

    def is_refusal(self, message: SentMessage) -> bool:
        """The bot's "… not kept. Please send it again", not yet sent again for."""
        met = (message.chat_id, message.message_id) in self.refusals_met
        return NOT_KEPT in message.plain_text and not met

    def refusal(self, chat: int, since: int) -> SentMessage | None:
        """The first "not kept" in `chat` from message `since` on not yet sent again for."""
        return next((m for m in self.messages_in(chat)[since:] if self.is_refusal(m)), None)

    async def met(self, refusal: SentMessage) -> None:
        """Someone met a "not kept": noted, and a moment passes before they send it again."""
        self.refusals_met.add((refusal.chat_id, refusal.message_id))
        self.not_kept.append(time.monotonic())
        await asyncio.sleep(RESEND_PAUSE)

    async def see(
        self,
        chat: int,
        seen: Callable[[], bool],
        since: int,
        send: Callable[[], None],
        within: float,
    ) -> bool:
        """Wait until `seen()` after an update sent when `chat` had `since` messages; after
        each "not kept" there, `send()` it again, and wait afresh. Whether it was seen."""
        for _ in range(RESENDS + 1):

            def answered(_: list[SentMessage], since: int = since) -> bool:
                return seen() or self.refusal(chat, since) is not None

            await self.wait_for(chat, answered, within)
            refusal = None if seen() else self.refusal(chat, since)
            if refusal is None:
                break
            await self.met(refusal)
            since = len(self.messages_in(chat))
            send()
        return seen()


class SimClock:
    """The simulated now: this process reads it directly; the bot reads the file."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.now = start
        sim_clock.write(path, start)

    def set(self, moment: datetime) -> None:
        if moment < self.now:
            raise ValueError("time does not run backwards")
        self.now = moment
        sim_clock.write(self.path, moment)

    def wall(self) -> float:
        return self.now.timestamp()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """The real bot, started, SIGKILLed and restarted."""

    def __init__(
        self,
        db_path: Path | str,
        url: str,
        clock: Path,
        log: Path,
        poll: float,
        webhook: bool = False,
        webhook_url: str | None = None,
    ) -> None:
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": url,
            # Simulated people type at machine speed while the simulated clock stands still,
            # so per-person flood control (on the bot's clock) would drop a lead's long
            # dialogue; it has its own tests (tests/test_flood.py).
            "TRIOBOT_FLOOD_PER_MINUTE": "0",
            "TRIOBOT_DB": str(db_path),
            sim_clock.ENV: str(clock),
            "TRIOBOT_SCHEDULE_POLL_SECONDS": str(poll),
        }
        self.listen: str | None = None  # host:port of its HTTP server (webhook mode)
        if webhook:
            # The stand-in posts updates to this port, the same one across restarts (or,
            # with `webhook_url`, to a load balancer in front of several workers).
            listen = f"127.0.0.1:{free_port()}"
            self.listen = listen
            self.env.update(
                TRIOBOT_HTTP_LISTEN=listen,
                TRIOBOT_WEBHOOK_URL=webhook_url or f"http://{listen}/telegram/update",
                TRIOBOT_WEBHOOK_SECRET="term-simulation-secret",
            )
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0
        self.log_from = 0  # where this start's lines begin in the log
        self.stopped_starting = 0  # SIGTERMs that came before a start was done
        # (seconds from SIGTERM to exit, exit code or None, whether it was the run's last)
        self.stops: list[tuple[float, int | None, bool]] = []

    async def start(self) -> None:
        self.log_from = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli.main", "run",
                env=self.env, cwd=self.log.parent, stdout=out, stderr=out,
            )  # fmt: skip
        self.starts += 1

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills += 1

    async def terminate(self, final: bool = False) -> tuple[float, int | None]:
        """SIGTERM, as a supervisor stops a service: (real seconds from the signal to the
        process's exit, its exit code). One still running after STOP_GIVE_UP is SIGKILLed
        and its code is None: a stop that never ended, not a slow one."""
        assert self.process is not None
        self.stopped_starting += not self.is_up()
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.wait_for(self.process.wait(), STOP_GIVE_UP)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            code = None
        took = time.monotonic() - began
        self.stops.append((took, code, final))
        return took, code

    async def stop(self) -> int:
        """The run's last stop (SIGTERM, timed like the others); its exit code, -1 if none."""
        assert self.process is not None
        if self.process.returncode is not None:
            return self.process.returncode
        _, code = await self.terminate(final=True)
        return -1 if code is None else code

    async def up(self, within: float = 60.0) -> bool:
        """Wait until this start got as far as polling (its log says so, after the signal
        handlers are in place); False if it ended first or took longer than `within`."""
        deadline = time.monotonic() + within
        while self.alive and time.monotonic() < deadline:
            if self.is_up():
                return True
            await asyncio.sleep(0.1)
        return False

    def is_up(self) -> bool:
        with self.log.open("rb") as log:
            log.seek(self.log_from)
            seen = log.read()
            return any(marker in seen for marker in RUNNING)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


class Ledger:
    """Read-only looks at the bot's database: what is due, what is waiting to be sent.
    On PostgreSQL its SQL goes through the store's own translation (storage/postgres.py)."""

    def __init__(self, db_path: Path | str) -> None:
        self.postgres = is_postgres(db_path)
        self.db: Any
        if self.postgres:
            self.db = connect_reader(str(db_path))
        else:
            self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
            self.db.row_factory = sqlite3.Row

    def outstanding(self, now: datetime) -> int:
        """Work due by `now` and not done: schedule rows, and outbox rows waiting or claimed
        by a sender (a claimed row is a message in flight, or one a killed sender left)."""
        stamp = to_db_time(now)
        row = self._one(
            "SELECT (SELECT COUNT(*) FROM schedule WHERE status = 'pending' AND due_at <= ?)"
            " + (SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND not_before <= ?)"
            " + (SELECT COUNT(*) FROM outbox WHERE status = 'sending')",
            (stamp, stamp),
        )
        return int(row[0])

    def next_due(self, after: datetime | None = None) -> datetime | None:
        """The first moment something is due (later than `after`, if given)."""
        stamp = to_db_time(after if after is not None else EARLIEST)
        row = self._one(
            "SELECT MIN(t) FROM (SELECT MIN(due_at) AS t FROM schedule WHERE status = 'pending'"
            " AND due_at > ? UNION ALL SELECT MIN(not_before) FROM outbox"
            " WHERE status = 'pending' AND not_before > ?) AS due",
            (stamp, stamp),
        )
        return from_db_time(row[0]) if row[0] else None

    def stuck(self, before: datetime) -> int:
        """Outbox rows still waiting or claimed that were due before `before`."""
        row = self._one(
            "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending') AND not_before < ?",
            (to_db_time(before),),
        )
        return int(row[0])

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows readable by name and by position, from either store."""
        if self.postgres:
            text, takes = to_postgres(sql)
            return list(self.db.execute(text, params if takes else None).fetchall())
        return self.db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self.query(sql, params)[0]

    def close(self) -> None:
        self.db.close()


def utc_of(message: SentMessage) -> datetime:
    return datetime.fromtimestamp(message.date, UTC)
