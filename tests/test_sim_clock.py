"""The simulated clock hook: off by default, and when set every "now" in the process follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ENV, install_from_env, write
from storage.db import use_clock, utcnow


def test_without_the_variable_the_clock_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert install_from_env() is None
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_with_the_variable_now_is_what_the_simulator_wrote(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "clock"
    write(path, datetime(2027, 1, 5, 15, 45, tzinfo=UTC))
    monkeypatch.setenv(ENV, str(path))
    try:
        assert install_from_env() is not None
        assert utcnow() == datetime(2027, 1, 5, 15, 45, tzinfo=UTC)
        assert utcnow() == datetime(2027, 1, 5, 15, 45, tzinfo=UTC)  # stands still
        write(path, datetime(2027, 3, 1, 9, 0, 30, tzinfo=UTC))
        assert utcnow() == datetime(2027, 3, 1, 9, 0, 30, tzinfo=UTC)
    finally:
        use_clock(None)
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_missing_clock_file_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError):
        install_from_env()
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
