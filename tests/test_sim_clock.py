"""The simulated clock: off by default, and when set the process's one clock follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ENV, from_env, write
from storage.db import Database


def test_without_the_variable_the_clock_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    clock = from_env()
    assert abs(clock() - datetime.now(UTC)) < timedelta(seconds=5)


async def test_with_the_variable_now_is_what_the_simulator_wrote(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "clock"
    write(path, datetime(2027, 1, 5, 15, 45, tzinfo=UTC))
    monkeypatch.setenv(ENV, str(path))
    clock = from_env()
    assert clock() == datetime(2027, 1, 5, 15, 45, tzinfo=UTC)
    assert clock() == datetime(2027, 1, 5, 15, 45, tzinfo=UTC)  # stands still
    write(path, datetime(2027, 3, 1, 9, 0, 30, tzinfo=UTC))
    assert clock() == datetime(2027, 3, 1, 9, 0, 30, tzinfo=UTC)
    # The database it is passed to stamps what it writes on that clock, not the machine's.
    db = await Database.open(tmp_path / "sim.db", clock=clock)
    try:
        applied = await db.fetchval("SELECT MIN(applied_at) FROM schema_version")
    finally:
        await db.close()
    assert applied.startswith("2027-03-01T09:00:30")


def test_a_missing_clock_file_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError):
        from_env()
