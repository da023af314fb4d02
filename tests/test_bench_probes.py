"""bench/probes.py checks its own work: a tiny run verifies, and a shortfall fails the check."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bench.probes import NOW, PLANS, Measured, Seeded, check
from storage.db import to_db_time
from storage.health import Backlog
from tests.bench_run import run_bench, verified_lines


def test_a_tiny_run_verifies_the_seeded_counts_the_heartbeat_and_the_plans() -> None:
    run = run_bench("probes", "--sent", "2400", "--pending", "50", "--due", "20", "--repeat", "5")
    assert run.returncode == 0, run.stdout + run.stderr
    # 2,400 sent leave 600 done schedule rows; the 20 due are rows 600-619, due 0-19 minutes
    # ago: row 600 falls due now, so 19 are overdue. One read shown, five timed.
    assert verified_lines(run.stdout) == [
        "verified: all 6 reads of the backlog counted what was seeded: 50 pending, 20 due, 19 of"
        " them overdue, the oldest due now, under 2,400 sent",
        "verified: the heartbeat row holds the time written",
        f"verified: all {len(PLANS)} queries read each table through an index (no full scan)",
    ]


def test_the_check_names_a_wrong_count_a_missing_heartbeat_and_a_full_scan() -> None:
    seeded = Seeded(sent=2400, pending=50, due=20, overdue=19)
    right = Backlog(50, NOW, 20, 19, ())
    plans = {PLANS[0]: "SCAN outbox USING INDEX outbox_pending"}
    sound = Measured([right, right], to_db_time(NOW), plans)
    assert check(seeded, sound) == []

    short = Measured([right, replace(right, schedule_overdue=20)], to_db_time(NOW), plans)
    assert check(seeded, short)[0].startswith("1 of 2 reads: ")
    assert check(seeded, replace(sound, reads=[])) == ["no read was timed"]
    stale = replace(sound, heartbeat=to_db_time(NOW - timedelta(seconds=1)))
    assert check(seeded, stale)[0].startswith("heartbeat row ")
    scanned = replace(sound, plans={PLANS[0]: "SCAN outbox"})
    assert check(seeded, scanned) == [f"{PLANS[0][:40]}…: SCAN outbox, not through an index"]
