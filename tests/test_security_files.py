"""Files holding people's data are owner-only (0600), under the usual umask 022 that would
otherwise leave them world-readable: the database with its -wal and -shm, exports, digests,
invite lists, trio proposals; and a file that existed with a looser mode is tightened."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.db import Database
from tests.conftest import Cli
from tests.test_digest_cli_and_page import LAST, _seed
from tests.test_invites import roster
from tests.test_trio_formation import generated, write_schools


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_and_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triobot.db"
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')")
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["triobot.db", "triobot.db-shm", "triobot.db-wal"]
        assert {name: mode(path.parent / name) for name in files} == dict.fromkeys(files, 0o600)
        assert mode(path.parent) == 0o700  # the folder it made for them
    finally:
        await db.close()


async def test_a_database_left_world_readable_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "triobot.db"
    db = await Database.open(path)
    await db.close()
    wal = tmp_path / "triobot.db-wal"
    wal.write_bytes(b"")  # as an older version might have left it
    for found in (path, wal):
        found.chmod(0o644)
    db = await Database.open(path)
    try:
        assert mode(path) == 0o600
        assert mode(wal) == 0o600
    finally:
        await db.close()


@pytest.fixture
def programme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db_path = tmp_path / "triobot.db"
    _seed(db_path)
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.setenv("TRIOBOT_TZ", "Europe/London")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_digest_build_and_exports_are_owner_only(programme: Path) -> None:
    out = programme / "digests" / LAST
    assert (
        main(["digest", "build", "--week", LAST, "--audience", "researchers", "--out", str(out)])
        == 0
    )
    written = sorted(out.iterdir())
    kinds = {p.suffix for p in written}
    assert kinds == {".html", ".txt", ".png", ".csv", ".xlsx"}
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}
    assert mode(out) == 0o700
    earlier = programme / "all.csv"
    earlier.write_text("old", encoding="utf-8")
    earlier.chmod(0o644)  # overwritten exports are tightened too
    assert main(["export", "--out", str(earlier)]) == 0
    assert main(["export", "--out", str(programme / "all.xlsx")]) == 0
    for name in ("all.csv", "all-participation.csv", "all.xlsx"):
        assert mode(programme / name) == 0o600, name
    assert (programme / "all.csv").read_text(encoding="utf-8").startswith("person,role,")


def test_invite_batch_and_trio_proposals_are_owner_only(cli: Cli, tmp_path: Path) -> None:
    roster(cli, tmp_path)
    merge = tmp_path / "merge.csv"
    merge.write_text("", encoding="utf-8")
    merge.chmod(0o644)
    assert cli("invite", "batch", "--out", str(merge))[0] == 0
    assert mode(merge) == 0o600
    schools = tmp_path / "schools.csv"
    write_schools(schools, generated(9, seed=3, phases=("primary",)))
    assert cli("trios", "propose", str(schools), "--out", str(tmp_path / "trios.csv"))[0] == 0
    assert mode(tmp_path / "trios.csv") == 0o600


def test_under_this_umask_a_plain_file_would_be_world_readable(tmp_path: Path) -> None:
    """So the checks above prove something: without care, these files would be 0644."""
    plain = tmp_path / "plain.csv"
    plain.write_text("x", encoding="utf-8")
    assert mode(plain) == 0o644
