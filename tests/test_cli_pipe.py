"""`triobot … | head -1`: a reader that stops early ends the command quietly.

Run as a real process, since what goes wrong happens at the pipe and at interpreter exit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Database
from storage.invites import InviteRepo

ROOT = Path(__file__).resolve().parent.parent
QUIET_EXITS = (0, 141)  # 141: as a shell reports a command ended by SIGPIPE


async def invites(db_path: Path, count: int) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            for _ in range(count):
                await InviteRepo.create(tx, role="teacher")
    finally:
        await db.close()


def command(db_path: Path, *argv: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "TRIOBOT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return [sys.executable, "-m", "bot.cli.main", *argv], env


def assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


@pytest.mark.parametrize("everything", [False, True])
def test_a_reader_that_closes_after_one_line_ends_the_listing_quietly(
    db_path: Path, tmp_path: Path, everything: bool
) -> None:
    # More than a pipe holds (64 KiB): the command is still writing when the reader goes,
    # as with `triobot invite list | head -1` on a real programme.
    asyncio.run(invites(db_path, 3000))
    argv, env = command(db_path, "invite", "list", *(["--all"] if everything else []))
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    status = proc.wait(timeout=60)
    assert first.startswith(b"code ")
    assert_quiet(stderr)
    assert status in QUIET_EXITS


def test_output_to_a_pipe_nobody_reads_any_more_ends_quietly(db_path: Path, tmp_path: Path) -> None:
    """A few dozen lines fit in the buffer and are written only at exit: the reader has
    already gone by then (here, before the command even started)."""
    asyncio.run(invites(db_path, 36))
    argv, env = command(db_path, "invite", "list")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            argv, cwd=tmp_path, env=env, stdout=write_end, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write_end)
    assert_quiet(done.stderr.decode())
    assert done.returncode in QUIET_EXITS
