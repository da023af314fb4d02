"""The whole cycle of a trio meeting, as the lead and three members live it on their phones."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FakeClock
from tests.harness import BotUnderTest
from tests.meeting_script import Trio, at, form_trio, newest, run_schedule, utc

pytestmark = pytest.mark.both_stores


async def schedule_first_meeting(bot: BotUnderTest, trio: Trio) -> None:
    alice = trio.alice
    await alice.says("/meeting")
    assert "No meetings coming up" in alice.last_text
    await alice.taps("New meeting")
    assert "On what date" in alice.last_text
    await alice.says("1/12/2026")
    assert "Europe/London" in alice.last_text  # the time is asked in the lead's zone
    await alice.says("16:00")
    await alice.says("https://meet.example/trio-1")
    await alice.says("Feedback that moves learning on")
    assert "Ready to invite the trio?" in alice.last_text
    await alice.taps("Send the invitations")
    assert "Invitations are on their way" in alice.last_text


async def test_the_whole_cycle_in_private_chats(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await form_trio(bot)
    alice, bruno, carmen, fran = trio.members
    await schedule_first_meeting(bot, trio)

    # Invitation with a calendar file, each in their own time zone.
    await run_schedule(bot, clock)
    invite = newest(carmen, "Trio meeting")
    assert "Tue 1 Dec 2026, 17:00 (Europe/Madrid)" in invite.plain_text
    assert "Tue 1 Dec 2026, 16:00 (Europe/London)" in newest(bruno, "Trio meeting").plain_text
    for person in trio.members:
        files = [m for m in person.inbox if m.document is not None]
        assert len(files) == 1, person
        name, content = files[0].document  # type: ignore[misc]
        assert name.endswith(".ics")
        ics = content.decode()
        assert "DTSTART:20261201T160000Z" in ics and "SEQUENCE:1" in ics
        assert "Feedback that moves learning on" in ics

    # Reminders a day and an hour before, at the right local times.
    at(clock, utc(2026, 11, 30, 15, 59))
    await run_schedule(bot, clock)
    assert "Tomorrow" not in carmen.last_text
    at(clock, utc(2026, 11, 30, 16, 0))
    await run_schedule(bot, clock)
    assert "Tomorrow at 17:00: trio meeting" in carmen.last_text
    assert "17:00 (Europe/Madrid)" in carmen.last_text
    assert "Tomorrow at " in fran.last_text and ": trio meeting" in fran.last_text
    at(clock, utc(2026, 12, 1, 15, 0))
    await run_schedule(bot, clock)
    assert "In one hour" in bruno.last_text and "16:00 (Europe/London)" in bruno.last_text

    # After the meeting the lead records attendance (Fran could not come).
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    assert "Who took part?" in alice.last_text
    await alice.taps("Record attendance")
    for name in ("Alice", "Bruno", "Carmen"):
        await alice.taps(name)
    await alice.taps("Done")
    assert "attendance saved" in alice.last_text
    await run_schedule(bot, clock)

    # Individual reflections, privately, for those who attended.
    assert not any("After the trio meeting" in m.plain_text for m in fran.inbox)
    await bruno.taps("Answer now", message=newest(bruno, "After the trio meeting"))
    await bruno.says("A feedback protocol we can try in Year 5")
    await bruno.says("How little the pupils used the written comments")
    assert "saved" in bruno.last_text
    await carmen.taps("Answer now", message=newest(carmen, "After the trio meeting"))
    await carmen.sends_voice(duration=20)
    await carmen.taps("Skip")
    rows = await bot.db.fetchall("SELECT take_back, surprise FROM meeting_reflection")
    assert len(rows) == 2

    # The summary, written by the lead.
    await alice.taps("write it now", message=newest(alice, "who will write up the summary"))
    assert "What was the focus" in alice.last_text
    await alice.taps("Keep the planned focus")
    assert "Northfield Primary" in alice.last_text
    await alice.says("Whole-class feedback sheets instead of written comments")
    await alice.sends_voice(duration=35)  # Southgate, as a voice note
    await alice.taps("Skip")  # Westbrook
    await alice.says("Book looks from Year 5 and what pupils said about feedback")
    await alice.says("No cover to release teachers for visits")
    await alice.taps("within school")
    await alice.taps("Northfield Primary")  # whose barrier: her own school, the first button
    await alice.says("Buses between our sites stop at 4pm")
    await alice.taps("between schools")
    await alice.taps("Westbrook Primary")
    await alice.taps("Skip")  # no more barriers
    assert "at least one action" in alice.last_text
    await alice.says("Try the feedback sheets in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/12/2026")
    await alice.says("Share the pupil voice survey")
    await alice.taps("Carmen")
    await alice.says("2026-12-18")
    await alice.taps("That's all")
    await alice.says("Is there research on whole-class feedback in primary?")
    await alice.taps("Skip")
    preview = alice.last_text
    assert "Here is the draft" in preview and "(within school)" in preview
    assert "voice note (35 s)" in preview and "Bruno, by Tue 15 Dec 2026" in preview
    await alice.taps("Send to the trio")
    assert "Sent to the trio for agreement" in alice.last_text

    summary = await bot.db.fetchone("SELECT * FROM summary")
    assert summary is not None and summary["status"] == "draft"
    levels = await bot.db.fetchall(
        "SELECT level FROM summary_item WHERE kind = 'barrier' ORDER BY position"
    )
    assert [r[0] for r in levels] == ["within", "between"]
    assert await bot.db.fetchval("SELECT COUNT(*) FROM action") == 2

    # Agreement: Bruno approves, Carmen suggests a change, Alice edits, all approve again.
    await run_schedule(bot, clock)
    first_draft = newest(bruno, "Draft summary for your agreement")
    old_approve = next(d for row in first_draft.buttons for t, d in row if "Approve" in t)
    assert "your approval is counted" in newest(alice, "Draft summary").plain_text
    await bruno.taps("Approve", message=first_draft)
    await carmen.taps("Suggest a change", message=newest(carmen, "Draft summary"))
    await carmen.says("Please name the survey: Pupil Voice 2026")
    assert "gone to the summary's author" in carmen.last_text
    await run_schedule(bot, clock)
    suggestion = newest(alice, "suggests a change")
    assert "Pupil Voice 2026" in suggestion.plain_text
    await alice.taps("Edit the summary", message=suggestion)
    await alice.taps("Action: Share the pupil voice")
    await alice.taps("What will be done")
    assert "Share the pupil voice survey" in alice.last_text  # the text it replaces
    await alice.says("Share the Pupil Voice 2026 survey")
    assert "Change something else" in alice.last_text
    await alice.taps("Done")  # no other change
    assert "revised summary has gone" in alice.last_text
    await run_schedule(bot, clock)

    # The first revision's buttons no longer count.
    await bruno.taps_data(old_approve, message_id=first_draft.message_id)
    assert "replaced or already agreed" in (bruno.last_answer or {}).get("text", "")
    for person in (bruno, carmen):
        revised = newest(person, "Revised draft")
        assert "Pupil Voice 2026 survey" in revised.plain_text
        assert (
            "Pupil Voice 2026 survey — Carmen, by Fri 18 Dec 2026 ✏️ changed" in revised.plain_text
        )
        await person.taps("Approve", message=revised)
    assert await bot.db.fetchval("SELECT status FROM summary") == "draft"  # Fran has not
    await fran.taps("Approve", message=newest(fran, "Revised draft"))
    row = await bot.db.fetchone("SELECT status, agreed_how, agreed_at, revision FROM summary")
    assert row is not None and (row["status"], row["agreed_how"], row["revision"]) == (
        "agreed",
        "all",
        2,
    )
    await run_schedule(bot, clock)
    for person in trio.members:
        assert "the summary is agreed" in person.last_text

    # Action follow-up: Bruno is reminded the day before, at his reminder time, and marks it.
    at(clock, utc(2026, 12, 14, 15, 45))
    await run_schedule(bot, clock)
    due = newest(bruno, "Action due Tue 15 Dec 2026")
    assert "feedback sheets" in due.plain_text
    await bruno.taps("In progress", message=due)
    assert (
        await bot.db.fetchval(
            "SELECT a.status FROM action a JOIN person p ON p.id = a.owner_id"
            " WHERE p.telegram_id = 802"
        )
        == "in_progress"
    )

    # The next meeting's reminder shows what happened to the actions.
    await alice.says("/meeting")
    await alice.taps("New meeting")
    await alice.says("12/1/2027")
    await alice.says("4pm")
    await alice.taps("Skip")
    await alice.says("Feedback, round two")
    await alice.taps("Send the invitations")
    at(clock, utc(2027, 1, 11, 16, 0))
    await run_schedule(bot, clock)
    reminder = newest(carmen, "Tomorrow at 17:00: trio meeting")
    assert "Actions from last time" in reminder.plain_text
    text = reminder.plain_text
    assert "feedback sheets in Year 5 — Bruno, by Tue 15 Dec 2026 (in progress)" in text
    assert "Pupil Voice 2026 survey — Carmen, by Fri 18 Dec 2026 (not started)" in text

    # And the next summary starts from them.
    at(clock, utc(2027, 1, 12, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance", message=newest(alice, "Who took part?"))
    await alice.taps("Alice")
    await alice.taps("Done")
    await alice.says("/summary")
    assert "Actions from last time" in alice.last_text
    await alice.says("Feedback, round two")
    assert "Action 1 of 2" in alice.last_text
    await alice.taps("done")
    await alice.taps("dropped")
    statuses = await bot.db.fetchall("SELECT status FROM action ORDER BY id")
    # Stored as soon as the summary is sent; until then the flow keeps the answers.
    assert [r[0] for r in statuses] == ["in_progress", "open"]
    answers = json.loads(
        await bot.db.fetchval("SELECT answers FROM flow_state WHERE status = 'open'")
    )
    assert answers["previous"] == [{"status": "done"}, {"status": "dropped"}]
