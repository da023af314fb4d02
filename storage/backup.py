"""An online copy of the live database, safe while the bot runs.

SQLite's backup API copies pages in steps. Each step would normally take its own read lock,
and a write by the bot between two steps makes SQLite start the copy again from the first
page — during a busy fan-out, again and again. So the copy holds one read transaction on the
live database from the first step to the last: in WAL mode that blocks no writer, and every
step reads the same snapshot, so the copy is the database as it was at one instant. (The
WAL grows meanwhile, since a checkpoint cannot pass a reader; it shrinks again after.)

The copy is made under a temporary name beside the target, owner-only from its first byte,
checked with `PRAGMA integrity_check`, and only then renamed into place: the target is
either the old file or a complete, checked new one, never half a copy.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage import private_files
from storage.schema import StorageError

# About 4 MiB a step at SQLite's default page size. The snapshot, not the steps, keeps the
# copy consistent; steps are where a lock met mid-copy is retried, and given up on.
PAGES_PER_STEP = 1024
BUSY_TIMEOUT_MS = 5000
# A live database that stays locked this long (an exclusive lock, WAL recovery) is reported
# rather than waited for forever: cron runs the backup again tomorrow.
GIVE_UP_AFTER = 120.0
RETRY_PAUSE = 0.05


class BackupError(StorageError):
    """The backup could not be made; the message says why, and no target file was left."""


class BackupRefused(BackupError):
    """The target is the live database (or one of its companion files)."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    size: int  # bytes
    tables: int
    schema_version: int | None  # None: not a triobot database (no schema_version table)
    seconds: float

    def line(self) -> str:
        version = (
            "no schema version"
            if self.schema_version is None
            else f"schema version {self.schema_version}"
        )
        return (
            f"{self.path}: {_size(self.size)}, {self.tables} tables, {version},"
            f" integrity ok, in {self.seconds:.2f} s"
        )


def backup(
    live: Path,
    target: Path,
    *,
    pages: int = PAGES_PER_STEP,
    give_up_after: float = GIVE_UP_AFTER,
    clock: Callable[[], float] = time.monotonic,
) -> BackupReport:
    """Copy the database at `live` to `target` (replacing an older backup there)."""
    started = clock()
    live, target = Path(live), Path(target)
    refuse_live_target(live, target)
    if not live.is_file():
        raise BackupError(f"{live}: no database there (TRIOBOT_DB)")
    if target.is_dir():
        raise BackupError(f"{target} is a folder: name the backup file, e.g. {target}/triobot.db")
    private_files.make_folder(target.parent)
    try:
        partial = _private_partial(target)
    except OSError as exc:
        raise BackupError(f"cannot write in {target.parent}: {exc.strerror}") from exc
    try:
        _copy(live, partial, pages=pages, deadline=started + give_up_after, clock=clock)
        tables, version = _verify(partial)
        _fsync(partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        _remove(partial)
        raise BackupError(f"no backup made: {exc}") from exc
    except BaseException:
        _remove(partial)
        raise
    _fsync_folder(target.parent)
    return BackupReport(target, target.stat().st_size, tables, version, clock() - started)


def refuse_live_target(live: Path, target: Path) -> None:
    """Writing the copy over the live database (or its -wal, -shm, -journal) would destroy
    it: refused, however the path is spelled (relative, through a link, a hard link)."""
    live_path = live.resolve()
    target_path = target.resolve()
    companions = {live_path.with_name(live_path.name + s) for s in ("", "-wal", "-shm", "-journal")}
    same = target_path in companions
    if not same and target.exists() and live.exists():
        same = os.path.samefile(live, target)
    if same:
        raise BackupRefused(
            f"{target} is the live database (or one of its files): choose another file"
            " for the backup"
        )


def _private_partial(target: Path) -> Path:
    # mkstemp creates the file exclusively with mode 0600 (a umask can only narrow that);
    # the fchmod makes it exactly 0600, before SQLite writes its first byte.
    fd, name = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".partial", dir=target.parent)
    try:
        os.fchmod(fd, private_files.FILE_MODE)
    finally:
        os.close(fd)
    return Path(name)


def _copy(
    live: Path, partial: Path, *, pages: int, deadline: float, clock: Callable[[], float]
) -> None:
    source = _connect_live(live)
    try:
        _retry_busy(lambda: _begin_snapshot(source), deadline, clock)
        copy = sqlite3.connect(partial, isolation_level=None)
        try:

            def progress(status: int, remaining: int, total: int) -> None:
                # sqlite3 retries a BUSY or LOCKED step itself; this bounds for how long.
                if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and clock() > deadline:
                    raise BackupError(f"{live} stayed locked: no backup made; try again later")

            source.backup(copy, pages=pages, progress=progress, sleep=RETRY_PAUSE)
            # The copy carries the live file's WAL flag; as a single file in rollback mode
            # it opens anywhere, read-only media included. The bot turns WAL on when it opens.
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()
    finally:
        source.close()


def _connect_live(live: Path) -> sqlite3.Connection:
    # mode=rw never creates a database that is not there; query_only refuses any statement
    # that would change it. (mode=ro would leave -wal and -shm behind when the bot is not
    # running: a read-only connection cannot remove them.)
    conn = sqlite3.connect(
        f"{live.resolve().as_uri()}?mode=rw",
        uri=True,
        isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    conn.execute("PRAGMA query_only = ON")
    return conn


def _begin_snapshot(source: sqlite3.Connection) -> None:
    """A read transaction: it starts at the first read, and lasts until the connection
    closes; the backup's steps all read inside it."""
    if source.in_transaction:  # a try that met a lock left its BEGIN open
        source.execute("ROLLBACK")
    source.execute("BEGIN")
    source.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()


def _retry_busy(action: Callable[[], None], deadline: float, clock: Callable[[], float]) -> None:
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or clock() > deadline:
                raise BackupError(f"cannot read the live database: {exc}") from exc
        time.sleep(RETRY_PAUSE)


def _verify(partial: Path) -> tuple[int, int | None]:
    """The copy's integrity check, then what it holds: its tables and schema version."""
    conn = sqlite3.connect(f"{partial.resolve().as_uri()}?mode=ro", uri=True)
    try:
        try:
            verdict = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            # Damage SQLite cannot even walk past (a page of the schema itself) is a failed
            # check too, not an error of its own.
            verdict = [str(exc)]
        if verdict != ["ok"]:
            raise BackupError(
                f"the copy failed its integrity check ({_first_problem(verdict)}):"
                " no backup made; the live database itself may be damaged"
            )
        tables = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        has_versions = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()[0]
        version = (
            conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            if has_versions
            else None
        )
    finally:
        conn.close()
    return int(tables), None if version is None else int(version)


def _remove(partial: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            partial.with_name(partial.name + suffix).unlink()


def _first_problem(verdict: list[str]) -> str:
    """SQLite's report, many lines under a heading, as one line: its first problem."""
    lines = [x for v in verdict for x in v.splitlines() if x.strip() and not x.startswith("***")]
    more = f", and {len(lines) - 1} more" if len(lines) > 1 else ""
    return (lines[0][:160] if lines else "no detail") + more


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError):
        _fsync(folder)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
