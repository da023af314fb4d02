"""`triobot backup FILE`: a private, checked, consistent copy, taken while the bot works,
and a restore from it in the middle of a fan-out that loses nothing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.programme.demo import seed_demo
from storage import backup as backup_module
from storage.backup import BackupError, BackupRefused, backup
from storage.db import Database, migration_scripts
from storage.invites import InviteRepo
from tests.conftest import FakeClock
from tests.harness import bot_under_test
from tests.test_scheduling import PROMPT, seed_people, start_rounds


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order."""
    conn = sqlite3.connect(path)
    try:
        return {
            t: sorted((tuple(r) for r in conn.execute(f'SELECT * FROM "{t}"')), key=repr)
            for t in tables(conn)
        }
    finally:
        conn.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The loosest umask there is: the backup must be private anyway."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --- a copy that is private, complete and checked -------------------------------------------


async def test_a_backup_is_owner_only_from_its_first_byte_and_holds_every_row(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_zero: None
) -> None:
    db = await Database.open(db_path)
    await seed_demo(db)
    async with db.transaction() as tx:
        for _ in range(300):
            await InviteRepo.create(tx, role="teacher", school_id=None, trio_id=None)
    live_rows = contents(db_path)  # while the bot's connection is open: WAL included
    assert sum(len(rows) for rows in live_rows.values()) > 300

    created: list[tuple[int, int]] = []
    real_partial = backup_module._private_partial

    def watched(target: Path) -> Path:
        partial = real_partial(target)
        created.append((mode(partial), partial.stat().st_size))
        return partial

    monkeypatch.setattr(backup_module, "_private_partial", watched)
    target = tmp_path / "backups" / "nightly" / "triobot.db"
    report = backup(db_path, target, pages=4)  # many steps
    await db.close()

    assert created == [(0o600, 0)]  # private before SQLite wrote a byte into it
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700  # folders it had to make are private too
    assert leftovers(target.parent) == []
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # A single self-contained file: it opens read-only, with no -wal beside it.
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    assert contents(target) == live_rows
    assert report.tables == len(live_rows)
    assert report.schema_version == migration_scripts()[-1][0]
    assert report.size == target.stat().st_size
    assert str(target) in report.line() and "integrity ok" in report.line()


async def demo_database(db_path: Path) -> None:
    db = await Database.open(db_path)
    await seed_demo(db)
    await db.close()


def test_the_cli_prints_one_line_and_refuses_the_live_database(
    db_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    asyncio.run(demo_database(db_path))
    before = db_path.read_bytes()

    assert main(["backup", str(tmp_path / "copy.db")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{tmp_path / 'copy.db'}: ")
    assert "tables" in out[0] and "schema version" in out[0] and " s" in out[0]

    os.link(db_path, tmp_path / "hard-link.db")
    (tmp_path / "sym-link.db").symlink_to(db_path)
    for spelling in (
        str(db_path),
        "triobot.db",  # relative to the working directory
        f"./sub/../{db_path.name}",
        str(tmp_path / "sym-link.db"),
        str(tmp_path / "hard-link.db"),
        f"{db_path}-wal",
    ):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert main(["backup", spelling]) == 2, spelling
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and "is the live database" in captured.err
    assert db_path.read_bytes() == before


def test_a_copy_that_fails_its_integrity_check_is_removed_and_reported(
    db_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(demo_database(db_path))
    target = tmp_path / "out" / "triobot.db"
    backup(db_path, target)
    yesterday = target.read_bytes()

    real_copy = backup_module._copy

    def copy_then_damage(live: Path, partial: Path, **kwargs: object) -> None:
        real_copy(live, partial, **kwargs)  # type: ignore[arg-type]
        # A disk that returns garbage: the cell pointers of schema_version's page.
        conn = sqlite3.connect(partial)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'schema_version'"
        ).fetchone()[0]
        conn.close()
        with partial.open("r+b") as damaged:
            damaged.seek(page_size * (root - 1) + 8)
            damaged.write(b"\xff" * 16)

    monkeypatch.setattr(backup_module, "_copy", copy_then_damage)
    with pytest.raises(BackupError, match="integrity check") as caught:
        backup(db_path, target)
    assert "\n" not in str(caught.value)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["backup", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no backup made" in err
    assert target.read_bytes() == yesterday  # the last good backup is still there
    assert leftovers(target.parent) == []


def test_no_database_there_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database there"):
        backup(tmp_path / "missing.db", tmp_path / "copy.db")
    assert not (tmp_path / "missing.db").exists()  # and none was created
    with pytest.raises(BackupRefused):
        backup(tmp_path / "missing.db", tmp_path / "missing.db")


# --- while others write ----------------------------------------------------------------------


def big_live_database(path: Path) -> None:
    """A WAL database of ~2,000 pages with a table the writer keeps adding to and a tally
    it updates in the same transaction: a consistent copy has the two agreeing."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE filler (blob BLOB)")
    conn.execute("CREATE TABLE tick (n INTEGER PRIMARY KEY, blob BLOB)")
    conn.execute("CREATE TABLE tally (ticks INTEGER)")
    conn.execute("INSERT INTO tally VALUES (0)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO filler VALUES (randomblob(3000))", [()] * 2000)
    conn.execute("COMMIT")
    conn.close()


def ticks(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        counted = conn.execute("SELECT COUNT(*) FROM tick").fetchone()[0]
        tallied = conn.execute("SELECT ticks FROM tally").fetchone()[0]
    finally:
        conn.close()
    return int(counted), int(tallied)


def test_a_backup_during_continuous_writes_completes_and_is_consistent(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    big_live_database(live)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        conn = sqlite3.connect(live, isolation_level=None, timeout=5)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO tick (blob) VALUES (randomblob(500))")
            conn.execute("UPDATE tally SET ticks = ticks + 1")
            conn.execute("COMMIT")
            written[0] += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:
            time.sleep(0.01)
        before = written[0]
        # 8 pages a step: ~250 steps, each a chance for the writer to commit between them.
        # Without the one snapshot every commit would send the copy back to page 1.
        report = backup(live, tmp_path / "copy.db", pages=8, give_up_after=30)
        during = written[0] - before
    finally:
        stop.set()
        thread.join()
    assert during > 0, "the writer never wrote while the backup ran: nothing was tested"
    counted, tallied = ticks(tmp_path / "copy.db")
    assert counted == tallied  # one instant, not pages from different moments
    assert before <= counted <= before + during
    assert report.seconds < 30


def test_a_write_transaction_held_open_neither_blocks_nor_leaks_into_the_backup(
    tmp_path: Path,
) -> None:
    live = tmp_path / "live.db"
    big_live_database(live)
    holder = sqlite3.connect(live, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.executemany("INSERT INTO tick (blob) VALUES (zeroblob(100))", [()] * 100)
    holder.execute("UPDATE tally SET ticks = ticks + 100")
    try:
        started = time.monotonic()
        backup(live, tmp_path / "copy.db", pages=16)
        # WAL: readers do not wait for a writer; well under the 5 s busy timeout.
        assert time.monotonic() - started < 4
        assert ticks(tmp_path / "copy.db") == (0, 0)  # what was committed, nothing more
    finally:
        holder.execute("COMMIT")
        holder.close()
    backup(live, tmp_path / "copy.db")
    assert ticks(tmp_path / "copy.db") == (100, 100)


def test_a_locked_database_is_retried_until_free_then_given_up_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside WAL mode a writer's EXCLUSIVE lock does keep readers out (SQLITE_BUSY): the
    # same as WAL recovery or a `locking_mode = EXCLUSIVE` connection would.
    monkeypatch.setattr(backup_module, "BUSY_TIMEOUT_MS", 50)
    live = tmp_path / "live.db"
    big_live_database(live)
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    target = tmp_path / "copy.db"

    locker = sqlite3.connect(live, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.6, lambda: locker.execute("COMMIT")).start()
    started = time.monotonic()
    backup(live, target, give_up_after=10)
    assert time.monotonic() - started >= 0.5  # it waited, retrying, and then copied
    assert ticks(target) == (0, 0)
    locker.close()

    old = target.read_bytes()
    locker = sqlite3.connect(live, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(BackupError, match="cannot read the live database") as caught:
            backup(live, target, give_up_after=0.3)
        assert "\n" not in str(caught.value)
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert target.read_bytes() == old
    assert leftovers(tmp_path) == []


# --- restore in the middle of a fan-out ------------------------------------------------------


def restore(backup_file: Path, live: Path, aside: Path) -> None:
    """The README's procedure, the bot stopped: the live database and its -wal and -shm
    moved aside (a -wal left beside the restored file would be replayed into it), the
    backup copied in owner-only."""
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        old = live.with_name(live.name + suffix)
        if old.exists():
            old.rename(aside / old.name)
    fd = os.open(live, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(backup_file.read_bytes())


async def test_restoring_a_backup_taken_mid_fan_out_loses_no_prompt(
    db_path: Path, tmp_path: Path
) -> None:
    """The bound, as the README states it: after a restore every message is delivered, and
    the only ones delivered twice are those sent after the backup was taken (the backup
    still has them waiting). So duplicates <= messages sent after the backup."""
    clock = FakeClock()
    async for bot in bot_under_test(db_path, clock, demo=False):
        people = await seed_people(bot, 30)
        await start_rounds(bot)
        await bot.run_until(datetime(2026, 11, 24, 15, 44, tzinfo=UTC))
        await bot.services.scheduler.run_due()
        bot.clock.advance(minutes=1)
        await bot.services.scheduler.run_due()
        pending = "SELECT COUNT(*) FROM outbox WHERE kind = 'reflection' AND status = 'pending'"
        assert await bot.db.fetchval(pending) == 30

        assert await bot.services.sender.drain(max_messages=12) == 12
        # Taken from another thread, as cron's `triobot backup` is another process.
        copy = tmp_path / "backups" / "triobot.db"
        await asyncio.to_thread(backup, db_path, copy)
        assert await bot.services.sender.drain(max_messages=9) == 9
        received_before_restore = sum(
            1 for chat in people for m in bot.api.messages_in(chat) if PROMPT in m.plain_text
        )
        await bot.stop()

        conn = sqlite3.connect(copy)
        try:
            known_sent = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'reflection' AND status = 'sent'"
            ).fetchone()[0]
        finally:
            conn.close()
        sent_after_backup = received_before_restore - known_sent
        assert (received_before_restore, known_sent, sent_after_backup) == (21, 12, 9)

        restore(copy, db_path, tmp_path / "before-restore")
        assert mode(db_path) == 0o600
        await bot.start()
        await bot.run_until(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))

        received = Counter(
            chat for chat in people for m in bot.api.messages_in(chat) if PROMPT in m.plain_text
        )
        assert set(received) == set(people)  # nobody lost their prompt
        duplicates = sum(received.values()) - len(people)
        assert duplicates <= sent_after_backup
        assert max(received.values()) <= 2
        assert await bot.db.fetchval(pending) == 0
