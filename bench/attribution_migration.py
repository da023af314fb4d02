"""Migration 0009 (attribution) on the digest bench's programme, built at the migration before.

The programme of bench/digest.py (tests/digest_programme.py: 1,100 schools, 366 trios, a
year of meetings with agreed summaries) is seeded into a database that stops at 0008, with
a digest archive as the compiler wrote it before attribution: every summary row filed under
the author's school. Then the database is opened as the bot opens it, applying 0009, and the
script reports how long that took and what it filled in:

    .venv/bin/python bench/attribution_migration.py
    .venv/bin/python bench/attribution_migration.py --schools 30 --weeks 8   # seconds

It checks its own work and exits 1 when it was not done: every item and action of the seed got
a school (the seed writes three practices per summary, one per school, so each is known), no
archived row was lost, and some archived rows moved to the school that shared them.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.verdict import conclude
from storage import db as db_module
from storage.db import Database
from storage.schema import migration_scripts
from tests.digest_programme import seed

# The archive as it was compiled before 0009: one digest per week of agreement, each summary
# row under its author's school and local authority.
ARCHIVE = """
INSERT INTO digest (week, built_at, figures)
SELECT DISTINCT strftime('%Y-W%W', agreed_at), '2026-12-01T00:00:00+00:00', '{}'
FROM summary WHERE status = 'agreed';
INSERT INTO digest_contribution (digest_id, seq, person_id, role, school, local_authority,
    trio, trio_name, date, kind, tags, text)
SELECT d.id, ROW_NUMBER() OVER (PARTITION BY d.id ORDER BY x.n), s.author_id, 'trio_lead',
    sc.ref, la.name, t.ref, t.name, date(s.agreed_at), x.kind, 'summary=' || s.id, x.text
FROM (SELECT i.id AS n, i.summary_id, i.kind, json_extract(i.body, '$') AS text
      FROM summary_item i
      UNION ALL SELECT 1000000 + a.id, a.summary_id, 'action', json_extract(a.what, '$')
      FROM action a) x
JOIN summary s ON s.id = x.summary_id AND s.status = 'agreed'
JOIN digest d ON d.week = strftime('%Y-W%W', s.agreed_at)
JOIN trio t ON t.id = s.trio_id
JOIN person p ON p.id = s.author_id
JOIN school sc ON sc.id = p.school_id
JOIN local_authority la ON la.id = sc.local_authority_id;
"""
FILLED = "SELECT COUNT(*), COUNT(school_id) FROM summary_item"
ARCHIVED = "SELECT COUNT(*) FROM digest_contribution"
ACTIONS = "SELECT COUNT(*), COUNT(school_id) FROM action"
MOVED = (
    "SELECT COUNT(*), SUM(dc.school != sc.ref) FROM digest_contribution dc"
    " JOIN person p ON p.id = dc.person_id JOIN school sc ON sc.id = p.school_id"
    " WHERE dc.kind = 'shared'"
)


@dataclass(frozen=True)
class Migrated:
    """What the migration filled in, counted after it ran."""

    items: int
    items_filled: int  # summary items with a school
    actions: int
    actions_filled: int
    archived: int  # digest_contribution rows before the migration
    archived_after: int
    shared: int  # archived practice rows
    moved: int  # of them, re-filed under another school than the writer's


def check(m: Migrated) -> list[str]:
    """How the migration fell short (empty when it did not)."""
    failures = []
    if not m.items or not m.actions or not m.archived:
        failures.append(
            f"the seed left nothing to migrate: {m.items} items, {m.actions} actions, "
            f"{m.archived} archived rows"
        )
    if m.items_filled != m.items:
        failures.append(f"{m.items - m.items_filled:,} of {m.items:,} summary items have no school")
    if m.actions_filled != m.actions:
        failures.append(f"{m.actions - m.actions_filled:,} of {m.actions:,} actions have no school")
    if m.archived_after != m.archived:
        failures.append(
            f"{m.archived:,} archived rows before the migration, {m.archived_after:,} after"
        )
    if not m.moved:
        failures.append(
            f"none of the {m.shared:,} archived practices moved to the school that shared it"
        )
    return failures


def verified(m: Migrated) -> list[str]:
    return [
        f"every summary item ({m.items:,}) and action ({m.actions:,}) has a school",
        f"all {m.archived:,} archived rows kept; {m.moved:,} of {m.shared:,} archived practices "
        "re-filed under the school that shared them",
    ]


async def migrate(schools: int, weeks: int) -> tuple[float, Migrated]:
    """Seed at the migration before, archive as before, then open (applying 0009): timed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "at0008.db"
        # Database.open applies what storage.db's migration_scripts lists: those before this one.
        ours = next(n for n, name, _ in migration_scripts() if name.endswith("_item_school.sql"))
        before = [m for m in migration_scripts() if m[0] < ours]
        setattr(db_module, "migration_scripts", lambda: before)  # noqa: B010
        try:
            db = await Database.open(path)
            await seed(
                db, las=10, schools=schools, teachers_per_school=9, weeks=weeks,
                last_week="2026-W47", withdrawn_share=0.02, trio_work=True,
            )  # fmt: skip
            await db.close()
        finally:
            setattr(db_module, "migration_scripts", migration_scripts)  # noqa: B010
        conn = sqlite3.connect(path)
        conn.executescript(ARCHIVE)
        archived = conn.execute(ARCHIVED).fetchone()[0]
        conn.close()
        started = time.perf_counter()
        db = await Database.open(path)
        took = time.perf_counter() - started
        try:
            items, items_filled = (await db.fetchall(FILLED))[0]
            actions, actions_filled = (await db.fetchall(ACTIONS))[0]
            shared, moved = (await db.fetchall(MOVED))[0]
            archived_after = (await db.fetchall(ARCHIVED))[0][0]
        finally:
            await db.close()
    counted = Migrated(
        items, items_filled, actions, actions_filled, archived, archived_after, shared, moved or 0
    )
    return took, counted


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=1100)
    parser.add_argument("--weeks", type=int, default=52)
    args = parser.parse_args(argv)
    took, m = await migrate(args.schools, args.weeks)
    print(f"migration 0009 (opening included): {took:.2f} s")
    print(f"summary items with a school: {m.items_filled:,} of {m.items:,}")
    print(f"actions with a school:       {m.actions_filled:,} of {m.actions:,}")
    print(f"archived rows:               {m.archived:,}")
    print(f"archived practices re-filed under another school than the writer's: {m.moved:,}")
    print(f"  of {m.shared:,} (the writer's own school's stay; so do words two schools share)")
    print()
    return conclude(check(m), verified(m))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
