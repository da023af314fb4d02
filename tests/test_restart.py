"""Nothing typed is lost: answers are committed before the reply, and restarts resume."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from bot.flows.answers import FreeText
from bot.flows.engine import Actor
from bot.flows.model import Flow, Step
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join

pytestmark = pytest.mark.both_stores

SIX = Flow(
    name="checkin",
    command="/checkin",
    done_template="engine/nothing_to_cancel",
    steps=tuple(Step(f"q{i}", "onboarding/name", FreeText(max_len=500)) for i in range(1, 7)),
)


def _committed_answers(where: Path | str) -> dict[str, Any]:
    """The newest flow's answers as a separate connection sees them: only what was
    committed (a SQLite file, or a PostgreSQL database by its URL)."""
    sql = "SELECT answers FROM flow_state ORDER BY id DESC LIMIT 1"
    if isinstance(where, str) and where.startswith("postgresql://"):
        with psycopg.connect(where, autocommit=True) as other:
            row = other.execute(sql).fetchone()
    else:
        with sqlite3.connect(where) as lite:
            row = lite.execute(sql).fetchone()
    return json.loads(row[0]) if row else {}


async def test_every_answer_is_committed_before_the_reply_is_sent(bot: BotUnderTest) -> None:
    seen: list[dict[str, Any]] = []
    original = bot.api.handle

    async def spy(method: str, params: dict[str, Any], files: Any) -> Any:
        if method.lower() == "sendmessage":
            seen.append(_committed_answers(bot.settings.db_path))
        return await original(method, params, files)

    bot.api.handle = spy  # type: ignore[method-assign]
    bruno = bot.person(701, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    await bruno.taps("Yes")
    assert seen[-1] == {"consent": "yes"}
    await bruno.taps("English")
    await bruno.says("Bruno B")
    assert seen[-1] == {"consent": "yes", "language": "en", "name": "Bruno B"}


async def test_a_restart_mid_flow_resumes_at_the_same_step(bot: BotUnderTest) -> None:
    bruno = bot.person(702, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    await bruno.taps("Yes")
    await bruno.taps("Español")
    await bot.restart()
    bruno = bot.person(702, "Bruno")  # the same Telegram user, on the new Application
    await bruno.says("Bruno")
    await bruno.taps("Europe/Madrid")
    person = await bot.services.people.by_telegram_id(702)
    assert person is not None and person.onboarded
    assert (person.display_name, person.language, person.time_zone) == (
        "Bruno",
        "es",
        "Europe/Madrid",
    )


async def test_buttons_sent_before_a_restart_still_work(bot: BotUnderTest) -> None:
    carmen = bot.person(703, "Carmen")
    await carmen.says("/start DEMOCARMEN")
    await bot.restart()
    carmen = bot.person(703, "Carmen")
    await carmen.taps("Yes")
    assert "Which language" in carmen.last_text


async def test_six_free_text_answers_survive_a_restart_after_each(
    db_path: Any, clock: FakeClock
) -> None:
    async for bot in bot_under_test(db_path, clock, extra_flows=(SIX,)):
        dana = bot.person(704, "Dana")
        await join(dana, "DEMODANA")
        person = await bot.services.people.by_telegram_id(704)
        assert person is not None
        outcome = await bot.services.engine.start(
            Actor(person.id, 704, ZoneInfo("Europe/London")), "checkin"
        )
        assert outcome.handled
        for i in range(1, 7):
            await bot.restart()
            dana = bot.person(704, "Dana")
            await dana.says(f"answer {i}")
        row = await bot.db.fetchone("SELECT answers, status FROM flow_state WHERE flow = 'checkin'")
        assert row is not None and row["status"] == "done"
        assert json.loads(row["answers"]) == {f"q{i}": f"answer {i}" for i in range(1, 7)}


async def test_a_flow_left_for_hours_is_offered_back(bot: BotUnderTest, clock: FakeClock) -> None:
    bruno = bot.person(705, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    await bruno.taps("Yes")
    await bruno.taps("English")
    clock.advance(hours=5)
    await bot.restart()
    bruno = bot.person(705, "Bruno")
    await bruno.says("Bruno the Brave")
    assert "unfinished" in bruno.last_text and "kept what you just sent" in bruno.last_text
    await bruno.taps("Continue")
    assert "time zone" in bruno.last_text
    person = await bot.services.people.by_telegram_id(705)
    assert person is not None and person.display_name == "Bruno the Brave"


async def test_an_expired_flow_is_closed_across_restarts_and_the_person_told(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    bruno = bot.person(706, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    clock.advance(hours=80)
    await bot.restart()
    assert await bot.services.engine.expire_due() == 1
    await bot.restart()
    bruno = bot.person(706, "Bruno")
    replies = await bruno.says("hello")
    assert "was closed because it had been left" in replies[0].plain_text
    assert "haven't finished joining" in replies[-1].plain_text


async def test_a_voice_note_is_taken_wherever_free_text_is(db_path: Any, clock: FakeClock) -> None:
    async for bot in bot_under_test(db_path, clock, extra_flows=(SIX,)):
        dana = bot.person(707, "Dana")
        await join(dana, "DEMODANA")
        person = await bot.services.people.by_telegram_id(707)
        assert person is not None
        await bot.services.engine.start(Actor(person.id, 707, ZoneInfo("Europe/London")), "checkin")
        await dana.sends_voice(duration=42)
        row = await bot.db.fetchone("SELECT answers FROM flow_state WHERE flow = 'checkin'")
        assert row is not None
        answer = json.loads(row["answers"])["q1"]
        assert answer["duration"] == 42 and answer["voice"]
        rendered = bot.services.texts.env.from_string("{{ v | answer }}").render(
            v=answer, lang="en", texts=bot.services.texts
        )
        assert rendered == "🎤 voice note (42 s)"
