"""`triobot console` as a newcomer uses it: a script typed (piped) into the console's own
loop, and what it prints to everyone — invitations, calendar files, prompts, toasts — read
back as the conversation it is."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.console import run_console
from bot.cli.console_clock import BadTime
from tests.conftest import FakeClock
from tests.harness import settings_for

TYPED = re.compile(r"\w+( \(group\))?> ")  # the console's echo of a line typed
JOIN = ("1", "1", "1", "1")  # consent, English, the name Telegram gave, Europe/London


def joins(name: str) -> list[str]:
    return [f"/as {name}", f"/start DEMO{name.upper()}", *JOIN]


async def console(
    db_path: Path, script: list[str], start: datetime, *, at: str | None = None
) -> str:
    """Pipe `script` into the console, on a clock that stands still unless /clock moves it."""
    out = io.StringIO()
    stdin = io.StringIO("".join(line + "\n" for line in script))
    clock = FakeClock(start)
    await run_console(settings_for(db_path), clock=clock, stdin=stdin, out=out, start=at)
    return out.getvalue()


def after(output: str, typed: str) -> str:
    """What the console printed after the (last) line `typed`, up to the next line typed."""
    marker = f"> {typed}\n"
    assert marker in output, f"{typed!r} was never typed"
    lines = []
    for line in output.rsplit(marker, 1)[1].splitlines():
        if TYPED.match(line):  # "Bruno> …": the next line typed
            break
        lines.append(line)
    return "\n".join(lines)


def to(output: str, name: str) -> list[str]:
    """Each message printed for `name`, as one block of text (header included): a block
    runs to the next message, time heading, console note or line typed."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("[bot → "):
            current = [line] if line.startswith(f"[bot → {name}]") else None
            if current is not None:
                blocks.append(current)
        elif line.startswith(("──", "(")) or TYPED.match(line):
            current = None
        elif current is not None:
            current.append(line)
    return ["\n".join(block).strip() for block in blocks]


MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
MEETING = [
    "/as Alice",
    "/meeting",
    "1",  # New meeting
    "1/12",
    "16:00",
    "https://meet.example/trio",
    "Feedback that moves learning on",
    "1",  # Send the invitations
]


async def test_a_meeting_alice_schedules_reaches_bruno_and_carmen_with_its_ics(
    db_path: Path,
) -> None:
    script = [*joins("Alice"), *joins("Bruno"), *joins("Carmen"), *MEETING]
    output = await console(db_path, script, MONDAY)
    sent = after(output, "1")  # what tapping "Send the invitations" led to
    assert "Invitations are on their way" in sent
    for name in ("Bruno", "Carmen"):
        theirs = [block for block in to(sent, name)]
        assert any("📅 Trio meeting — Oldham–Stockport–Wigan trio" in b for b in theirs), theirs
        assert any("When: Tue 1 Dec 2026, 16:00" in b for b in theirs)
        assert any(
            "📎 trio-meeting-1.ics — calendar invite: Tue 1 Dec 16:00" in b for b in theirs
        ), theirs
    # In the order sent: Bruno's invitation comes before Carmen's.
    assert sent.index("[bot → Bruno]") < sent.index("[bot → Carmen]")


async def test_in_the_linked_group_the_invitation_and_ics_arrive_too(db_path: Path) -> None:
    script = [
        *joins("Alice"),
        *joins("Bruno"),
        "/as Alice",
        "/group",
        "/link",
        "/private",
        *MEETING,
    ]
    output = await console(db_path, script, MONDAY)
    assert after(output, "/group").strip() == (
        "(now typing as Alice, in Oldham–Stockport–Wigan trio group)"
    )
    linked = to(after(output, "/link"), "Oldham–Stockport–Wigan trio group")
    assert len(linked) == 1 and "linked to Oldham–Stockport–Wigan trio" in linked[0]
    group = "\n".join(to(after(output, "1"), "Oldham–Stockport–Wigan trio group"))
    assert "📅 Trio meeting — Oldham–Stockport–Wigan trio" in group
    assert "📎 trio-meeting-1.ics — calendar invite: Tue 1 Dec 16:00" in group


async def test_done_with_nobody_ticked_gets_its_alert_printed(db_path: Path) -> None:
    script = [
        *joins("Alice"),
        *joins("Bruno"),
        *MEETING,
        "/clock 2026-12-01 17:10",  # the meeting is over: Alice is asked who took part
        "1",  # Record attendance
        "3",  # Done, with nobody ticked
    ]
    output = await console(db_path, script, MONDAY)
    moved = after(output, "/clock 2026-12-01 17:10")
    assert "── Tue 1 Dec 2026 15:00 (Europe/London) ──" in moved  # the hour-before reminder
    # Bruno joined this week, so this week's prompt reaches him too (at 15:45, after it).
    assert any("In one hour: trio meeting" in m for m in to(moved, "Bruno"))
    assert "[1] ✅ Record attendance" in to(moved, "Alice")[-1]
    attendance = to(after(output, "1"), "Alice")[-1]
    assert "Who took part" in attendance and "[3] Done ✓" in attendance
    assert after(output, "3").strip() == (
        "[bot → Alice] (alert) Please choose at least 1 before tapping Done."
    )


async def test_moving_the_clock_three_days_prints_the_reflection_prompt_that_fell_due(
    db_path: Path,
) -> None:
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    script = [*joins("Alice"), "/clock", "/clock +3d", "1", "We tried exit tickets in Year 5."]
    output = await console(db_path, script, sunday)
    assert "(bot time: Sun 29 Nov 2026 10:00 (Europe/London))" in after(output, "/clock")
    moved = after(output, "/clock +3d")
    # Tuesday at her reminder time (15:45), under the moment it was sent.
    assert "── Tue 1 Dec 2026 15:45 (Europe/London) ──" in moved
    prompt = to(moved, "Alice")
    assert len(prompt) == 1 and "This week's reflection" in prompt[0]
    assert "[1] ✍️ Answer now" in prompt[0]
    assert "(bot time is now Wed 2 Dec 2026 10:00 (Europe/London))" in moved
    # Typing 1 taps "Answer now" on the prompt she was shown; then she types her answer.
    assert "Type your answer" in after(output, "1")
    assert "Thank you — saved" in after(output, "We tried exit tickets in Year 5.")


async def test_a_clock_argument_it_cannot_read_gets_a_clear_line(db_path: Path) -> None:
    script = ["/clock tomorrow", "/clock +3x", "/clock 2026-13-40 10:00"]
    output = await console(db_path, script, MONDAY)
    for typed in script:
        line = after(output, typed).strip()
        argument = typed.split(" ", 1)[1]
        assert line.startswith(f"(I can't read '{argument}' as a")
        assert "it is Mon 30 Nov 2026 10:00 (Europe/London)" in line
        assert "Try /clock +2h, /clock +3d or /clock 2026-12-01 15:50" in line


async def test_time_cannot_go_back(db_path: Path) -> None:
    script = ["/clock +1d", "/clock -2h", "/clock 2026-11-30 12:00", "/clock"]
    output = await console(db_path, script, MONDAY)
    for typed in ("/clock -2h", "/clock 2026-11-30 12:00"):
        assert after(output, typed).strip().startswith("(time only moves forward: it is Tue 1")
    assert "(bot time: Tue 1 Dec 2026 10:00 (Europe/London))" in after(output, "/clock")


async def test_a_number_taps_only_what_the_person_typing_was_shown(db_path: Path) -> None:
    # Alice is at the consent question, with buttons; Bruno, who has seen nothing, types 1.
    script = ["/start DEMOALICE", "/as Bruno", "1"]
    output = await console(db_path, script, MONDAY)
    reply = after(output, "1")
    assert reply.strip().startswith("[bot → Bruno]")  # taken as Bruno's words, not a tap
    assert "[bot → Alice]" not in reply  # Alice's question was not answered for her


async def test_the_console_can_start_at_a_given_time(db_path: Path) -> None:
    output = await console(db_path, ["/clock"], MONDAY, at="2026-12-07 08:30")
    assert "(bot time: Mon 7 Dec 2026 08:30 (Europe/London))" in after(output, "/clock")
    with pytest.raises(BadTime):
        await console(db_path, [], MONDAY, at="next week")


README = Path(__file__).resolve().parent.parent / "README.md"


async def test_the_readme_walk_through_does_what_it_says(db_path: Path) -> None:
    readme = await asyncio.to_thread(README.read_text, "utf-8")
    section = readme.split("### Trying it in the console", 1)[1]
    command, rest = section.split("<<'END'\n", 1)
    script = rest.split("\nEND\n", 1)[0].splitlines()
    at = command.rsplit("--at '", 1)[1].split("'", 1)[0]
    output = await console(db_path, script, MONDAY, at=at)
    assert "This week's reflection" in to(after(output, "/clock 2026-12-01 16:00"), "Alice")[0]
    answer = next(line for line in script if line.startswith("We tried"))
    assert "Thank you — saved" in after(output, answer)
    sent = after(output, "1")  # Send the invitations
    bruno = "\n".join(to(sent, "Bruno"))
    assert "📅 Trio meeting — Oldham–Stockport–Wigan trio" in bruno
    assert "📎 trio-meeting-1.ics — calendar invite: Tue 8 Dec 16:00" in bruno
    week = after(output, "/clock +1w")
    assert "⏰ Tomorrow at 16:00: trio meeting" in "\n".join(to(week, "Bruno"))
    assert "⏰ In one hour: trio meeting" in "\n".join(to(week, "Bruno"))
