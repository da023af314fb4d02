"""The simulated term, shortened: the real bot process, SIGKILLs, every fault kind, invariants.

The full run is `bench/term.py` (README, "Reliability"); this is the same code, smaller.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.term import Options, simulate
from bench.term_checks import _silence_figures, _silences
from bench.term_people import NoReply, Person, Record
from bench.term_roster import Member
from bench.term_world import WatchedTelegram


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


async def test_the_checker_tells_a_late_answer_from_a_missing_one_and_a_loop() -> None:
    """The term's "no reply" figure: an answer that came after the person stopped waiting is
    late (and how late is measured), one that never came is missing, the same question over
    and over is a loop; only the last two fail the run."""
    api = WatchedTelegram(wall_clock=lambda: 1_767_600_000.0)  # Mon 05 Jan 2026 08:00 UTC
    rec = Record()
    people = [
        Person(Member(f"p-{n}", f"P {n}", "teacher", "s", "t", None), 100 + n, api, rec)
        for n in range(3)
    ]
    for p in people:
        api.add_user(p.id, p.m.name)
        p.within = 0.05
        p.push(("text", "I'm here"), None)
    await api.handle("sendMessage", {"chat_id": 100, "text": "Something else first"}, None)
    with pytest.raises(NoReply):
        await people[0]._expect(1, "Type your answer")
    with pytest.raises(NoReply):
        await people[1]._expect(0, "Type your answer")
    with pytest.raises(NoReply):
        await people[2]._give_up("Saved", "asked 'Which week?' again and again")
    await asyncio.sleep(0.1)
    # The bot's answer reaches the first person after they gave up, the second never.
    await api.handle("sendMessage", {"chat_id": 100, "text": "Type your answer (or /cancel)"}, None)
    await api.handle("sendMessage", {"chat_id": 101, "text": "Something else"}, None)

    groups = _silences(SimpleNamespace(api=api), rec.no_reply)  # type: ignore[arg-type]
    assert [s.ref for s in groups["answered late"]] == ["p-0"]
    assert groups["answered late"][0].late is not None
    assert groups["answered late"][0].late >= groups["answered late"][0].waited > 0
    assert [s.ref for s in groups["never answered"]] == ["p-1"]
    assert [s.ref for s in groups["answered, but the same question again"]] == ["p-2"]
    assert _silence_figures("answered late", groups["answered late"]).startswith("1, after ")
    assert "at Mon 05 Jan 08:00" in _silence_figures("never answered", groups["never answered"])
