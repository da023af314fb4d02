"""bench/attribution_migration.py checks its own work: a tiny run verifies, a shortfall fails."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

from bench.attribution_migration import Migrated, check
from storage.db import Database
from tests.bench_run import run_bench, verified_lines
from tests.digest_programme import seed


async def seeded(path: Path) -> tuple[int, int]:
    """The summary items and actions the bench's seed writes, on a database at the newest
    migration."""
    db = await Database.open(path)
    try:
        await seed(
            db, las=10, schools=30, teachers_per_school=9, weeks=8, last_week="2026-W47",
            withdrawn_share=0.02, trio_work=True,
        )  # fmt: skip
        items = (await db.fetchall("SELECT COUNT(*) FROM summary_item"))[0][0]
        actions = (await db.fetchall("SELECT COUNT(*) FROM action"))[0][0]
    finally:
        await db.close()
    return int(items), int(actions)


def test_a_tiny_run_gives_every_seeded_item_and_action_a_school(tmp_path: Path) -> None:
    items, actions = asyncio.run(seeded(tmp_path / "counted.db"))
    run = run_bench("attribution_migration", "--schools", "30", "--weeks", "8")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = verified_lines(run.stdout)
    assert items and actions
    assert lines[0] == f"verified: every summary item ({items}) and action ({actions}) has a school"
    kept = re.fullmatch(
        r"verified: all (\d+) archived rows kept; (\d+) of (\d+) archived practices re-filed"
        r" under the school that shared them",
        lines[1],
    )
    assert kept is not None, lines
    archived, moved, shared = (int(g) for g in kept.groups())
    assert 0 < moved <= shared < archived
    assert len(lines) == 2


def test_the_check_names_what_the_migration_left_undone() -> None:
    sound = Migrated(81, 81, 38, 38, 113, 113, 54, 28)
    assert check(sound) == []
    assert check(replace(sound, items_filled=80)) == ["1 of 81 summary items have no school"]
    assert check(replace(sound, actions_filled=0)) == ["38 of 38 actions have no school"]
    assert check(replace(sound, archived_after=112)) == [
        "113 archived rows before the migration, 112 after"
    ]
    assert check(replace(sound, moved=0)) == [
        "none of the 54 archived practices moved to the school that shared it"
    ]
    empty = Migrated(0, 0, 0, 0, 0, 0, 0, 0)
    assert check(empty)[0].startswith("the seed left nothing to migrate")
