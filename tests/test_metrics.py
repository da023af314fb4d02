"""/metrics on the real bot: every metric README "Health and metrics" documents is exposed,
and moves as people talk to the bot and as a weekly fan-out goes out through 429s."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.app.factory import build_application
from bot.app.metrics import metrics_of, metrics_routes
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join, settings_for
from tests.health_probe import served
from tests.test_health import TUESDAY_1545, queue_weekly_prompts
from tests.test_scheduling import prompts_in, seed_people, start_rounds

README = Path(__file__).resolve().parent.parent / "README.md"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Scrape:
    """One GET /metrics, parsed as Prometheus parses it."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.samples: Samples = {}
        for family in text_string_to_metric_families(text):
            name = family.name + ("_total" if family.type == "counter" else "")
            self.types[name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples[(name, tuple(sorted(labels.items())))]

    def has_samples(self, name: str) -> bool:
        return any(key[0].startswith(name) for key in self.samples)


async def scrape(bot: BotUnderTest) -> Scrape:
    async with served(metrics_routes(bot.app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return Scrape(await response.text())


def documented() -> dict[str, str]:
    """The README's metrics table: name → type."""
    section = README.read_text(encoding="utf-8").split("## Health and metrics", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(triobot_[a-z0-9_]+)` \| (counter|gauge|histogram) \|", section, re.M)
    return dict(rows)


async def test_the_readme_table_lists_exactly_the_metrics_exposed(bot: BotUnderTest) -> None:
    table = documented()
    assert len(table) >= 12
    assert (await scrape(bot)).types == table


async def test_a_conversation_moves_the_update_metrics(
    bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    before = await scrape(bot)
    assert before("triobot_handler_errors_total") == 0
    alice = bot.person(101, "Alice")
    await alice.says("/start DEMOALICE")
    during = await scrape(bot)
    assert during("triobot_flows_open", flow="onboarding") == 1
    await alice.taps("Yes")  # consent
    await alice.taps("English")
    await alice.taps("Alice")
    await alice.taps("Europe/London")
    await alice.says("/reflect")
    await alice.says("Wait time after questions doubled the hands up.")
    # The database locked past the patience: the person is told it was not kept.
    bot.db.write_patience = 0.3
    await alice.says("/reflect")
    locker.execute("BEGIN IMMEDIATE")
    try:
        [reply] = await alice.says("Cold calling kept everyone thinking.")
    finally:
        locker.execute("ROLLBACK")
    assert "not kept" in reply.plain_text

    after = await scrape(bot)
    assert after("triobot_updates_total", kind="command") == 3
    assert after("triobot_updates_total", kind="callback") == 4
    assert after("triobot_updates_total", kind="message") == 2
    for kind in ("command", "callback", "message"):
        count = after("triobot_handler_seconds_count", kind=kind)
        assert count == after("triobot_updates_total", kind=kind)
        assert 0 < after("triobot_handler_seconds_sum", kind=kind) < 10 * count
        assert after("triobot_handler_seconds_bucket", kind=kind, le="+Inf") == count
    assert after("triobot_handler_errors_total") == 1
    assert after("triobot_messages_sent_total", via="reply") >= 9
    assert ("triobot_flows_open", (("flow", "onboarding"),)) not in after.samples
    assert after("triobot_flows_open", flow="reflection") == 1  # the second, not kept
    assert after("triobot_metrics_db_up") == 1


async def test_a_fan_out_through_429s_moves_the_outbox_and_schedule_metrics(
    bot: BotUnderTest,
) -> None:
    people = await _fan_out_queued(bot)
    queued = await scrape(bot)
    assert queued("triobot_outbox_depth") == len(people)
    assert queued("triobot_outbox_oldest_seconds") == 90  # queued at 15:45, not sent since
    assert queued("triobot_schedule_rows_total", outcome="fired") >= len(people) + 1

    # Telegram says "too many requests" twice, then one teacher has blocked the bot.
    bot.api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7, times=2
    )
    bot.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await bot.tick()
    sent = await scrape(bot)
    assert sum(len(prompts_in(bot, chat)) for chat in people) == len(people) - 1
    assert sent("triobot_messages_sent_total", via="outbox") == len(people) - 1
    assert sent("triobot_telegram_429_total", via="outbox") == 2
    assert sent("triobot_telegram_429_wait_seconds_total", via="outbox") == 14
    assert sent("triobot_deliveries_failed_total", reason="unreachable") == 1
    assert sent("triobot_deliveries_failed_total", reason="refused") == 0
    assert sent("triobot_outbox_depth") == 0
    assert sent("triobot_outbox_oldest_seconds") == 0
    assert sent("triobot_schedule_last_tick_seconds") >= 14  # the 429 waits passed since


async def test_due_and_overdue_schedule_rows_and_a_429_pause(bot: BotUnderTest) -> None:
    await seed_people(bot, 30)
    await start_rounds(bot)
    bot.clock.advance((TUESDAY_1545 - bot.clock()).total_seconds())  # nothing ticked since
    late = await scrape(bot)
    assert late("triobot_schedule_due") >= 1  # this week's round at least
    assert late("triobot_schedule_overdue") == late("triobot_schedule_due")  # a day late
    assert "triobot_schedule_last_tick_seconds" in late.types
    assert not late.has_samples("triobot_schedule_last_tick_seconds")  # it never ticked

    while (await bot.services.scheduler.run_due()).touched:
        pass
    fired = await scrape(bot)
    assert fired("triobot_schedule_due") == 0 and fired("triobot_schedule_overdue") == 0
    assert fired("triobot_schedule_last_tick_seconds") == 0
    assert fired("triobot_outbox_depth") >= 30
    bot.clock.advance(50)
    assert (await scrape(bot))("triobot_schedule_last_tick_seconds") == 50

    bot.services.sender.pacer.pause(300)  # as a 429 with retry_after 300 does
    paused = await scrape(bot)
    assert 299 < paused("triobot_sender_paused_seconds") <= 300


async def test_a_database_that_does_not_answer_leaves_the_memory_metrics(
    bot: BotUnderTest,
) -> None:
    alice = bot.person(101, "Alice")
    await join(alice, "DEMOALICE")
    metrics_of(bot.app).db_timeout = 0.2
    # The bot's one connection busy in a long transaction (an erasure, a big tick).
    async with bot.db.transaction():
        started = asyncio.get_running_loop().time()
        held = await scrape(bot)
        assert asyncio.get_running_loop().time() - started < 2
    assert held("triobot_metrics_db_up") == 0
    assert held("triobot_updates_total", kind="callback") == 4  # what memory holds is there
    assert not held.has_samples("triobot_outbox_depth")  # what only the database knows is not
    assert "triobot_outbox_depth" in held.types  # (but named, so the table test holds)
    assert (await scrape(bot))("triobot_metrics_db_up") == 1


async def _fan_out_queued(bot: BotUnderTest) -> list[int]:
    """Thirty teachers' weekly prompts queued at Tuesday 15:45; 90 s later, none sent."""
    people = await queue_weekly_prompts(bot, 30)
    bot.clock.advance(90)
    return people


async def test_each_kind_of_update_is_counted_under_its_kind(bot: BotUnderTest) -> None:
    alice = bot.person(101, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/reflect")
    await alice.sends_voice(7)
    await alice.sends_sticker()
    typed = bot.api.text(alice.user_id, "Hands up doubled.")
    await bot.conversation.deliver(typed)
    await bot.conversation.deliver(
        bot.api.edited_text(alice.user_id, typed["message"]["message_id"], "Hands up tripled.")
    )
    counted = await scrape(bot)
    assert counted("triobot_updates_total", kind="command") == 2
    assert counted("triobot_updates_total", kind="callback") == 4
    assert counted("triobot_updates_total", kind="voice") == 1
    assert counted("triobot_updates_total", kind="message") == 2  # the sticker and the text
    assert counted("triobot_updates_total", kind="edited") == 1
    assert counted("triobot_handler_errors_total") == 0


async def test_another_connection_writing_does_not_stop_the_scrape(
    bot: BotUnderTest, locker: sqlite3.Connection
) -> None:
    # WAL: readers go on while another connection holds the write lock, so the queue gauges
    # are still read (what /readyz reports is the write that cannot go).
    locker.execute("BEGIN IMMEDIATE")
    try:
        started = asyncio.get_running_loop().time()
        locked = await scrape(bot)
        assert asyncio.get_running_loop().time() - started < 1
    finally:
        locker.execute("ROLLBACK")
    assert locked("triobot_metrics_db_up") == 1
    assert locked("triobot_outbox_depth") == 0


async def test_a_bot_still_starting_answers_with_what_it_has(
    db_path: Path, clock: FakeClock
) -> None:
    app = build_application(
        settings_for(db_path),
        request=StandInRequest(FakeTelegram(clock=clock.monotonic)),
        clock=clock,
    )
    async with served(metrics_routes(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        starting = Scrape(await response.text())
    assert starting("triobot_metrics_db_up") == 0
    assert starting.types == documented()  # every family named, if without values yet
    assert starting("triobot_messages_sent_total", via="reply") == 0
