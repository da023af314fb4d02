"""bench/term.py's ending: what it verified, or NOT VERIFIED lines and exit status 1.

The short simulated term itself runs in tests/test_term_simulation.py (which checks its
verified lines too); here the ending is fed outcomes, and main() a simulation that failed.
"""

from __future__ import annotations

import pytest

import bench.term
from bench.term import Options, Outcome, main
from bench.term_verdict import report

FIGURES = {
    "answers acknowledged": 41,
    "answers lost": 0,
    "due deliveries checked": 57,
    "due deliveries missing": 0,
    "duplicate deliveries": 1,
    "crashes survived (SIGKILL + restart)": 2,
    "graceful stops (SIGTERM + restart)": 1,
    "messages in quiet hours or on holidays": 0,
    "weekly digests checked / mismatched": "2 / 0",
    "summaries sent / agreed (approved by all: should be agreed)": "0 / 0 (0)",
    "rows stuck (outbox rows waiting or claimed 10+ min past due)": 0,
    "faults injected by kind": {"drop": 1},
}


def test_a_term_that_held_says_what_it_verified_and_exits_0() -> None:
    lines, status = report(Outcome(figures=dict(FIGURES)))
    assert status == 0
    assert 'faults injected by kind                      {"drop": 1}' in lines
    assert [line for line in lines if line.startswith("verified: ")] == [
        "verified: every acknowledged answer is stored as given: 41 acknowledged, 0 lost",
        "verified: every due prompt, nudge and reminder arrived: 57 checked, 0 missing,"
        " 1 duplicates (within 2 crashes and the ambiguous sends)",
        "verified: nothing the bot initiated arrived in quiet hours, at a weekend or on a"
        " closure day: 0 such messages",
        "verified: each weekly digest counts what the simulator counted (checked /"
        " mismatched): 2 / 0",
        "verified: every summary all members approved is agreed (sent / agreed (should be)):"
        " 0 / 0 (0)",
        "verified: the bot survived 2 SIGKILLs and 1 SIGTERMs, 0 outbox rows stuck at the end",
    ]


def test_a_failed_invariant_prints_not_verified_and_nothing_verified_and_exits_1() -> None:
    failures = ["acknowledged answer not stored: p-3 2027-W02", "2 due deliveries never arrived"]
    lines, status = report(Outcome(figures=dict(FIGURES), failures=failures))
    assert status == 1
    assert [line for line in lines if "VERIFIED" in line or "verified" in line] == [
        "NOT VERIFIED: acknowledged answer not stored: p-3 2027-W02",
        "NOT VERIFIED: 2 due deliveries never arrived",
    ]


def test_main_exits_1_when_the_simulation_reports_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[Options] = []

    def failed(opts: Options) -> Outcome:
        asked.append(opts)
        return Outcome(figures=dict(FIGURES), failures=["no answer was acknowledged"])

    monkeypatch.setattr(bench.term, "simulate", failed)
    assert main(["--teachers", "9", "--weeks", "1", "--crashes", "0"]) == 1
    assert asked[0].teachers == 9 and asked[0].weeks == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("NOT VERIFIED: no answer was acknowledged")
    assert "verified: " not in out
