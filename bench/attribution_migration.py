"""Migration 0009 (attribution) on the digest bench's programme, built at the migration before.

The programme of bench/digest.py (tests/digest_programme.py: 1,100 schools, 366 trios, a
year of meetings with agreed summaries) is seeded into a database that stops at 0008, with
a digest archive as the compiler wrote it before attribution: every summary row filed under
the author's school. Then the database is opened as the bot opens it, applying 0009, and the
script reports how long that took and what it filled in:

    .venv/bin/python bench/attribution_migration.py

It exits 1 unless every item and action of the seed got a school (the seed writes three
practices per summary, one per school, so each is known) and some archived rows moved.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
ACTIONS = "SELECT COUNT(*), COUNT(school_id) FROM action"
MOVED = (
    "SELECT COUNT(*), SUM(dc.school != sc.ref) FROM digest_contribution dc"
    " JOIN person p ON p.id = dc.person_id JOIN school sc ON sc.id = p.school_id"
    " WHERE dc.kind = 'shared'"
)


async def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "at0008.db"
        # Database.open applies what storage.db's migration_scripts lists: those before this one.
        ours = next(n for n, name, _ in migration_scripts() if name.endswith("_item_school.sql"))
        before = [m for m in migration_scripts() if m[0] < ours]
        setattr(db_module, "migration_scripts", lambda: before)  # noqa: B010
        try:
            db = await Database.open(path)
            await seed(
                db, las=10, schools=1100, teachers_per_school=9, weeks=52,
                last_week="2026-W47", withdrawn_share=0.02, trio_work=True,
            )  # fmt: skip
            await db.close()
        finally:
            setattr(db_module, "migration_scripts", migration_scripts)  # noqa: B010
        conn = sqlite3.connect(path)
        conn.executescript(ARCHIVE)
        archived = conn.execute("SELECT COUNT(*) FROM digest_contribution").fetchone()[0]
        conn.close()
        started = time.perf_counter()
        db = await Database.open(path)
        took = time.perf_counter() - started
        try:
            items, items_filled = (await db.fetchall(FILLED))[0]
            actions, actions_filled = (await db.fetchall(ACTIONS))[0]
            shared, moved = (await db.fetchall(MOVED))[0]
        finally:
            await db.close()
    print(f"migration 0009 (opening included): {took:.2f} s")
    print(f"summary items with a school: {items_filled:,} of {items:,}")
    print(f"actions with a school:       {actions_filled:,} of {actions:,}")
    print(f"archived rows:               {archived:,}")
    print(f"archived practices re-filed under another school than the writer's: {moved:,}")
    print(f"  of {shared:,} (the writer's own school's stay; so do words two schools share)")
    return 0 if items_filled == items and actions_filled == actions and moved else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
