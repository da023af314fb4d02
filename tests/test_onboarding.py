"""Joining through an invite, as a teacher would do it on a phone."""

from __future__ import annotations

from datetime import timedelta

from storage.invites import InviteRepo
from storage.people import PeopleRepo
from tests.harness import BotUnderTest, join


async def test_a_teacher_joins_with_an_invite(bot: BotUnderTest) -> None:
    carmen = bot.person(501, "Carmen")
    await carmen.says("/start DEMOCARMEN")
    assert "What I keep, and why" in carmen.last_text
    assert "Westbrook Primary" in carmen.last_text
    await carmen.taps("Yes")
    assert "Which language" in carmen.last_text
    await carmen.taps("English")
    assert "What name should your trio see?" in carmen.last_text
    await carmen.says("Carmen R.")
    assert "time zone" in carmen.last_text
    await carmen.says("europe/madrid")
    assert "You're in, Carmen R.!" in carmen.last_text

    row = await bot.db.fetchone("SELECT * FROM person WHERE telegram_id = 501")
    assert row is not None
    assert (row["display_name"], row["language"], row["time_zone"], row["status"]) == (
        "Carmen R.",
        "en",
        "Europe/Madrid",
        "active",
    )
    consent = await bot.services.people.consent(row["id"])
    assert consent is not None and consent.given and consent.version == "2026-1"
    trios = await bot.services.programme.memberships(row["id"])
    assert [m.trio.ref for m in trios] == ["DEMO-T1"] and not trios[0].is_lead


async def test_start_again_while_joining_shows_the_step_they_were_on(bot: BotUnderTest) -> None:
    # Their first reply never arrived (or they tapped the link twice): sending /start again
    # mid-joining repeats where they are rather than asking them to choose between two joins.
    carmen = bot.person(507, "Carmen")
    await carmen.says("/start DEMOCARMEN")
    await carmen.taps("Yes")
    assert "Which language" in carmen.last_text
    await carmen.says("/start DEMOCARMEN")
    assert "Which language" in carmen.last_text
    assert "middle of" not in carmen.last_text
    await carmen.taps("English")
    assert "What name should your trio see?" in carmen.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM flow_state") == 1


async def test_a_lead_joins_through_the_deep_link_and_leads_the_trio(bot: BotUnderTest) -> None:
    alice = bot.person(502, "Alice")
    # t.me/<bot>?start=CODE arrives as "/start CODE"; codes are not case-sensitive.
    await join(alice, "demoalice")
    row = await bot.db.fetchone("SELECT id FROM person WHERE telegram_id = 502")
    assert row is not None
    assert (await PeopleRepo.grants(bot.db, row["id"])).roles == {"trio_lead", "teacher"}
    memberships = await bot.services.programme.memberships(row["id"])
    assert memberships[0].is_lead


async def test_declining_consent_still_lets_a_person_in(bot: BotUnderTest) -> None:
    bruno = bot.person(503, "Bruno")
    await join(bruno, "DEMOBRUNO", consent="No")
    assert "won't reach any digest" in bruno.last_text
    person_id = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 503")
    consent = await bot.services.people.consent(person_id)
    assert consent is not None and not consent.given


async def test_a_stranger_is_told_how_to_join_and_nothing_is_stored(bot: BotUnderTest) -> None:
    zed = bot.person(504, "Zed")
    await zed.says("/start")
    assert "you need an invite" in zed.last_text
    await zed.says("hello?")
    assert "you need an invite" in zed.last_text
    await zed.says("/start WRONGCODE1234")
    assert "don't recognise that invite" in zed.last_text
    await zed.sends_sticker()
    await zed.says("/settings")
    assert "you need an invite" in zed.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM person") == 0
    assert await bot.db.fetchval("SELECT COUNT(*) FROM flow_state") == 0


async def test_used_expired_and_revoked_invites_are_refused(bot: BotUnderTest) -> None:
    await join(bot.person(505, "Alice"), "DEMOALICE")
    other = bot.person(506, "Mallory")
    await other.says("/start DEMOALICE")
    assert "already been used" in other.last_text
    async with bot.db.transaction() as tx:
        old = await InviteRepo.create(
            tx, role="teacher", expires_at=bot.clock() - timedelta(days=1)
        )
        gone = await InviteRepo.create(tx, role="teacher")
        await InviteRepo.revoke(tx, gone)
    await other.says(f"/start {old}")
    assert "expired" in other.last_text
    await other.says(f"/start {gone}")
    assert "withdrawn" in other.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM person WHERE telegram_id = 506") == 0


async def test_language_follows_telegram_until_chosen(bot: BotUnderTest) -> None:
    lucia = bot.person(507, "Lucía", language="es")
    await lucia.says("/start DEMOCARMEN")
    assert "What I keep" not in lucia.last_text  # Spanish, from Telegram's language_code
    await lucia.says("1")  # a choice can be typed by its number too
    await lucia.taps("Português")
    prompt = lucia.last_text
    assert prompt and "What name" not in prompt
    person = await bot.services.people.by_telegram_id(507)
    assert person is not None and person.language == "pt"


async def test_the_command_menu_is_registered_in_three_languages(bot: BotUnderTest) -> None:
    menus = {key.split("|")[1]: items for key, items in bot.api._commands.items()}
    assert set(menus) == {"", "es", "pt"}
    for items in menus.values():
        assert [c["command"] for c in items] == [
            "start",
            "help",
            "meeting",
            "summary",
            "reflect",
            "digest",
            "lessonstudy",
            "settings",
            "privacy",
            "cancel",
        ]
    assert menus["es"][1]["description"] != menus[""][1]["description"]


async def test_help_lists_every_menu_command_and_the_lead_commands_by_role(
    bot: BotUnderTest,
) -> None:
    alice, bruno = bot.person(521, "Alice"), bot.person(522, "Bruno")
    await join(alice, "DEMOALICE")
    await join(bruno, "DEMOBRUNO", language="Español")
    await alice.says("/help")
    for command in ("meeting", "summary", "reflect", "digest", "lessonstudy", "settings"):
        assert f"/{command} — " in alice.last_text
    assert "/status — " in alice.last_text and "/invite — " in alice.last_text
    await bruno.says("/help")
    assert "/lessonstudy — Lesson study: empezar un ciclo" in bruno.last_text
    assert "/meeting — Las reuniones de tu trío" in bruno.last_text  # in his language, as a member
    assert "/status" not in bruno.last_text and "/start —" not in bruno.last_text
