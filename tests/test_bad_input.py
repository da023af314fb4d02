"""Every kind of bad input gets a clear, kind reply, and leaves stored state as it was."""

from __future__ import annotations

from typing import Any

from tests.harness import BotUnderTest, bruno_at_the_name_step, join


async def _state(bot: BotUnderTest, user_id: int) -> tuple[Any, ...]:
    row = await bot.db.fetchone(
        "SELECT f.flow, f.step, f.answers, f.status FROM flow_state f"
        " JOIN person p ON p.id = f.person_id WHERE p.telegram_id = ? ORDER BY f.id DESC",
        (user_id,),
    )
    assert row is not None
    return tuple(row)


async def _at_name_step(bot: BotUnderTest, user_id: int = 601) -> Any:
    return await bruno_at_the_name_step(bot, user_id)


async def test_stickers_photos_files_and_places_are_explained(bot: BotUnderTest) -> None:
    bruno = await _at_name_step(bot)
    before = await _state(bot, 601)
    for action, word in [
        (bruno.sends_sticker, "sticker"),
        (bruno.sends_photo, "photo"),
        (lambda: bruno.sends_document("plan.pdf"), "file"),
        (bruno.sends_location, "location"),
    ]:
        replies = await action()
        assert word in replies[0].plain_text, replies[0].plain_text
        assert "What name" in replies[-1].plain_text  # the question, asked again
    assert await _state(bot, 601) == before


async def test_a_ten_thousand_character_message_is_refused_kindly(bot: BotUnderTest) -> None:
    bruno = await _at_name_step(bot)
    before = await _state(bot, 601)
    replies = await bruno.says("B" * 10_000)
    assert "10,000 characters" in replies[0].plain_text
    assert await _state(bot, 601) == before


async def test_unknown_commands_and_edits_get_an_answer(bot: BotUnderTest) -> None:
    bruno = await _at_name_step(bot)
    before = await _state(bot, 601)
    replies = await bruno.says("/frobnicate now")
    assert "don’t know the command /frobnicate" in replies[0].plain_text
    update = bot.api.edited_text(601, 1, "/start changed")
    replies = await bot.conversation.deliver(update)
    assert "edited messages" in replies[0].plain_text
    assert await _state(bot, 601) == before


async def test_forged_replayed_and_foreign_buttons_change_nothing(bot: BotUnderTest) -> None:
    bruno = bot.person(602, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    consent_message = bruno.last
    assert consent_message is not None
    yes_data = consent_message.buttons[0][0][1]
    await bruno.taps("Yes")
    before = await _state(bot, 602)

    shown = len(bot.api.messages_in(602))
    await bruno.taps_data(yes_data, message_id=consent_message.message_id)
    assert "earlier question" in (bruno.last_answer or {}).get("text", "")
    # Tapping an answered question again usually means its reply never arrived (a crash
    # after the answer was stored): the question they are at now comes again.
    assert len(bot.api.messages_in(602)) == shown + 1
    assert "Which language" in bruno.last_text
    assert await _state(bot, 602) == before

    await bruno.taps_data("f:1:0:o0~AAAAAAAAAAA", message_id=consent_message.message_id)
    assert "isn't one I made" in (bruno.last_answer or {}).get("text", "")

    await bruno.taps_data("garbage", message_id=99_999)
    assert "isn't one I made" in (bruno.last_answer or {}).get("text", "")

    # Carmen replays Bruno's current button (she has seen its data somehow).
    carmen = bot.person(603, "Carmen")
    await join(carmen, "DEMOCARMEN")
    language_message = bruno.last
    assert language_message is not None
    english = language_message.buttons[0][0][1]
    await carmen.taps_data(english, message_id=language_message.message_id, chat_id=603)
    assert "someone else" in (carmen.last_answer or {}).get("text", "")
    assert await _state(bot, 602) == before


async def test_cancel_always_leaves_cleanly_and_start_resumes(bot: BotUnderTest) -> None:
    bruno = await _at_name_step(bot)
    await bruno.says("/cancel")
    assert "Cancelled your joining" in bruno.last_text
    assert (await _state(bot, 601))[3] == "cancelled"
    await bruno.says("Bruno")
    assert "haven't finished joining" in bruno.last_text
    await bruno.says("/cancel")
    assert "nothing to cancel" in bruno.last_text
    # Cancel said the answers were kept: starting again goes on from where they stopped,
    # and "Start afresh" begins at the first question.
    await bruno.says("/start")
    assert "I kept your answers" in bruno.inbox[-2].plain_text
    assert "What name should your trio see?" in bruno.last_text
    await bruno.taps("Start afresh", message=bruno.inbox[-2])
    assert "What I keep" in bruno.last_text


async def test_a_new_command_mid_flow_offers_to_continue_or_discard(bot: BotUnderTest) -> None:
    alice = bot.person(604, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/settings")
    await alice.taps("Quiet hours")
    await alice.says("/privacy")
    assert "middle of your settings" in alice.last_text
    await alice.taps("Continue")
    assert "When should I stay quiet?" in alice.last_text
    await alice.says("22:00-06:30")
    assert "Saved" in alice.last_text
    person = await bot.services.people.by_telegram_id(604)
    assert person is not None and (person.quiet_start, person.quiet_end) == ("22:00", "06:30")


async def test_bad_settings_values_are_reasked(bot: BotUnderTest) -> None:
    alice = bot.person(605, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/settings")
    await alice.taps("Reminder time")
    replies = await alice.says("teatime")
    assert "couldn’t read that as a time" in replies[0].plain_text
    await alice.says("4pm")
    await alice.says("/settings")
    await alice.taps("Time zone")
    replies = await alice.says("Mars/Olympus")
    assert "don’t know the time zone" in replies[0].plain_text
    person = await bot.services.people.by_telegram_id(605)
    assert person is not None
    assert (person.reminder_time, person.time_zone) == ("16:00", "Europe/London")


async def test_privacy_shows_what_is_held_and_consent_can_be_withdrawn(bot: BotUnderTest) -> None:
    alice = bot.person(606, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/privacy")
    shown = alice.last_text
    for fact in ("Alice", "Northfield Primary", "Oldham–Stockport–Wigan trio", "606", "agreed"):
        assert fact in shown
    await alice.taps("Withdraw")
    assert "consent is withdrawn" in alice.last_text
    person = await bot.services.people.by_telegram_id(606)
    assert person is not None
    consent = await bot.services.people.consent(person.id)
    assert consent is not None and not consent.given
    rows = await bot.db.fetchall("SELECT given FROM consent WHERE person_id = ?", (person.id,))
    assert [r[0] for r in rows] == [1, 0]  # the history is kept, with times and versions
