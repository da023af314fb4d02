"""The simulated term, shortened: the real bot process, SIGKILLs and a SIGTERM, every fault
kind, a database locked past the bot's patience and a full disk, invariants.

The full run is `bench/term.py` (README, "Reliability"); this is the same code, smaller.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import term_world
from bench.term import Options, simulate
from bench.term_checks import _silence_figures, _silences
from bench.term_people import NoReply, Person, Record
from bench.term_roster import Member
from bench.term_verdict import report
from bench.term_world import WatchedTelegram

ROOT = Path(__file__).resolve().parent.parent


def mount_works(tmp_path: Path) -> bool:
    """Whether this machine lets the simulation mount its tmpfs (root, and mount allowed)."""
    probe = tmp_path.parent / f"{tmp_path.name}-probe"
    probe.mkdir()
    try:
        argv = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)]
        if os.geteuid() != 0 or subprocess.run(argv, capture_output=True).returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    finally:
        probe.rmdir()


def test_a_short_term_survives_crashes_and_faults_and_loses_nothing(tmp_path: Path) -> None:
    # Three crashes: two SIGKILLs and a SIGTERM (at the one weekly fan-out, where the lock and
    # the full disk come too, both shortened: the lock still outlasts the bot's 10 s patience).
    outcome = simulate(Options(teachers=9, weeks=2, crashes=3, seed=3, workdir=tmp_path,
                               verbose=False, reply_within=16, join_hours=(9,),
                               lesson_study=False, summaries=False, lock_seconds=14,
                               full_seconds=8))  # fmt: skip
    figures = outcome.figures
    assert outcome.failures == [], (outcome.failures, figures)
    assert figures["crashes survived (SIGKILL + restart)"] >= 2
    assert figures["graceful stops (SIGTERM + restart)"] >= 1
    assert set(figures["exit codes after SIGTERM"]) == {"0"}  # the run's last stop included
    assert "held 14." in figures["database lock episode"]
    if mount_works(tmp_path):
        assert "held 8." in figures["disk full episode"]
    else:
        assert figures["disk full episode"].startswith("skipped: ")
    assert figures["rows stuck (outbox rows waiting or claimed 10+ min past due)"] == 0
    assert (tmp_path / "db" / "term.db").exists()  # kept after the tmpfs was unmounted
    faults = figures["faults_injected by kind".replace("_", " ")]
    assert {"http 429", "http 500", "http 502", "slow", "timeout", "drop"} <= set(faults)
    assert figures["answers acknowledged"] > 0
    assert figures["answers lost"] == 0
    assert figures["due deliveries checked"] > 0
    # The meeting after-cycle ran as far as the short test takes it: attendance, reflections.
    assert not figures["meetings held (attendance) / reflections after them"].startswith("0 ")
    # What bench/term.py prints at the end of this run, and its exit status.
    lines, status = report(outcome)
    assert status == 0
    said = [line for line in lines if line.startswith("verified: ")]
    assert len(said) == 6 and not [line for line in lines if "NOT VERIFIED" in line]
    assert said[0] == (
        "verified: every acknowledged answer is stored as given: "
        f"{figures['answers acknowledged']} acknowledged, 0 lost"
    )


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


async def test_a_person_sends_again_what_the_bot_could_not_keep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bot's "not kept, please send it again" (its real template) is no acknowledgement:
    the person sends the same again, and only the answer to that counts."""
    monkeypatch.setattr(term_world, "RESEND_PAUSE", 0.01)
    api = WatchedTelegram(wall_clock=lambda: 1_767_600_000.0)
    person = Person(Member("p-0", "P 0", "teacher", "s", "t", None), 100, api, Record())
    api.add_user(100, "P 0")
    person.within = 5
    refusal = (ROOT / "prompts/en/errors/not_saved.j2").read_text(encoding="utf-8")

    pushed: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    push = api.push_update

    def pushing(update: dict[str, object]) -> None:
        push(update)
        pushed.put_nowait(update)

    api.push_update = pushing  # type: ignore[method-assign]

    async def bot() -> None:
        await pushed.get()
        await api.handle("sendMessage", {"chat_id": 100, "text": refusal, "parse_mode": "HTML"},
                         None)  # fmt: skip
        await pushed.get()
        await api.handle("sendMessage", {"chat_id": 100, "text": "Thank you — saved"}, None)

    answering = asyncio.create_task(bot())
    reply = await person.says("We tried talk partners", "saved")
    await answering
    assert reply.plain_text == "Thank you — saved"
    assert len(api.not_kept) == 1
    assert person.rec.updates["text"] == 2
    assert person.rec.no_reply == []
