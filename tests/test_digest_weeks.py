"""The week people ask for, and the week so far.

What people type after /digest becomes a week (bot/digest/weeks.py); the digest service
builds the current week as it stands, marked "so far" and never archived; /digest and the
command line answer a week there is no digest of with the weeks there are, never with
another week's digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.clock import ENV as SIM_CLOCK
from bot.clock import write as set_sim_clock
from bot.digest.asked import BadWeek, DigestFor, digest_for
from bot.digest.compile import Options
from bot.digest.service import Digests
from bot.digest.weeks import AskedWeek, WeekRange, read_week
from bot.standin.driver import SimPerson
from bot.standin.html import check_telegram_html
from bot.standin.world import SentMessage
from bot.texts import LANGUAGES, Texts
from storage.db import Database, to_db_time
from tests.conftest import FakeClock
from tests.digest_programme import ZONE, seed
from tests.harness import BotUnderTest, join

pytestmark = pytest.mark.both_stores

# -- reading a typed week ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "week", "guessed"),
    [
        ("W47", "2026-W47", True),
        ("w47", "2026-W47", True),
        ("47", "2026-W47", True),
        (" week 47 ", "2026-W47", True),
        ("Semana 47", "2026-W47", True),
        ("2026-W49", "2026-W49", False),
        ("2026w49", "2026-W49", False),
        ("2026-49", "2026-W49", False),
        ("2026 W49", "2026-W49", False),
        ("W49 2026", "2026-W49", False),
        ("2027-W10", "2027-W10", False),  # read; that it has not begun is the service's to say
        ("this week", "2026-W49", False),
        ("This week.", "2026-W49", False),
        ("last week", "2026-W48", False),
        ("esta semana", "2026-W49", False),
        ("Esta Semana", "2026-W49", False),
        ("la semana pasada", "2026-W48", False),
        ("semana pasada", "2026-W48", False),
        ("semana passada", "2026-W48", False),
        ("a semana passada", "2026-W48", False),
        ("última semana", "2026-W48", False),
        ("next week", "2026-W50", False),
        ("semana que vem", "2026-W50", False),
        # Without a year: the nearest such week not in the future.
        ("49", "2026-W49", True),
        ("50", "2025-W50", True),
        ("53", "2020-W53", True),  # 2026's week 53 is still to come; 2020 had the last
    ],
)
def test_a_typed_week_is_read_as_people_mean_it(typed: str, week: str, guessed: bool) -> None:
    assert read_week(typed, "2026-W49") == AskedWeek(week, year_guessed=guessed)


def test_a_week_number_early_in_the_year_is_last_years() -> None:
    assert read_week("W2", "2027-W01") == AskedWeek("2026-W02", year_guessed=True)
    assert read_week("1", "2027-W01") == AskedWeek("2027-W01", year_guessed=True)


@pytest.mark.parametrize(
    "typed", ["soon", "", "  ", "2026-W60", "2027-W53", "W0", "1999-W10", "w", "48 49", "W4x"]
)
def test_what_names_no_week_is_not_read_as_one(typed: str) -> None:
    assert read_week(typed, "2026-W49") is None


def test_the_weeks_there_are() -> None:
    weeks = WeekRange(first="2026-W48", current="2026-W50")
    assert [weeks.place(w) for w in ("2026-W47", "2026-W48", "2026-W50", "2026-W51")] == [
        "before",
        "within",
        "within",
        "future",
    ]
    assert weeks.place("2025-W52") == "before" and weeks.place("2027-W01") == "future"
    assert weeks.last_complete == "2026-W49"
    assert WeekRange(first="2026-W50", current="2026-W50").last_complete is None


# -- the week so far, in the service ----------------------------------------------------

THURSDAY = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)  # 2026-W48, 14:05 in London
SO_FAR = "so far (to Thu 26 Nov 2026, 14:05)"


def _digests(db: Database, clock: FakeClock) -> Digests:
    return Digests(db, Texts(), ZONE, Options(quiet_weeks=3, trend_weeks=4), clock)


async def _reflect(db: Database, person_id: int, text: str, at: datetime) -> None:
    moment = to_db_time(at)
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, delivered_at,"
            " answered_at) VALUES (?, 'free', ?, 'answered', ?, ?, ?)",
            (person_id, moment, json.dumps(text), moment, moment),
        )


async def test_the_current_week_is_built_so_far_and_again_later(
    db: Database, clock: FakeClock
) -> None:
    await seed(db, weeks=3, last_week="2026-W48", trio_work=True)
    clock.now = THURSDAY
    service = _digests(db, clock)
    await _reflect(db, 1, "Exit tickets on Wednesday", THURSDAY - timedelta(days=1))
    week = await service.week("2026-W48")
    assert week.partial_to == THURSDAY
    for lang in LANGUAGES:
        rendered = service.render(week, "researchers", lang)
        assert all(check_telegram_html(part) is None for part in rendered.message)
    rendered = service.render(week, "researchers", "en")
    assert SO_FAR in rendered.message[0] and SO_FAR in rendered.html.decode()
    assert "Exit tickets on Wednesday" in set(week.export_tables()["contributions"]["text"])
    shared = service.render(week, "schools", "en")
    assert SO_FAR in shared.message[0] and "Across the network · Week 48" in shared.message[0]
    es = service.render(week, "schools", "es").message[0]
    assert "hasta ahora (hasta el jue 26 nov 2026, 14:05)" in es
    assert await db.fetchval("SELECT COUNT(*) FROM digest") == 0  # the week so far: not kept

    # On Friday the week so far has Friday's words in it.
    clock.now = THURSDAY + timedelta(days=1)
    await _reflect(db, 1, "Talk partners on Friday", clock.now - timedelta(hours=1))
    later = await service.week("2026-W48")
    assert later.partial_to == clock.now
    html = service.render(later, "researchers", "en").html.decode()
    assert "so far (to Fri 27 Nov 2026, 14:05)" in html
    assert "Talk partners on Friday" in set(later.export_tables()["contributions"]["text"])
    assert await db.fetchval("SELECT COUNT(*) FROM digest") == 0

    # Once it is over it is a week like any other: no marker, and archived.
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    ended = await service.week("2026-W48")
    assert ended.partial_to is None
    final = service.render(ended, "researchers", "en")
    assert "so far (to" not in final.html.decode() and "so far (to" not in final.message[0]
    assert await db.fetchval("SELECT week FROM digest") == "2026-W48"


async def test_digest_for_reads_the_week_and_refuses_weeks_with_no_digest(
    db: Database, clock: FakeClock
) -> None:
    await seed(db, weeks=3, last_week="2026-W48", trio_work=True)  # people since 2026-W02
    clock.now = THURSDAY
    service = _digests(db, clock)
    researcher, teacher = frozenset({"researcher"}), frozenset({"teacher"})
    found = await digest_for(service, researcher, "w47", "en")
    assert isinstance(found, DigestFor) and found.week == "2026-W47"
    assert found.rendered.audience == "researchers" and found.xlsx is not None
    assert found.caption(exports=False)["guessed"] is True
    found = await digest_for(service, teacher, "esta semana", "es")
    assert isinstance(found, DigestFor) and found.rendered.audience == "schools"
    assert found.week == "2026-W48" and "hasta ahora" in found.rendered.message[0]
    found = await digest_for(service, teacher, None, "en")
    assert isinstance(found, DigestFor) and found.week == "2026-W47"  # last week's, as sent
    weeks = WeekRange("2026-W02", "2026-W48")
    for given, problem, week in (
        ("soon", "unreadable", None),
        ("2026-W49", "future", "2026-W49"),
        ("next week", "future", "2026-W49"),
        ("2025-W40", "before", "2025-W40"),
    ):
        for roles in (researcher, teacher):
            assert await digest_for(service, roles, given, "en") == BadWeek(
                given, problem, week, weeks
            )
    assert await digest_for(service, frozenset(), "W47", "en") == "not_allowed"


async def test_in_the_programmes_first_week_there_is_this_week_so_far(
    db: Database, clock: FakeClock
) -> None:
    clock.now = THURSDAY  # nothing recorded yet: the programme begins this week
    service = _digests(db, clock)
    assert await service.weeks() == WeekRange("2026-W48", "2026-W48")
    found = await digest_for(service, frozenset({"researcher"}), None, "en")
    assert isinstance(found, DigestFor) and found.week == "2026-W48"
    assert SO_FAR in found.rendered.message[0]
    bad = await digest_for(service, frozenset({"teacher"}), "last week", "en")
    assert bad == BadWeek("last week", "before", "2026-W47", WeekRange("2026-W48", "2026-W48"))
    text = Texts().render("en", "digest/bad_week", bad.values())
    assert "The programme began this week (2026-W48)" in text
    assert await db.fetchval("SELECT COUNT(*) FROM digest") == 0


def test_the_reply_to_a_bad_week_reads_in_every_language() -> None:
    texts = Texts()
    cases = (("unreadable", None), ("before", "2026-W40"), ("future", "2027-W10"))
    for lang in LANGUAGES:
        for problem, week in cases:
            # With weeks behind it, one week behind it, or in the programme's first week.
            for first in ("2026-W40", "2026-W48", "2026-W49"):
                bad = BadWeek("<b>soon", problem, week, WeekRange(first, "2026-W49"))  # type: ignore[arg-type]
                text = texts.render(lang, "digest/bad_week", bad.values())
                assert check_telegram_html(text) is None, (lang, text)
                assert "2026-W49" in text and "<b>soon" not in text
                assert ("2026-W48" in text) == (first != "2026-W49"), (lang, text)
                assert ("2026-W40" in text) == (first == "2026-W40" or week == "2026-W40")
                if week is not None:
                    assert week in text


# -- /digest in the bot -----------------------------------------------------------------

NOW = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)  # Thursday of 2026-W49; the demo began in W48


def _files(replies: list[SentMessage]) -> list[str]:
    return [m.document[0] for m in replies if m.document is not None]


async def _cast(bot: BotUnderTest) -> dict[str, SimPerson]:
    cast = {}
    for user_id, name, language in (
        (811, "Alice", "English"),
        (812, "Bruno", "English"),
        (813, "Carmen", "Español"),
        (814, "Dana", "English"),
        (815, "Eve", "Português"),
    ):
        person = bot.person(user_id, name)
        await join(person, f"DEMO{name.upper()}", language=language)
        cast[name] = person
    alice_id = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 811")
    await _reflect(bot.db, alice_id, "Mini whiteboards in W48", datetime(2026, 11, 25, tzinfo=UTC))
    await _reflect(bot.db, alice_id, "Exit tickets this Tuesday", datetime(2026, 12, 1, tzinfo=UTC))
    bot.clock.now = NOW
    return cast


async def _ask(
    bot: BotUnderTest, person: SimPerson, text: str, at: datetime | None = None
) -> list[SentMessage]:
    """What they say, ten seconds after the last (Telegram allows a burst of three per chat,
    then one a second), or at `at` (later still), so the week so far has a known end."""
    bot.clock.advance(10)
    if at is not None:
        assert at > bot.clock.now
        bot.clock.now = at
    return await person.says(text)


async def test_a_researcher_asks_for_weeks_as_people_type_them(bot: BotUnderTest) -> None:
    dana = (await _cast(bot))["Dana"]
    for typed in ("W48", "w48", "48", "2026-W48", "2026w48", "last week"):
        replies = await _ask(bot, dana, f"/digest {typed}")
        assert _files(replies) == [
            "triobot-digest-2026-W48-researchers-en.html",
            "triobot-export-2026-W48.xlsx",
        ], typed
        assert "📊 Researcher digest · 2026-W48" in replies[0].plain_text
        assert "so far (to" not in replies[0].plain_text
        said_back = "You wrote “" in replies[1].plain_text
        assert said_back == (typed in ("W48", "w48", "48")), typed

    replies = await _ask(
        bot, dana, "/digest this week", at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    )
    assert _files(replies) == [
        "triobot-digest-2026-W49-researchers-en.html",
        "triobot-export-2026-W49.xlsx",
    ]
    assert "so far (to Thu 3 Dec 2026, 15:00)" in replies[0].plain_text
    html = replies[1].document[1]  # type: ignore[index]
    assert b"so far (to Thu 3 Dec 2026, 15:00)" in html and b"Exit tickets this Tuesday" in html
    assert await bot.db.fetchval("SELECT group_concat(week) FROM digest") == "2026-W48"

    replies = await _ask(bot, dana, "/digest 48")
    assert "You wrote “48”: I took that as 2026-W48, the latest such week." in (
        replies[1].plain_text
    )


async def test_a_researcher_is_told_the_weeks_there_are(bot: BotUnderTest) -> None:
    cast = await _cast(bot)
    dana, eve = cast["Dana"], cast["Eve"]
    for typed, why in (
        ("soon", "I could not read “soon” as a week."),
        ("2026-W60", "I could not read “2026-W60” as a week."),
        ("W47", "Week 2026-W47 was before the programme began"),
        ("2026-W50", "Week 2026-W50 has not begun yet"),
        ("2027-W10", "Week 2027-W10 has not begun yet"),
        ("next week", "Week 2026-W50 has not begun yet"),
    ):
        replies = await _ask(bot, dana, f"/digest {typed}")
        assert len(replies) == 1 and not _files(replies), typed
        text = replies[0].plain_text
        assert why in text, text
        assert "There is last week’s digest (2026-W48) and this week’s so far (2026-W49)" in text
        assert "/digest last week" in text and "/digest this week" in text
    replies = await _ask(bot, dana, "/digest " + "week after week " * 200)
    said = "I could not read “week after week week after week week…” as a week."
    assert said in replies[0].plain_text
    assert len(replies) == 1 and len(replies[0].plain_text) < 600
    # A coordinator reading in Portuguese: the same weeks, in her words.
    replies = await _ask(bot, eve, "/digest semana que vem")
    assert "A semana 2026-W50 ainda não começou" in replies[0].plain_text
    assert "/digest esta semana" in replies[0].plain_text
    replies = await _ask(bot, eve, "/digest semana passada")
    assert _files(replies) == [
        "triobot-digest-2026-W48-researchers-pt.html",
        "triobot-export-2026-W48.xlsx",
    ]
    replies = await _ask(
        bot, eve, "/digest esta semana", at=datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    )
    assert "até agora (até quinta, 3 dez. 2026, 16:00)" in replies[0].plain_text
    assert not await bot.db.fetchval("SELECT COUNT(*) FROM digest WHERE week = '2026-W49'")


async def test_a_teacher_gets_the_shared_digest_of_the_week_asked_for(bot: BotUnderTest) -> None:
    cast = await _cast(bot)
    bruno, carmen = cast["Bruno"], cast["Carmen"]
    replies = await _ask(bot, bruno, "/digest")
    assert _files(replies) == ["triobot-digest-2026-W48-schools-en.html"]
    assert "🌍 Across the network · Week 48" in replies[0].plain_text
    assert "This week" not in replies[0].plain_text
    for typed in ("W48", "2026-W48", "last week"):
        replies = await _ask(bot, bruno, f"/digest {typed}")
        assert _files(replies) == ["triobot-digest-2026-W48-schools-en.html"], typed
        assert "Across the network · Week 48" in replies[0].plain_text
    for typed in ("this week", "2026-W49", "49"):
        replies = await _ask(bot, bruno, f"/digest {typed}")
        assert _files(replies) == ["triobot-digest-2026-W49-schools-en.html"], typed
        text = replies[0].plain_text
        assert "Across the network · Week 49" in text and "so far (to Thu 3 Dec 2026" in text
        assert "Exit tickets" not in replies[1].document[1].decode()  # type: ignore[index]
    for typed, why in (
        ("W47", "Week 2026-W47 was before the programme began"),
        ("2026-W50", "Week 2026-W50 has not begun yet"),
        ("2027-W10", "Week 2027-W10 has not begun yet"),
        ("someday", "I could not read “someday” as a week."),
    ):
        replies = await _ask(bot, bruno, f"/digest {typed}")
        assert not _files(replies) and why in replies[0].plain_text, typed
    # In Spanish, with the Spanish words for the weeks.
    replies = await _ask(
        bot, carmen, "/digest esta semana", at=datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    )
    assert _files(replies) == ["triobot-digest-2026-W49-schools-es.html"]
    assert "En toda la red · Semana 49" in replies[0].plain_text
    assert "hasta ahora (hasta el jue 3 dic 2026, 17:00)" in replies[0].plain_text
    replies = await _ask(bot, carmen, "/digest la semana pasada")
    assert _files(replies) == ["triobot-digest-2026-W48-schools-es.html"]
    replies = await _ask(bot, carmen, "/digest pronto")
    assert "No he podido entender «pronto» como una semana." in replies[0].plain_text
    assert "/digest semana pasada" in replies[0].plain_text


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def programme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seeded programme whose clock stands on Thursday of 2026-W48, 14:05 in London."""
    db_path = tmp_path / "triobot.db"

    async def go() -> None:
        db = await Database.open(db_path)
        try:
            await seed(db, weeks=3, last_week="2026-W48", trio_work=True)
        finally:
            await db.close()

    import asyncio

    asyncio.run(go())
    clock_file = tmp_path / "clock"
    set_sim_clock(clock_file, THURSDAY)
    monkeypatch.setenv(SIM_CLOCK, str(clock_file))
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.setenv("TRIOBOT_TZ", "Europe/London")
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def _archived(programme: Path) -> int:
    import sqlite3

    with sqlite3.connect(programme / "triobot.db") as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM digest").fetchone()[0]
    return count


def test_digest_build_of_this_week_is_the_week_so_far(
    programme: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = programme / "out"
    assert main(["digest", "build", "--week", "2026-W48", "--out", str(out)]) == 0
    html = (out / "triobot-digest-2026-W48-researchers-en.html").read_text()
    message = (out / "digest-2026-W48-researchers-en.txt").read_text()
    assert SO_FAR in html and SO_FAR in message
    assert (out / "export-2026-W48.xlsx").is_file()
    said = capsys.readouterr().out.splitlines()
    assert said[-1] == "2026-W48 so far, to 2026-11-26 14:05 Europe/London: not archived"
    assert _archived(programme) == 0
    assert main(["digest", "build", "--out", str(out)]) == 0  # no --week: last week
    assert SO_FAR not in (out / "triobot-digest-2026-W47-researchers-en.html").read_text()
    assert "so far" not in capsys.readouterr().out
    assert _archived(programme) == 1


@pytest.mark.parametrize(
    ("week", "line"),
    [
        ("2026-W49", "--week: 2026-W49 has not begun yet; this week is 2026-W48 (the week so far)"),
        ("2099-W01", "--week: 2099-W01 has not begun yet; this week is 2026-W48 (the week so far)"),
        ("soon", "--week: 'soon' is not an ISO week like 2026-W47"),
        ("2026-W60", "--week: '2026-W60' is not an ISO week like 2026-W47"),
    ],
)
def test_digest_build_refuses_a_week_it_cannot_build(
    programme: Path, capsys: pytest.CaptureFixture[str], week: str, line: str
) -> None:
    out = programme / "out"
    assert main(["digest", "build", "--week", week, "--out", str(out)]) == 2
    assert capsys.readouterr().out.splitlines() == [line]
    assert not out.exists() and _archived(programme) == 0


@pytest.mark.parametrize("name", ["all.json", "all", "all.xls", "all.csv.txt"])
def test_export_refuses_a_file_it_would_not_write(
    programme: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["export", "--out", str(programme / name)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out == [f"--out: {str(programme / name)!r} must end in .xlsx or .csv"]
    assert not (programme / name).exists()


def test_export_takes_xlsx_and_csv_in_any_case(
    programme: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--out", str(programme / "x.XLSX")]) == 0
    assert (programme / "x.XLSX").read_bytes().startswith(b"PK")  # a zip: the workbook
    assert main(["export", "--out", str(programme / "y.Csv")]) == 0
    assert (programme / "y.Csv").read_text().startswith("person,")
    capsys.readouterr()
