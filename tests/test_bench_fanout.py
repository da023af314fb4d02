"""bench/fanout.py checks its own work: run at CI's size it verifies every prompt arrived once,
no 429, the outbox's rate, and the replies to answers typed meanwhile; a shortfall fails it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.fanout import shortfalls, verified

ROOT = Path(__file__).resolve().parent.parent


def test_the_fanout_bench_at_ci_size_verifies_its_work() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    size = ["--people", "200", "--rearm-rows", "2000", "--baseline", "30"]
    done = subprocess.run(
        [sys.executable, "bench/fanout.py", *size],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("verified: ")]
    assert len(lines) == 5, done.stdout
    assert "200 prompts fired and sent; each arrived exactly once (200 people, 0 lost" in lines[0]
    assert "0 × 429" in lines[1]
    ratio = re.search(r"outbox at (\d\.\d+) of its configured 25/s", lines[2])
    assert ratio is not None and float(ratio.group(1)) >= 0.95
    answers = re.search(r"(\d+) answers during the fan-out: all stored, all replied to;"
                        r" p95 (\d+\.\d+) s", lines[3])  # fmt: skip
    assert answers is not None and answers.group(1) == "40"  # a fifth of 200 answered
    assert float(answers.group(2)) < 2.0
    assert "100 due rows claimed at the first tick; 2000 of 2000 rows registered" in lines[4]
    assert "NOT VERIFIED" not in done.stdout


def run(**changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a good run at CI's size records, with `changes` to it."""
    ours: dict[str, Any] = {
        "people": 200,
        "fired": 200,
        "sent": 200,
        "received": 200,
        "lost": 0,
        "duplicated": 0,
        "too_many_requests": 0,
        "refused": 0,
        "per_second": 25.0,
        "ratio": 0.99,
        "answered": 40,
        "stored": 40,
        "replied": 40,
        "reply_p95": 0.2,
    }
    arm: dict[str, Any] = {"rows": 2000, "claimed_first_tick": 100, "jobs_registered": 2000}
    for key, value in changes.items():
        (arm if key in arm else ours)[key] = value
    return ours, arm


def test_a_good_run_has_no_shortfall_and_says_what_it_verified() -> None:
    ours, arm = run()
    assert shortfalls(ours, arm) == []
    assert len(verified(ours, arm)) == 5


def test_each_shortfall_is_reported() -> None:
    cases = {
        "lost": ({"lost": 1, "received": 199}, "199 of 200 people got their prompt; 1 lost"),
        "twice": ({"duplicated": 2}, "2 duplicated"),
        "unsent": ({"sent": 150}, "200 prompts due, but 200 fired and 150 sent"),
        "429": ({"too_many_requests": 3, "refused": 3}, "refused 3 calls, 3 with 429"),
        "slow outbox": ({"ratio": 0.9}, "0.900 of its configured rate (needs 0.95)"),
        "unreplied": ({"replied": 39}, "40 people answered: 40 answers stored, 39 replied to"),
        "unstored": ({"stored": 38}, "38 answers stored"),
        "slow replies": ({"reply_p95": 47.0}, "47.00 s at p95 (needs < 2 s)"),
        "no claim": ({"claimed_first_tick": 0}, "re-arming claimed no due row"),
        "jobs": ({"jobs_registered": 1999}, "the JobQueue holds 1999 of 2000 jobs"),
    }
    for name, (changes, expected) in cases.items():
        found = shortfalls(*run(**changes))
        assert len(found) == 1 and expected in found[0], (name, found)
