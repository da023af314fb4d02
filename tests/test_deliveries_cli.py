"""`triobot deliveries`: the coordinator sees what is due and what failed, from the CLI."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.clock import utcnow
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.schedule import ScheduleRepo
from storage.store import open_store

pytestmark = pytest.mark.both_stores


async def _seed(path: Path) -> None:
    db = await open_store(path)
    now = utcnow()
    async with db.transaction() as tx:
        person = await PeopleRepo.create(
            tx, telegram_id=42, school_id=None, role="teacher", ref="P-042", status="active"
        )
        await ScheduleRepo.add(
            tx, "reflection_deliver", now + timedelta(hours=2), person_id=person, dedupe_key="a"
        )
        await ScheduleRepo.add(
            tx, "meeting_reminder", now + timedelta(days=3), person_id=person, dedupe_key="b"
        )
        await OutboxRepo.enqueue(tx, 42, "nudge", {"text": "hi"}, now=now, person_id=person)
        await OutboxRepo.enqueue(tx, 43, "reflection", {"text": "x"}, now=now)
    rows = await db.fetchall("SELECT id FROM outbox ORDER BY id")
    await OutboxRepo(db).fail(rows[1]["id"], "Bad Request: chat not found")
    await db.close()


def test_lists_what_is_due_then_what_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.db"
    asyncio.run(_seed(path))
    monkeypatch.setenv("TRIOBOT_DB", str(path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the repository

    assert main(["deliveries"]) == 0
    out = capsys.readouterr().out
    assert "Schedule: 2 pending, 0 failed. Outbox: 1 waiting to send, 0 sent, 1 failed." in out
    assert "reflection_deliver  P-042" in out and "nudge  P-042" in out
    # Whether the sender is keeping up: nothing has gone yet, and one row waits.
    assert "Bot: not running on this database." in out
    assert "Outbox: never sent anything; 1 waiting, 0 overdue (waiting over 5 min)." in out
    assert "meeting_reminder" not in out  # three days away: outside the default 24 h

    assert main(["deliveries", "--hours", "96"]) == 0
    assert "meeting_reminder" in capsys.readouterr().out

    assert main(["deliveries", "--failed"]) == 1  # non-zero: something needs looking at
    out = capsys.readouterr().out
    assert "chat not found" in out and "reflection" in out

    assert main(["deliveries", "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().out


async def _seed_backlog(path: Path) -> None:
    """The sender last sent ten minutes ago and a row has waited twenty: it is stuck."""
    db = await open_store(path)
    now = utcnow()
    async with db.transaction() as tx:
        await OutboxRepo.enqueue(tx, 42, "nudge", {"text": "a"}, now=now - timedelta(minutes=30))
        await OutboxRepo.enqueue(
            tx, 43, "nudge", {"text": "b"}, now=now, not_before=now - timedelta(minutes=20)
        )
    first = await db.fetchval("SELECT MIN(id) FROM outbox")
    await OutboxRepo(db).mark_sent(first, 1, now - timedelta(minutes=10))
    await db.close()


def test_deliveries_and_status_say_when_the_outbox_last_sent_and_what_is_overdue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.db"
    asyncio.run(_seed_backlog(path))
    monkeypatch.setenv("TRIOBOT_DB", str(path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    for command in (["deliveries"], ["status"]):
        main(command)
        out = capsys.readouterr().out
        assert "(10 min ago); 1 waiting, 1 overdue (waiting over 5 min)." in out, out
