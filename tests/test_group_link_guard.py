"""A trio's group stays linked to it: another trio's lead there cannot take it over."""

from __future__ import annotations

from pathlib import Path

from storage.invites import InviteRepo
from storage.programme import ProgrammeRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join
from tests.meeting_script import Trio, form_trio

GROUP = -100778
OTHER_GROUP = -100779


async def _olga_leads_another_trio(bot: BotUnderTest) -> None:
    async with bot.db.transaction() as tx:
        other = await ProgrammeRepo.upsert_trio(
            tx, ref="T-OTHER", kind="teachers", name="Another trio"
        )
        await InviteRepo.create(tx, role="trio_lead", school_id=None, trio_id=other, code="OLGAX1")


async def _linked(bot: BotUnderTest) -> dict[int, str]:
    rows = await bot.db.fetchall(
        "SELECT c.chat_id, t.name FROM trio_chat c JOIN trio t ON t.id = c.trio_id"
    )
    return {int(row[0]): str(row[1]) for row in rows}


async def _setup(bot: BotUnderTest) -> tuple[Trio, str]:
    trio = await form_trio(bot)
    await _olga_leads_another_trio(bot)
    olga = bot.person(805, "Olga")
    await join(olga, "OLGAX1")
    bot.api.add_group(GROUP, "Our trio", [801, 802, 803, 804, 805])
    bot.api.add_group(OTHER_GROUP, "Elsewhere", [801, 805])
    await trio.alice.says("/link", chat_id=GROUP)
    linked = await _linked(bot)
    return trio, linked[GROUP]


async def test_another_trios_lead_cannot_relink_a_linked_group(
    db_path: Path, clock: FakeClock
) -> None:
    async for bot in bot_under_test(db_path, clock, rate_limiter=False):
        bot.conversation.step_seconds = 4
        trio, ours = await _setup(bot)
        olga = bot.person(805, "Olga")

        await olga.says("/link", chat_id=GROUP)
        refusal = bot.api.last_in(GROUP)
        assert refusal is not None
        assert f"already linked to {ours}" in refusal.plain_text
        assert "only that trio's lead" in refusal.plain_text
        assert await _linked(bot) == {GROUP: ours}

        # The trio's own lead may link it again, and move the link to another group.
        await trio.alice.says("/link", chat_id=GROUP)
        assert "now linked to" in bot.api.last_in(GROUP).plain_text  # type: ignore[union-attr]
        assert await _linked(bot) == {GROUP: ours}
        await trio.alice.says("/link", chat_id=OTHER_GROUP)
        assert await _linked(bot) == {OTHER_GROUP: ours}

        # The group it left is free: Olga may link it to her trio now.
        await olga.says("/link", chat_id=GROUP)
        assert await _linked(bot) == {OTHER_GROUP: ours, GROUP: "Another trio"}


async def test_strangers_in_private_are_told_how_to_get_an_invite(
    db_path: Path, clock: FakeClock
) -> None:
    async for bot in bot_under_test(db_path, clock, rate_limiter=False):
        trio = await form_trio(bot)
        stranger = bot.person(899, "Mallory")
        for command in ("/link", "/skip", "/back"):
            replies = await stranger.says(command)
            assert len(replies) == 1, command
            assert "invite" in replies[0].plain_text, (command, replies[0].plain_text)
        # Someone who has joined still gets the private-chat answer to /link.
        replies = await trio.alice.says("/link")
        assert [r.plain_text for r in replies] == [
            "Add me to your trio's Telegram group, then send /link there to link it."
        ]
        # A stranger in a group is still not answered.
        bot.api.add_group(GROUP, "Our trio", [801, 899])
        assert await stranger.says("/skip", chat_id=GROUP) == []
        assert await stranger.says("/link", chat_id=GROUP) == []
