"""bench/digest.py checks its own work: at a tiny size it runs end to end and prints what it
verified (the counts the seeder made), and its check reports a digest or export that came
out short."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from bench.digest import expected_week, expected_year, failures, verified_lines
from tests.postgres import ENV, server_url

ROOT = Path(__file__).resolve().parent.parent

# 32 schools: ten trios of three, and two schools in no trio (their teachers count for their
# local authority, not for a trio).
MADE = {
    "schools": 32,
    "las": 10,
    "trios": 10,
    "in_trios": 270,
    "weeks": {
        "2026-W46": {"answered": 150, "action": 4, "action_consenting": 4},
        "2026-W47": {
            "delivered": 280, "answered": 160, "delivered_in_trios": 270,
            "answered_in_trios": 155, "voice": 8, "meetings": 3, "meetings_held": 2,
            "summaries": 2, "summaries_consenting": 1, "focus": 2, "focus_consenting": 1,
            "shared": 6, "shared_consenting": 3, "barrier": 2, "barrier_consenting": 1,
            "action": 4, "action_consenting": 2,
        },
    },
}  # fmt: skip


def _tiny_run(db: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "bench/digest.py", "--schools", "32", "--weeks", "10", "--repeat", "1",
         "--db", db],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_tiny_run_verifies_what_it_built(tmp_path: Path) -> None:
    stdout = _tiny_run(str(tmp_path / "digest.db"))
    assert "store: SQLite" in stdout
    _verified_as_seeded(stdout)


def test_the_tiny_run_on_postgresql_verifies_the_same(tmp_path: Path) -> None:
    server = server_url()
    if server is None:
        pytest.skip(f"no PostgreSQL server: set {ENV}")
    stdout = _tiny_run(server)
    made = re.search(r"store: PostgreSQL, (\S+)", stdout)
    assert made is not None, stdout
    _verified_as_seeded(stdout)
    name = urlsplit(made.group(1)).path.strip("/")
    with psycopg.connect(server) as admin:  # the run's own database went with it
        gone = admin.execute("SELECT COUNT(*) FROM pg_database WHERE datname = %s", (name,))
        assert gone.fetchone() == (0,)


def _verified_as_seeded(stdout: str) -> None:
    """The five "verified:" lines, each with the seed's own arithmetic."""
    verified = [line for line in stdout.splitlines() if line.startswith("verified: ")]
    assert len(verified) == 5, stdout
    assert "NOT VERIFIED" not in stdout
    figures, researchers, schools, exports, year = verified
    # The seed's own arithmetic: 32 schools of 9 teachers, 10 LAs, trios of the first 30
    # schools; 8 trend weeks of (10 trios + 10 LAs) participation rows; 6 sheets.
    assert "trios 10, schools 32, las 10," in figures
    assert "participation 160," in exports and "xlsx_sheets 8" in exports
    assert "message_and_pages 1" in researchers
    assert "rows.reflection 0" in schools
    assert "participation 220," in year  # 10 weeks and the one in progress


def test_a_short_digest_or_export_is_reported() -> None:
    expected = expected_week(MADE) | expected_year(MADE)
    assert expected["figures.delivered"] == 270 and expected["figures.la_delivered"] == 280
    assert expected["exports.contributions"] == 160 + 1 + 3 + 1 + 2  # words of consenters
    assert expected["schools.rows.shared"] == 6  # the trio's agreed work, whoever wrote it
    assert expected["year.contributions"] == 150 + 4 + 167
    assert not failures(expected, dict(expected))
    short = {**expected, "exports.contributions_csv": 166, "schools.actions": 3}
    del short["year.actions"]
    assert failures(expected, short) == [
        "schools.actions: seeded 4, built 3",
        "exports.contributions_csv: seeded 167, built 166",
        "year.actions: seeded 8, built nothing",
    ]
    assert all(line.startswith("verified: ") for line in verified_lines(expected))
