"""The cycle again with the trio's Telegram group linked, the bot in privacy mode there."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FakeClock
from tests.harness import bot_under_test
from tests.meeting_script import at, form_trio, newest, run_schedule, utc

GROUP = -100777


async def test_the_cycle_with_a_linked_group_in_privacy_mode(
    db_path: Path, clock: FakeClock
) -> None:
    async for bot in bot_under_test(db_path, clock, rate_limiter=False):
        bot.conversation.step_seconds = 4  # a group takes 20 messages a minute
        trio = await form_trio(bot)
        alice, bruno, carmen, fran = trio.members
        bot.api.add_group(GROUP, "Our trio", [801, 802, 803, 804])
        assert bot.api.group_privacy

        await bruno.says("/link", chat_id=GROUP)  # not a lead: refused, nothing linked
        await alice.says("/link", chat_id=GROUP)
        assert "linked to" in bot.api.last_in(GROUP).plain_text  # type: ignore[union-attr]

        await alice.says("/meeting")
        await alice.taps("New meeting")
        for answer in ("2026-12-01", "16:00", "https://meet.example/g", "Feedback"):
            await alice.says(answer)
        await alice.taps("Send the invitations")
        await run_schedule(bot, clock)
        assert "Trio meeting" in newest(alice, "Trio meeting", GROUP).plain_text
        ics = [m.document for m in bot.api.messages_in(GROUP) if m.document is not None]
        assert [name for name, _ in ics] == ["trio-meeting-1.ics"]  # the group gets it too
        assert b"BEGIN:VEVENT" in ics[0][1]
        at(clock, utc(2026, 11, 30, 16, 0))
        await run_schedule(bot, clock)
        assert "Tomorrow at 16:00: trio meeting" in bot.api.last_in(GROUP).plain_text  # type: ignore[union-attr]
        at(clock, utc(2026, 12, 1, 17, 0))
        await run_schedule(bot, clock)
        await alice.taps("Record attendance")
        for name in ("Alice", "Bruno", "Carmen", "Fran"):
            await alice.taps(name)
        await alice.taps("Done")

        # The summary, run in the group by the lead.
        await alice.says("/summary", chat_id=GROUP)
        focus_prompt = bot.api.last_in(GROUP)
        assert focus_prompt is not None and "What was the focus" in focus_prompt.plain_text
        assert "reply to this message" in focus_prompt.plain_text
        # Talk in the group that is not a reply never reaches the bot (privacy mode)…
        assert await alice.says("let me think", chat_id=GROUP) == []
        # …and even with privacy mode off, only replies to the bot are taken as answers.
        bot.api.group_privacy = False
        assert await alice.says("let me think", chat_id=GROUP) == []
        bot.api.group_privacy = True
        # A reply from someone else is not taken as an answer either.
        assert await bruno.says("Feedback!", chat_id=GROUP, reply_to=focus_prompt) == []
        await alice.says("Feedback that moves learning on", chat_id=GROUP, reply_to=focus_prompt)
        shared = bot.api.last_in(GROUP)
        assert shared is not None and "Northfield Primary" in shared.plain_text
        assert shared.reply_markup == {
            "force_reply": True,
            "selective": True,
            "input_field_placeholder": "Your answer",
        }
        assert shared.reply_to_message_id is not None  # aimed at Alice's message
        answer = (await alice.says("Feedback sheets", chat_id=GROUP, reply_to=shared))[-1]
        assert "Southgate" in answer.plain_text
        for _ in range(3):  # Southgate, Westbrook, evidence
            await alice.says("/skip", chat_id=GROUP)
        barrier = bot.api.last_in(GROUP)
        assert barrier is not None and "Barrier 1" in barrier.plain_text
        await alice.says("No cover for visits", chat_id=GROUP, reply_to=barrier)
        await bruno.taps("within school", chat_id=GROUP)  # not his to answer
        assert "someone else's" in (bruno.last_answer or {}).get("text", "")
        await alice.taps("within school", chat_id=GROUP)
        await alice.taps("Northfield Primary", chat_id=GROUP)
        await alice.says("/skip", chat_id=GROUP)  # no more barriers
        await alice.says("/skip", chat_id=GROUP)  # actions cannot be skipped
        assert "isn't possible" in bot.api.last_in(GROUP).plain_text  # type: ignore[union-attr]
        action = newest(alice, "Action 1", GROUP)
        await alice.says("Try the sheets in Year 5", chat_id=GROUP, reply_to=action)
        await alice.taps("Bruno", chat_id=GROUP)
        due = bot.api.last_in(GROUP)
        await alice.says("15/12/2026", chat_id=GROUP, reply_to=due)
        await alice.taps("That's all", chat_id=GROUP)
        await alice.says("/skip", chat_id=GROUP)
        await alice.says("/skip", chat_id=GROUP)
        await alice.taps("Send to the trio", chat_id=GROUP)
        assert "Sent to the trio" in bot.api.last_in(GROUP).plain_text  # type: ignore[union-attr]

        await run_schedule(bot, clock)
        for person in (bruno, carmen, fran):
            await person.taps("Approve", message=newest(person, "Draft summary"))
        await run_schedule(bot, clock)
        assert "the summary is agreed" in bot.api.last_in(GROUP).plain_text  # type: ignore[union-attr]
        row = await bot.db.fetchone("SELECT status, focus FROM summary")
        assert row is not None and row["status"] == "agreed"
        assert "moves learning on" in row["focus"]
