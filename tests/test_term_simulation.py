"""The simulated term, shortened: the real bot process, SIGKILLs, every fault kind, invariants.

The full run is `bench/term.py` (README, "Reliability"); this is the same code, smaller.
"""

from __future__ import annotations

from pathlib import Path

from bench.term import Options, simulate


def test_a_short_term_survives_crashes_and_faults_and_loses_nothing(tmp_path: Path) -> None:
    outcome = simulate(Options(teachers=9, weeks=2, crashes=2, seed=3, workdir=tmp_path,
                               verbose=False, reply_within=16, join_hours=(9,),
                               lesson_study=False, summaries=False))  # fmt: skip
    figures = outcome.figures
    assert outcome.failures == [], (outcome.failures, figures)
    assert figures["crashes survived (SIGKILL + restart)"] >= 2
    faults = figures["faults_injected by kind".replace("_", " ")]
    assert {"http 429", "http 500", "http 502", "slow", "timeout", "drop"} <= set(faults)
    assert figures["answers acknowledged"] > 0
    assert figures["answers lost"] == 0
    assert figures["due deliveries checked"] > 0
    # The meeting after-cycle ran as far as the short test takes it: attendance, reflections.
    assert not figures["meetings held (attendance) / reflections after them"].startswith("0 ")
