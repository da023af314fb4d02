"""What an operator reads: log lines in text or JSON (TRIOBOT_LOG_FORMAT), each carrying the
update, chat, person and row it came from, and never the token or what people wrote.

Logging is configured as `triobot run` configures it (`configure_logging`) and written to a
buffer; the real bot runs on the stand-in, and once as a real process in JSON."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from telegram.error import NetworkError

from bot import logs
from bot.cli.main import ProcessLog, RedactToken, configure_logging, main
from bot.flows.answers import Input
from bot.flows.engine import Actor
from bot.scheduling.scheduler import Kind
from storage.db import Transaction
from storage.outbox import OutboxRepo
from storage.schedule import Due, ScheduleRepo
from tests.botprocess import TOKEN as PROCESS_TOKEN
from tests.botprocess import bot_process, stand_in_server, until
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join, settings_for

TOKEN = "7310448215:AAHx-LogsTestSecretPart_0123456789"
SECRET = TOKEN.split(":")[1]
# A word a teacher might write about a pupil, in a sentence the bot must never log.
MARKER = "Zebediah"
SENTENCE = f"{MARKER} finally got the fractions task after we used the number line"
TEXT_IDS = re.compile(r" \[((?:[ucpr]=-?\d+ ?)+)\]$")
SHORT = {"u": "update_id", "c": "chat_id", "p": "person_id", "r": "row_id"}


@dataclass
class Captured:
    kind: str
    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def entries(self) -> list[dict[str, object]]:
        """Every line as the fields it carries: a JSON line parsed (each line must parse); a
        text line's message and the ids from its `[u=… c=…]` tail."""
        found: list[dict[str, object]] = []
        for line in self.text.splitlines():
            if self.kind == "json":
                found.append(json.loads(line))
                continue
            match = re.match(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<logger>\S+): (?P<rest>.*)$", line)
            if match is None:
                continue  # a traceback's lines, under the line that carries it
            entry: dict[str, object] = {"level": match["level"], "logger": match["logger"]}
            rest = match["rest"]
            if tail := TEXT_IDS.search(rest):
                rest = rest[: tail.start()]
                for pair in tail[1].split():
                    short, _, value = pair.partition("=")
                    entry[SHORT[short]] = int(value)
            entry["message"] = rest
            found.append(entry)
        return found

    def entry(self, message: str) -> dict[str, object]:
        matching = [e for e in self.entries() if message in str(e["message"])]
        assert matching, f"no line with {message!r} in:\n{self.text}"
        return matching[-1]


def capture(
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    token: str | None = TOKEN,
    **more: object,
) -> Iterator[Captured]:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    settings = settings_for(tmp_path / "log.db", telegram_bot_token=token, log_format=kind, **more)
    configure_logging(settings, stream=stream)
    try:
        yield Captured(kind, stream)
    finally:
        root.setLevel(level)
        for handler in list(root.handlers):
            if isinstance(handler, ProcessLog):
                root.removeHandler(handler)
            for found in [
                f for f in handler.filters if isinstance(f, logs.LogContext | RedactToken)
            ]:
                handler.removeFilter(found)


@pytest.fixture(params=["text", "json"])
def logged(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Captured]:
    yield from capture(request.param, tmp_path, monkeypatch)


@pytest.fixture
def json_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    yield from capture("json", tmp_path, monkeypatch)


async def joined_bruno(bot: BotUnderTest) -> int:
    bruno = bot.person(77, "Bruno")
    await join(bruno, "DEMOBRUNO")
    found = await bot.services.joining.person(77)
    assert found is not None
    return found[0].id


def test_json_lines_carry_time_level_logger_and_message(json_logged: Captured) -> None:
    log = logging.getLogger("triobot.test")
    log.info("outbox: %d row(s) claimed by a stopped sender put back", 3)
    try:
        raise RuntimeError("the disk is full")
    except RuntimeError:
        log.exception("outbox cycle failed; retrying in %.0f s", 2.0)
    first, second = json_logged.entries()  # each line parses on its own
    assert first["level"] == "INFO" and first["logger"] == "triobot.test"
    assert first["message"] == "outbox: 3 row(s) claimed by a stopped sender put back"
    assert "exc" not in first and "update_id" not in first  # no ids outside any work
    # The record's own wall-clock time (logging's, not the bot's clock), in UTC.
    assert abs(datetime.now(UTC) - datetime.fromisoformat(str(first["time"]))) < timedelta(
        minutes=1
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(first["time"]))
    assert second["level"] == "ERROR"
    exc = str(second["exc"])
    assert exc.startswith("Traceback") and "RuntimeError: the disk is full" in exc
    assert len(json_logged.text.splitlines()) == 2  # the traceback is inside its line


async def test_a_line_logged_while_handling_an_update_names_it_and_the_person(
    logged: Captured, db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async for bot in bot_under_test(db_path, clock, telegram_bot_token=TOKEN):
        person_id = await joined_bruno(bot)

        async def failing(actor: Actor, given: Input) -> None:
            raise RuntimeError("the engine broke")

        monkeypatch.setattr(bot.services.engine, "handle", failing)
        bruno = bot.person(77, "Bruno")
        await bruno.says("hello")
        assert "something went wrong" in bruno.last_text.lower()
    entry = logged.entry("handler failed")
    assert entry["chat_id"] == 77 and entry["person_id"] == person_id
    assert isinstance(entry["update_id"], int)
    assert "row_id" not in entry
    if logged.kind == "json":
        assert "RuntimeError: the engine broke" in str(entry["exc"])


async def test_what_a_person_wrote_never_reaches_the_log(
    logged: Captured, db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that quotes the answer in its error (a parser's ValueError does): the line and
    its traceback are logged without it, and the person is told something went wrong."""
    async for bot in bot_under_test(db_path, clock, telegram_bot_token=TOKEN):
        await joined_bruno(bot)

        async def quoting(actor: Actor, given: Input) -> None:
            raise ValueError(f"could not read {getattr(given, 'text', '')!r} as a date")

        monkeypatch.setattr(bot.services.engine, "handle", quoting)
        bruno = bot.person(77, "Bruno")
        await bruno.says(SENTENCE)
        assert "something went wrong" in bruno.last_text.lower()
        await bruno.says(f"line one\n{SENTENCE}")  # one line of several, quoted alone
    assert "handler failed" in logged.text and "ValueError" in logged.text
    assert "could not read '<said>' as a date" in logged.text
    assert MARKER not in logged.text


async def test_a_line_logged_while_sending_a_row_names_the_row_and_chat(
    logged: Captured, bot: BotUnderTest
) -> None:
    async with bot.db.transaction() as tx:
        await OutboxRepo.enqueue(tx, 77, "reminder", {"text": "Hello"}, now=bot.clock())
    bot.api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    await bot.tick()
    entry = logged.entry("(reminder) failed: Chat not found")
    found = re.match(r"outbox row (\d+) ", str(entry["message"]))
    assert found is not None
    row_id = int(found[1])
    assert entry["row_id"] == row_id and entry["chat_id"] == 77
    assert "update_id" not in entry  # the sender's work is no update's
    logging.getLogger("triobot.test").info("after the row")
    assert "row_id" not in logged.entry("after the row")  # the scope ends with the send


async def test_a_line_logged_while_firing_a_schedule_row_names_the_row(
    logged: Captured, bot: BotUnderTest
) -> None:
    async def broken(tx: Transaction, row: Due, now: datetime) -> None:
        raise RuntimeError("the template is missing")

    bot.services.scheduler.kinds["test_broken"] = Kind(broken)
    async with bot.db.transaction() as tx:
        await ScheduleRepo.add(tx, "test_broken", bot.clock())
    await bot.tick()
    entry = logged.entry("(test_broken) failed")
    row_id = entry["row_id"]
    assert isinstance(row_id, int) and f"schedule row {row_id} " in str(entry["message"])


async def test_the_token_reaches_no_line_in_message_args_traceback_or_stack(
    logged: Captured,
) -> None:
    log = logging.getLogger("telegram.ext.Updater")
    log.warning(f"polling https://api.telegram.org/bot{TOKEN}/getUpdates")
    log.warning("polling %s", f"{TOKEN}/getUpdates", stack_info=True)
    try:
        raise NetworkError(f"httpx.ConnectError: could not reach /bot{TOKEN.replace(':', '%3A')}")
    except NetworkError:
        log.exception("getUpdates failed; retrying")
    try:
        raise ValueError(f"token {TOKEN}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert SECRET not in logged.text
    assert logged.text.count("<token>") >= 4
    assert "stopped by an error" in logged.text
    if logged.kind == "json":
        entries = logged.entries()
        assert all(SECRET not in json.dumps(e) for e in entries)
        assert "ValueError: token <token>" in str(entries[-1]["exc"])
        assert "stack" in entries[1]


@pytest.mark.parametrize("kind", ["text", "json"])
def test_the_webhook_secret_reaches_no_line_either(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever has the webhook's secret token can post updates as Telegram: kept out as the
    bot token is (an aiohttp or proxy error may quote the header)."""
    webhook_secret = "hook_Secret-4711xyz"
    for logged in capture(kind, tmp_path, monkeypatch, webhook_secret=webhook_secret):
        logging.getLogger("aiohttp.server").warning(
            "bad request, headers %s", {"X-Telegram-Bot-Api-Secret-Token": webhook_secret}
        )
        assert webhook_secret not in logged.text and "<token>" in logged.text


def test_a_bad_log_format_stops_at_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRIOBOT_LOG_FORMAT", "yaml")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TRIOBOT_LOG_FORMAT" in err and "'json'" in err


async def test_a_real_run_in_json_writes_only_json_lines(tmp_path: Path) -> None:
    """`triobot run` as a process, on the stand-in over HTTP: every line it writes, from
    start to stop, is one JSON object; the updates' lines name them; nobody's words."""
    async with (
        stand_in_server() as (server, url),
        bot_process(url, tmp_path / "run.db", TRIOBOT_LOG_FORMAT="json") as running,
    ):
        await running.wait_for("running: polling")
        async with httpx.AsyncClient(base_url=url) as client:
            await client.post("/sim/users", json={"id": 77, "first_name": "Bruno"})
            # The first reply meets a 429: the wait is logged while the update is handled.
            await client.post(
                "/sim/faults",
                json={"kind": "status", "method": "sendMessage", "status": 429,
                      "retry_after": 1, "times": 1},
            )  # fmt: skip
            for text in (f"/{MARKER}", "/start DEMOBRUNO", SENTENCE):
                await client.post(
                    "/sim/updates", json={"kind": "text", "user_id": 77, "text": text}
                )
        await until(lambda: len(server.api.messages_in(77)) >= 2)
        await running.stop()
    entries = [json.loads(line) for line in running.lines]
    assert entries, "the process logged nothing"
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"] == "running: polling " + url for e in entries)
    limited = next(e for e in entries if "sendMessage limited" in e["message"])
    assert limited["chat_id"] == 77 and isinstance(limited["update_id"], int)
    assert PROCESS_TOKEN.split(":")[1] not in running.output
    assert MARKER not in running.output


def test_other_secrets_given_to_the_filter_are_redacted_too(logged: Captured) -> None:
    """The webhook's secret, when there is one, is kept out the same way as the token."""
    webhook_secret = "wh_0123456789abcdefABCDEF-secret"
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(TOKEN, webhook_secret))
    logging.getLogger("aiohttp.access").info("header %s", webhook_secret)
    assert webhook_secret not in logged.text and "header <token>" in logged.text
