"""Shared fixtures: a controllable clock and a fresh on-disk database per test."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.store import open_store


class FakeClock:
    """Wall time for the bot (UTC datetimes) and monotonic time for the stand-in."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        self.elapsed = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        step = timedelta(seconds=seconds, **delta)
        self.now += step
        self.elapsed += step.total_seconds()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_stores: run the test on SQLite and on PostgreSQL (tests/postgres.py)",
    )
    config.addinivalue_line("markers", "sqlite_only: in a both_stores module, SQLite alone")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" not in metafunc.fixturenames:
        return
    node = metafunc.definition
    if node.get_closest_marker("both_stores") and not node.get_closest_marker("sqlite_only"):
        metafunc.parametrize("store", ["sqlite", "postgresql"], indirect=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.postgres import drop_template

    drop_template()


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """Which store the test runs on: "sqlite", or "postgresql" in a both_stores test.

    TRIOBOT_TEST_STORE=postgresql runs every other test that opens a database on PostgreSQL
    instead (not sqlite_only ones): a sweep for SQL that only SQLite takes, not run in CI."""
    if hasattr(request, "param"):
        return str(request.param)
    sweeping = os.environ.get("TRIOBOT_TEST_STORE") == "postgresql"
    if sweeping and request.node.get_closest_marker("sqlite_only") is None:
        return "postgresql"
    return "sqlite"


@pytest.fixture
def db_path(tmp_path: Path, store: str) -> Iterator[Path | str]:
    """Where the test's database is: a SQLite file, or a fresh PostgreSQL database's URL."""
    if store == "sqlite":
        yield tmp_path / "triobot.db"
        return
    from tests.postgres import drop_database, fresh_database

    url = fresh_database()
    yield url
    drop_database(url)


@pytest.fixture
def locker(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection to the test's database file, to hold its write lock with
    `BEGIN IMMEDIATE`: an operator's long query, a stray script, a second process."""
    other = sqlite3.connect(db_path, isolation_level=None)
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


@pytest.fixture
async def db(db_path: Path, clock: FakeClock) -> AsyncIterator[Database]:
    # On the test's clock, as the bot's database is: rows are stamped with the same "now"
    # that the services given `clock` read.
    database = await open_store(db_path, clock=clock)
    yield database
    await database.close()


@pytest.fixture
async def bot(db_path: Path, clock: FakeClock) -> AsyncIterator[object]:
    from tests.harness import bot_under_test

    async for running_bot in bot_under_test(db_path, clock):
        yield running_bot


class Cli:
    """`triobot …` as the coordinator types it, on this test's database; returns the exit
    status and what it printed. Call it from plain (not async) tests, or via
    asyncio.to_thread: each command runs its own event loop."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str]:
        from bot.cli.main import main

        self.capsys.readouterr()
        status = main(list(argv))
        return status, self.capsys.readouterr().out


@pytest.fixture
def cli(
    db_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.setenv("TRIOBOT_BOT_USERNAME", "trio_test_bot")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return Cli(capsys)
