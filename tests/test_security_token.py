"""The bot token never reaches a log line, a traceback, an error reply, a stored error or
the stand-in's own output: checked on a real `triobot run` process against the stand-in over
HTTP with faults injected, and in process with a handler that fails quoting the token."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from telegram import Bot
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.cli.main import RedactToken, configure_logging
from bot.programme.demo import seed_demo
from bot.standin.http import StandInServer
from bot.telegram.handlers import fallback
from bot.telegram.sender import OutboxSender
from storage.db import Database
from storage.outbox import OutboxRepo
from tests.botprocess import stand_in_server
from tests.conftest import FakeClock
from tests.harness import bot_under_test, settings_for

TOKEN = "7310448215:AAHx-SecurityReviewSecretPart_0123456"
SECRET = TOKEN.split(":")[1]


@pytest.fixture
async def server() -> AsyncIterator[tuple[StandInServer, str]]:
    async with stand_in_server() as running:
        yield running


async def start_bot(url: str, tmp_path: Path) -> asyncio.subprocess.Process:
    db_path = tmp_path / "run.db"
    db = await Database.open(db_path)
    await seed_demo(db)
    await db.close()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": url,
        "TRIOBOT_DB": str(db_path),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_a_token_telegram_rejects_is_not_printed_with_the_traceback(
    server: tuple[StandInServer, str], tmp_path: Path
) -> None:
    """PTB's InvalidToken quotes the token; uncaught, Python would print it to stderr."""
    _, url = server
    async with httpx.AsyncClient(base_url=url) as client:
        await client.post(
            "/sim/faults",
            json={
                "kind": "status",
                "method": "getMe",
                "status": 401,
                "description": "Unauthorized",
            },
        )
    process = await start_bot(url, tmp_path)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    text = output.decode()
    assert process.returncode != 0
    assert "was rejected by the server" in text  # the error itself is still reported
    assert SECRET not in text
    assert "<token>" in text


async def test_a_running_bot_under_faults_never_logs_or_sends_the_token(
    server: tuple[StandInServer, str], tmp_path: Path
) -> None:
    stand_in, url = server
    process = await start_bot(url, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            await client.post("/sim/users", json={"id": 77, "first_name": "Bruno"})
            # Faults on the way: a failed getUpdates, then replies that fail in the handler
            # (a 500 and a dropped connection), so the error handler logs and answers.
            await client.post(
                "/sim/faults",
                json={"kind": "status", "method": "getUpdates", "status": 502, "times": 1},
            )
            await client.post(
                "/sim/faults",
                json={"kind": "status", "method": "sendMessage", "status": 500, "times": 1},
            )
            for text in ("/start DEMOBRUNO", "/nonsense", f"/start {TOKEN}", "hello"):
                await client.post(
                    "/sim/updates", json={"kind": "text", "user_id": 77, "text": text}
                )
            await client.post(
                "/sim/faults", json={"kind": "drop", "method": "sendMessage", "times": 1}
            )
            await client.post("/sim/updates", json={"kind": "text", "user_id": 77, "text": "/help"})
            await client.post(
                "/sim/updates",
                json={"kind": "callback", "user_id": 77, "message_id": 1, "data": "f:1:1:x~forged"},
            )
            deadline = asyncio.get_running_loop().time() + 30
            while asyncio.get_running_loop().time() < deadline:
                sent = (await client.get("/sim/messages", params={"chat_id": 77})).json()
                if len(sent["result"]) >= 4:
                    break
                await asyncio.sleep(0.2)
            stats = (await client.get("/sim/stats")).json()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    log = output.decode()
    assert stats["faults_injected"].get("drop") == 1
    assert "getUpdates failed (NetworkError: Bad Gateway)" in log  # the 502, logged
    assert SECRET not in log
    every_message = [
        f"{m.text} {m.reply_markup} {m.document[1].decode(errors='replace') if m.document else ''}"
        for m in stand_in.api.sent
    ]
    assert len(stand_in.api.messages_in(77)) >= 4
    assert not [m for m in every_message if SECRET in m]


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[io.StringIO]:
    """configure_logging as `triobot run` calls it, writing to a buffer this test reads."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    configure_logging(settings_for(tmp_path / "log.db", telegram_bot_token=TOKEN))
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for other in root.handlers:
            for found in [f for f in other.filters if isinstance(f, RedactToken)]:
                other.removeFilter(found)


async def test_a_handler_failing_with_the_token_in_its_error_is_logged_and_answered_without_it(
    logged: io.StringIO, monkeypatch: pytest.MonkeyPatch, db_path: Path, clock: FakeClock
) -> None:
    async def leaky(*_: object) -> None:
        # What an httpx error carrying the request URL looks like to the error handler.
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")

    monkeypatch.setattr(fallback, "identify", leaky)
    async for bot in bot_under_test(db_path, clock, telegram_bot_token=TOKEN):
        person = bot.person(41, "Ana")
        await person.says("/nonsense")
        assert "something went wrong" in person.last_text.lower()
        assert not [m for m in person.inbox if SECRET in (m.text or "")]
    log = logged.getvalue()
    assert "handler failed" in log and "RuntimeError" in log
    assert SECRET not in log
    assert "api.telegram.org/bot<token>/sendMessage failed" in log


def test_uncaught_errors_and_urlencoded_tokens_are_redacted(logged: io.StringIO) -> None:
    try:
        raise ValueError(f"token {TOKEN.replace(':', '%3A')}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    logging.getLogger("telegram.ext.Updater").warning(
        "polling %s", f"{TOKEN}/getUpdates", stack_info=True
    )
    log = logged.getvalue()
    assert "stopped by an error" in log and "ValueError" in log
    assert "polling" in log
    assert SECRET not in log


class LeakyRequest(BaseRequest):
    """A network that fails the way httpx can: quoting the URL, and so the token."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_: object
    ) -> tuple[int, bytes]:
        raise NetworkError(f"httpx.ConnectError: could not reach {url}")


async def test_a_network_error_stored_for_deliveries_does_not_hold_the_token(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        await OutboxRepo.enqueue(tx, 41, "reminder", {"text": "Hello"}, now=clock())
    sender = OutboxSender(db, Bot(TOKEN, request=LeakyRequest()), clock=clock)
    assert await sender.drain() == 0
    error = await db.fetchval("SELECT last_error FROM outbox")
    assert error.startswith("network: ") and "<token>" in error
    assert SECRET not in error


async def test_the_stand_in_over_http_does_not_print_the_tokens_it_is_sent() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "fake-telegram",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    banner = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
    url = banner.split(" on ")[1].split()[0]
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            # Malformed calls make the server log a traceback.
            await client.post(
                f"/bot{TOKEN}/sendMessage",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            await client.post(f"/bot{TOKEN}/getUpdates", json={"timeout": "soon"})
            await client.get(f"/bot{TOKEN}/noSuchMethod")
            await client.get(f"/file/bot{TOKEN}/missing")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    text = banner + output.decode()
    assert "Error handling request" in text  # the failures were logged
    assert SECRET not in text
