"""What a simulated term prints at its end: its figures, then what it verified, or what failed.

The invariants themselves are checked in term_checks.py (and term_faults.py), which put what
failed into `Outcome.failures`; this says, from the figures, what a run that passed verified,
and gives the exit status: 1 whenever anything failed, so a term whose work was not done never
exits 0.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bench.verdict import verdict

if TYPE_CHECKING:
    from bench.term import Outcome


def report(outcome: Outcome) -> tuple[list[str], int]:
    """The lines to print after the run, and the exit status."""
    lines = []
    for name, value in outcome.figures.items():
        shown = json.dumps(value) if isinstance(value, dict) else value
        lines.append(f"{name:<44} {shown}")
    lines.append("")
    ending, status = verdict(outcome.failures, verified(outcome.figures))
    return lines + ending, status


def verified(figures: dict[str, Any]) -> list[str]:
    """What a run without failures verified, with its numbers."""

    def f(name: str) -> Any:
        return figures.get(name, "n/a")

    crashes = f("crashes survived (SIGKILL + restart)")
    return [
        f"every acknowledged answer is stored as given: {f('answers acknowledged')} "
        f"acknowledged, {f('answers lost')} lost",
        f"every due prompt, nudge and reminder arrived: {f('due deliveries checked')} checked, "
        f"{f('due deliveries missing')} missing, {f('duplicate deliveries')} duplicates "
        f"(within {crashes} crashes and the ambiguous sends)",
        "nothing the bot initiated arrived in quiet hours, at a weekend or on a closure day: "
        f"{f('messages in quiet hours or on holidays')} such messages",
        "each weekly digest counts what the simulator counted (checked / mismatched): "
        f"{f('weekly digests checked / mismatched')}",
        "every summary all members approved is agreed (sent / agreed (should be)): "
        f"{f('summaries sent / agreed (approved by all: should be agreed)')}",
        f"the bot survived {crashes} SIGKILLs and {f('graceful stops (SIGTERM + restart)')} "
        f"SIGTERMs, {f('rows stuck (outbox rows waiting or claimed 10+ min past due)')} "
        "outbox rows stuck at the end",
    ]
