"""The real `triobot run` as a child process against the stand-in over HTTP, read line by
line as it logs, for tests of starting, stopping and faults an operator meets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from bot.standin.http import StandInServer

TOKEN = "7310448215:AAHx-ProcessTestSecretPart_0123456789"


@asynccontextmanager
async def stand_in_server() -> AsyncIterator[tuple[StandInServer, str]]:
    server = StandInServer()
    runner, port = await server.start("127.0.0.1", 0)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class RunningBot:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for(self, text: str, within: float = 20.0) -> str:
        """The first log line containing `text`; fails if the process ends or time runs out."""
        deadline = time.monotonic() + within
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if text in line:
                    return line
            seen = len(self.lines)
            if self._reader.done():
                raise AssertionError(f"the bot ended before {text!r}:\n{self.output}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} within {within} s:\n{self.output}")
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=left)

    async def exit_code(self, within: float = 30.0) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout=within)
        await self._reader
        return code

    async def stop(self, sig: signal.Signals = signal.SIGTERM, within: float = 30.0) -> float:
        """Send `sig`; seconds until the process ended."""
        started = time.monotonic()
        self.process.send_signal(sig)
        await self.exit_code(within)
        return time.monotonic() - started

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.exit_code()


async def start_bot(url: str, db_path: Path, **env: str) -> RunningBot:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": url,
        "TRIOBOT_DB": str(db_path),
        "TRIOBOT_SCHEDULE_POLL_SECONDS": "1",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "run",
        env=environment,
        cwd=db_path.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return RunningBot(process)


@asynccontextmanager
async def bot_process(url: str, db_path: Path, **env: str) -> AsyncIterator[RunningBot]:
    bot = await start_bot(url, db_path, **env)
    try:
        yield bot
    finally:
        await bot.kill()


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Poll `condition` (the stand-in's record, kept in this process) until it holds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {within} s")
        await asyncio.sleep(0.05)


def assert_clean_exit(output: str) -> None:
    """No traceback and no asyncio complaint about tasks left running."""
    for bad in ("Traceback", "Task was destroyed", "was never awaited", "Unclosed"):
        assert bad not in output, f"{bad!r} in the output:\n{output}"


SIGNALS = (signal.SIGTERM, signal.SIGINT)
