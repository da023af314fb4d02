"""The shared digest reaches schools: on by default for teachers and trio leads (a choice in
/settings wins), posted once to each linked trio group, with each trio's headline in the
message, and nothing at all queued in a week without agreed trio work."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.digest.message import digest_message, shorten
from bot.standin.html import check_telegram_html
from bot.standin.world import SentMessage
from bot.texts import LANGUAGES, TELEGRAM_LIMIT, Texts
from storage import db as db_module
from storage.db import Database, to_db_time
from storage.schema import migration_scripts
from tests.conftest import FakeClock
from tests.digest_programme import agreed_summary, seed
from tests.harness import BotUnderTest, bot_under_test, join

pytestmark = pytest.mark.both_stores

GROUP = -100555
AGREED = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # Thursday of 2026-W48
DELIVERY = datetime(2026, 11, 30, 8, 1, tzinfo=UTC)  # just after Monday 08:00 in London
SHARED = "triobot-digest-2026-W48-schools-en.html"


def documents(messages: list[SentMessage]) -> list[str]:
    return [m.document[0] for m in messages if m.document is not None]


async def deliver(bot: BotUnderTest) -> None:
    """The Monday delivery fires through the durable schedule; the outbox sends it."""
    services = bot.services

    async def no_wait(seconds: float) -> None:
        bot.clock.advance(seconds)

    services.attach_sender(services.sender.bot, monotonic=bot.clock.monotonic, sleep=no_wait)
    await services.digest_delivery.ensure()
    bot.clock.now = DELIVERY
    await services.scheduler.run_due()
    await services.sender.drain()


async def demo_trio_agrees(bot: BotUnderTest, shared: tuple[str, ...]) -> None:
    async with bot.db.transaction() as tx:
        trio = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        alice = await tx.fetchval("SELECT id FROM person WHERE telegram_id = 801")
        await agreed_summary(tx, trio, alice, AGREED, "Feedback that moves learning on", shared)


async def test_teachers_and_leads_get_it_unless_they_turned_it_off(bot: BotUnderTest) -> None:
    cast = {}
    for user_id, name in ((801, "Alice"), (802, "Bruno"), (803, "Carmen")):
        cast[name] = bot.person(user_id, name)
        await join(cast[name], f"DEMO{name.upper()}")
    dana, eve = bot.person(804, "Dana"), bot.person(805, "Eve")
    await join(dana, "DEMODANA")  # a researcher
    await join(eve, "DEMOEVE")  # a coordinator: not by default
    alice, bruno, carmen = cast["Alice"], cast["Bruno"], cast["Carmen"]
    await carmen.says("/settings")
    assert "Weekly digest: on" in carmen.last_text  # she never chose: on, as a teacher
    await carmen.taps("Weekly digest")
    await carmen.taps("No")
    await carmen.says("/settings")
    assert "Weekly digest: off" in carmen.last_text
    await eve.says("/settings")
    assert "Weekly digest: off" in eve.last_text
    bot.api.add_group(GROUP, "Our trio", [801, 802, 803])
    await alice.says("/link", chat_id=GROUP)
    await demo_trio_agrees(
        bot, ("Exit tickets <b>with</b> one question & a hinge: " + "every lesson " * 20,)
    )

    await deliver(bot)
    assert documents(alice.inbox) == [SHARED]  # the lead, who never chose
    assert documents(bruno.inbox) == [SHARED]  # a teacher, who never chose
    assert documents(carmen.inbox) == []  # turned it off
    assert documents(eve.inbox) == []
    assert documents(dana.inbox) == ["triobot-digest-2026-W48-researchers-en.html"]
    in_group = bot.api.messages_in(GROUP)
    assert documents(in_group) == [SHARED]  # the linked group, once
    headline = next(m for m in in_group if "What the trios worked on" in m.plain_text)
    text = headline.plain_text
    assert "Oldham–Stockport–Wigan trio — Feedback that moves learning on" in text
    # The tried line: the first shared item, HTML-safe, cut on a word boundary.
    assert (
        "Tried (Northfield Primary): Exit tickets <b>with</b> one question & a hinge: every lesson"
        in text
    )
    tried = next(line for line in text.splitlines() if line.lstrip().startswith("Tried"))
    assert tried.endswith(" every lesson…") and len(tried) < 190  # whole words only
    assert alice.inbox[-2].plain_text == text  # the same message to people and groups

    # Fired once: another run sends nothing, to people or to the group.
    await bot.services.scheduler.run_due()
    assert await bot.services.sender.drain() == 0
    assert documents(bot.api.messages_in(GROUP)) == [SHARED]

    # Carmen turns it on again, and Eve, the coordinator, asks for it: the next week's digest
    # reaches both.
    bot.clock.advance(10)
    for person in (carmen, eve):
        await person.says("/settings")
        await person.taps("Weekly digest")
        await person.taps("Yes")
    assert await bot.db.fetchval(
        "SELECT digest_choice FROM person WHERE telegram_id = 803"
    ) == "on"  # fmt: skip
    async with bot.db.transaction() as tx:
        trio = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        lead = await tx.fetchval("SELECT id FROM person WHERE telegram_id = 801")
        await agreed_summary(tx, trio, lead, AGREED + timedelta(days=7), "Questions", ("Wait",))
    bot.clock.now = DELIVERY + timedelta(days=7)
    await bot.services.scheduler.run_due()
    await bot.services.sender.drain()
    assert documents(carmen.inbox) == ["triobot-digest-2026-W49-schools-en.html"]
    assert documents(eve.inbox) == ["triobot-digest-2026-W49-schools-en.html"]


async def test_a_week_without_agreed_trio_work_queues_no_shared_digest(
    bot: BotUnderTest,
) -> None:
    alice, dana = bot.person(801, "Alice"), bot.person(804, "Dana")
    await join(alice, "DEMOALICE")
    await join(dana, "DEMODANA")
    bot.api.add_group(GROUP, "Our trio", [801])
    await alice.says("/link", chat_id=GROUP)
    alice_id = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 801")
    async with bot.db.transaction() as tx:  # a reflection only: the trio agreed nothing
        await tx.execute(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, delivered_at,"
            " answered_at) VALUES (?, 'practice', '2026-W48', 'answered', ?, ?, ?)",
            (alice_id, json.dumps("We tried exit tickets"), to_db_time(AGREED),
             to_db_time(AGREED)),
        )  # fmt: skip
    await deliver(bot)
    assert documents(alice.inbox) == [] and documents(bot.api.messages_in(GROUP)) == []
    queued = await bot.db.fetchall(
        "SELECT DISTINCT chat_id FROM outbox WHERE kind = 'digest'"
    )  # fmt: skip
    assert [r[0] for r in queued] == [804]  # the researcher's digest only: participation
    assert documents(dana.inbox) == ["triobot-digest-2026-W48-researchers-en.html"]
    assert "Reflections shared: 1" in dana.inbox[-2].plain_text


async def test_a_week_where_nothing_happened_queues_nothing(bot: BotUnderTest) -> None:
    await join(bot.person(801, "Alice"), "DEMOALICE")
    await join(bot.person(804, "Dana"), "DEMODANA")
    await deliver(bot)
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'") == 0
    note = await bot.db.fetchval(
        "SELECT note FROM schedule WHERE kind = 'digest_weekly' AND status = 'done'"
    )
    assert note == "2026-W48: 0 people, 0 groups; no agreed trio work: no shared digest"


def test_a_tried_line_is_cut_on_a_word_boundary() -> None:
    assert shorten("  Exit  tickets\nevery lesson  ", 40) == "Exit tickets every lesson"
    assert shorten("Exit tickets, every single lesson", 20) == "Exit tickets, every…"
    assert shorten("Exit tickets, every single lesson", 14) == "Exit tickets…"  # no ", …"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"  # one long word: cut inside it


def forty_trios(audience: str) -> dict[str, object]:
    """digest_values' shape for a week in which 40 trios agreed work, in awkward words."""
    awkward = "<i>Talk</i> & “partners” 🙂 before writing, then " + "exit tickets " * 30
    trios = [
        {
            "ref": f"T{n:03}",
            "name": f"Trio {n} <Oldham & Wigan>",
            "focus": [f"Focus {n}: " + awkward],
            "tried": [
                {"text": awkward, "school": "Castle <Primary>"},
                {"text": "a second item, on the page only", "school": None},
            ],
            "accounts": [],
        }
        for n in range(1, 41)
    ]
    totals = dict.fromkeys(
        ("people", "reflections", "voice_notes", "summaries", "accounts", "actions", "barriers",
         "delivered", "answered", "meetings_scheduled", "meetings_held"), 1,
    )  # fmt: skip
    return {
        "audience": audience,
        "week": "2026-W48",
        "partial_to": None,
        "week_from": "2026-11-23",
        "week_to": "2026-11-29",
        "totals": {**totals, "trios": 40, "trios_with_news": 40, "response_rate": "50%"},
        "trios": trios,
        "themes": [],
        "barrier_counts": {"within": 0, "between": 0, "beyond": 0},
        "questions": [],
        "drafts": [],
        "quiet": [],
        "stalled": [],
    }


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("audience", ["schools", "researchers"])
def test_forty_trios_fit_one_message_with_the_rest_on_the_page(lang: str, audience: str) -> None:
    parts = digest_message(forty_trios(audience), Texts(), lang)
    assert len(parts) == 1
    text = parts[0]
    assert len(text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
    assert check_telegram_html(text) is None
    shown = text.count("• <b>Trio ")
    assert 5 < shown < 40
    assert f"{40 - shown} " in text.rsplit("•", 1)[1]  # "…and 27 more trios — see the page"
    assert "&lt;i&gt;Talk&lt;/i&gt; &amp; “partners”" in text  # their words, escaped
    assert "a second item" not in text


async def test_forty_trios_reach_a_lead_a_group_and_a_researcher(
    db_path: Path, clock: FakeClock
) -> None:
    """Through the strict stand-in, which refuses bad HTML and over-long text: a seeded
    programme of 40 trios that all agreed work in W48."""
    async for bot in bot_under_test(db_path, clock, demo=False):
        seeded = await seed(bot.db, las=4, schools=120, teachers_per_school=1, weeks=1,
                            last_week="2026-W48")  # fmt: skip
        assert seeded.trios == 40
        long = "Retrieval practice on Mondays & “talk partners” <before> writing " * 4
        async with bot.db.transaction() as tx:
            for trio in range(1, 41):
                lead = await tx.fetchval(
                    "SELECT person_id FROM trio_member WHERE trio_id = ? AND is_lead = 1", (trio,)
                )
                await agreed_summary(tx, trio, lead, AGREED, f"Focus {trio}: {long}", (long,))
            await tx.execute("INSERT INTO trio_chat (trio_id, chat_id, language, linked_at)"
                             " VALUES (7, ?, 'pt', ?)", (GROUP, to_db_time(AGREED)))  # fmt: skip
            lead = await tx.fetchval("SELECT telegram_id FROM person WHERE id = 1")
        researcher = 10_000 + seeded.researchers[0]
        for user in range(10_001, 10_001 + seeded.teachers + 3):
            bot.api.add_user(user, f"U{user}")
            bot.api.started.add(user)  # they pressed Start when they joined
        bot.api.add_group(GROUP, "Trio 7", [])
        await deliver(bot)
        for chat in (lead, GROUP, researcher):
            sent = bot.api.messages_in(chat)
            assert len(documents(sent)) == 1, chat
            message = next(m for m in sent if m.document is None)
            assert "Trio 1 — Focus 1: Retrieval practice" in message.plain_text
        group_text = bot.api.messages_in(GROUP)[0].plain_text
        assert "Em que trabalharam os trios" in group_text  # the group's language
        assert "…e mais " in group_text and "veja a página em anexo" in group_text
        # Every reader's message passed the stand-in's checks: nothing refused.
        statuses = await bot.db.fetchall(
            "SELECT status, COUNT(*) FROM outbox WHERE kind = 'digest' GROUP BY status"
        )
        assert [tuple(r) for r in statuses] == [("sent", 2 * (seeded.teachers + 3 + 1))]


@pytest.mark.sqlite_only  # SQLite's migration 0011; PostgreSQL's schema begins past it
async def test_the_migration_keeps_who_turned_it_off_and_gives_the_rest_the_default(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = [m for m in migration_scripts() if m[0] < 11]
    monkeypatch.setattr(db_module, "migration_scripts", lambda: before)
    db = await Database.open(db_path)
    await db.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    stamp = "2026-11-02T09:00:00.000000Z"
    people = ((1, 1, None), (2, 0, "digest"), (3, 0, "name"), (4, 0, None), (5, 1, "digest"))
    for pid, opt_in, setting in people:
        conn.execute(
            "INSERT INTO person (id, telegram_id, status, digest_opt_in, created_at,"
            " updated_at) VALUES (?, ?, 'active', ?, ?, ?)",
            (pid, 900 + pid, opt_in, stamp, stamp),
        )
        if setting is not None:  # a finished /settings conversation about this setting
            conn.execute(
                "INSERT INTO flow_state (person_id, chat_id, flow, step, answers, status,"
                " started_at, updated_at, expires_at) VALUES (?, ?, 'settings', ?, ?, 'done',"
                " ?, ?, ?)",
                (pid, 900 + pid, setting, json.dumps({"what": setting, setting: opt_in == 1}),
                 stamp, stamp, stamp),
            )  # fmt: skip
    conn.close()
    monkeypatch.undo()
    db = await Database.open(db_path)
    try:
        rows = await db.fetchall("SELECT id, digest_choice FROM person ORDER BY id")
        assert [tuple(r) for r in rows] == [
            (1, "on"),  # had asked for it
            (2, "off"),  # turned it off (or said no) in /settings: stays off
            (3, None),  # changed another setting only: never chose, so the default
            (4, None),  # never chose
            (5, "on"),
        ]
        columns = {r[1] for r in await db.fetchall("PRAGMA table_info(person)")}
        assert "digest_opt_in" not in columns
    finally:
        await db.close()


async def test_a_group_that_became_a_supergroup_still_gets_it_once(bot: BotUnderTest) -> None:
    alice = bot.person(801, "Alice")
    await join(alice, "DEMOALICE")
    bot.api.add_group(GROUP, "Our trio", [801])
    await alice.says("/link", chat_id=GROUP)
    await demo_trio_agrees(bot, ("Hinge questions",))
    bot.api.upgrade_group(GROUP, GROUP - 1)  # Telegram refuses the old id from now on
    await deliver(bot)
    assert documents(bot.api.messages_in(GROUP - 1)) == [SHARED]
    assert documents(bot.api.messages_in(GROUP)) == []
    assert await bot.db.fetchval("SELECT chat_id FROM trio_chat") == GROUP - 1
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == 0


async def test_the_choice_is_in_the_persons_download(bot: BotUnderTest) -> None:
    bruno = bot.person(802, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await bruno.says("/settings")
    await bruno.taps("Weekly digest")
    await bruno.taps("No")
    await bruno.says("/privacy")
    await bruno.taps("Download my data")
    held = json.loads(next(m.document[1] for m in bruno.inbox if m.document is not None))
    assert held["digest_setting"] == [{"digest_choice": "off"}]
