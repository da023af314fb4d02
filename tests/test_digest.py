"""Digests on a seeded programme: figures equal an independent count, consent is respected in
every output, rebuilding a past week gives the same digest, Telegram's limits hold."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from openpyxl import load_workbook

from bot.digest.compile import Options, parse_week, shift_week, week_bounds
from bot.digest.exports import pseudonym, write_csv, write_xlsx
from bot.digest.render import digest_values
from bot.digest.service import Digests
from bot.standin.html import check_telegram_html
from bot.texts import LANGUAGES, TELEGRAM_LIMIT, Texts
from storage.db import Database, to_db_time
from tests.digest_programme import ZONE, seed

pytestmark = pytest.mark.both_stores

WEEK = "2026-W47"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday after WEEK
SECRET = "Zebracrossing whisper"


def digests(db: Database, now: datetime = NOW) -> Digests:
    return Digests(db, Texts(), ZONE, Options(quiet_weeks=3, trend_weeks=4), lambda: now)


async def _say(db: Database, person_id: int, text: str, week: str = WEEK) -> None:
    start, _ = week_bounds(week, ZONE)
    moment = to_db_time(start + timedelta(days=2, hours=10))
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, delivered_at,"
            " answered_at) VALUES (?, 'free', ?, 'answered', ?, ?, ?)",
            (person_id, moment, json.dumps(text), moment, moment),
        )


async def _withdraw(db: Database, person_id: int) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO consent (person_id, given, version, recorded_at) VALUES (?, 0, '1', ?)",
            (person_id, to_db_time(NOW)),
        )


def test_weeks_parse_and_shift() -> None:
    assert parse_week("2026w48") == "2026-W48" == parse_week(" 2026-W48 ")
    assert shift_week("2026-W01", -1) == "2025-W52"
    start, end = week_bounds("2026-W13", ZONE)  # clocks go forward on 29 March 2026
    assert end - start == timedelta(days=7) - timedelta(hours=1)


async def test_figures_equal_an_independent_count(db: Database) -> None:
    await seed(db, las=3, schools=9, teachers_per_school=4, weeks=4, withdrawn_share=0.2)
    week = await digests(db).week(WEEK)
    values = digest_values(week.compiled, week.contributions, week.key, "researchers")
    start, end = week_bounds(WEEK, ZONE)
    consenting = (
        "(SELECT given FROM consent c WHERE c.person_id = r.person_id ORDER BY id DESC LIMIT 1) = 1"
    )
    delivered, answered = await db.fetchone(
        "SELECT COUNT(*),"
        " SUM(CASE WHEN status = 'answered' AND answered_at < :end THEN 1 ELSE 0 END)"
        " FROM reflection r"
        f" WHERE prompt != 'free' AND delivered_at >= :start AND delivered_at < :end"
        f" AND {consenting}",
        {"start": to_db_time(start), "end": to_db_time(end)},
    ) or (0, 0)
    assert delivered > 0 and answered > 0
    assert (values["totals"]["delivered"], values["totals"]["answered"]) == (delivered, answered)
    words = await db.fetchval(
        f"SELECT COUNT(*) FROM reflection r WHERE status = 'answered' AND answered_at >= ?"
        f" AND answered_at < ? AND {consenting}",
        (to_db_time(start), to_db_time(end)),
    )
    assert values["totals"]["reflections"] == words
    for row in values["participation_las"]:
        la_answered = await db.fetchval(
            "SELECT COUNT(*) FROM reflection r JOIN person p ON p.id = r.person_id"
            " JOIN school s ON s.id = p.school_id JOIN local_authority la"
            " ON la.id = s.local_authority_id WHERE la.name = ? AND r.status = 'answered'"
            f" AND r.delivered_at >= ? AND r.delivered_at < ? AND {consenting}",
            (row["name"], to_db_time(start), to_db_time(end)),
        )
        assert row["answered"] == la_answered
    trio_rows = {r["ref"]: r for r in values["participation_trios"]}
    for trio, count in await db.fetchall(
        "SELECT t.ref, COUNT(*) FROM reflection r JOIN trio_member m ON m.person_id = r.person_id"
        " JOIN trio t ON t.id = m.trio_id WHERE r.delivered_at >= ? AND r.delivered_at < ?"
        f" AND {consenting} GROUP BY t.ref",
        (to_db_time(start), to_db_time(end)),
    ):
        assert trio_rows[trio]["delivered"] == count
    # The rendered message says the same figures.
    rendered = digests(db).render(week, "researchers", "en")
    assert f"({answered} of {delivered})" in rendered.message[0]


async def test_withdrawn_consent_removes_words_from_every_output(db: Database, tmp_path) -> None:
    await seed(db, las=3, schools=6, teachers_per_school=3, weeks=2)
    await _say(db, 1, SECRET)
    await _say(db, 4, "Another teacher said something about exit tickets")
    service = digests(db)
    before = await service.week(WEEK)  # compiled and archived while person 1 consents
    assert SECRET in set(before.contributions["text"])
    assert SECRET.encode() in service.render(before, "researchers", "en").html
    await _withdraw(db, 1)
    after = await service.week(WEEK)  # from the archive, with consent applied again
    assert 1 not in set(after.contributions["person_id"])
    secret_id = pseudonym(after.key, 1)
    for audience in ("schools", "researchers"):
        for lang in LANGUAGES:
            rendered = service.render(after, audience, lang)  # type: ignore[arg-type]
            assert SECRET.lower().encode() not in rendered.html.lower()
            assert secret_id.encode() not in rendered.html
            assert all(SECRET not in part for part in rendered.message)
    tables = after.export_tables()
    write_csv(tables["contributions"], tmp_path / "c.csv")
    write_xlsx(tables, tmp_path / "c.xlsx")
    text = (tmp_path / "c.csv").read_text("utf-8")
    assert SECRET not in text and secret_id not in text and "Another teacher" in text
    book = load_workbook(tmp_path / "c.xlsx", read_only=True)
    cells = [str(c) for row in book["contributions"].iter_rows(values_only=True) for c in row]
    assert SECRET not in cells and secret_id not in cells
    # Withdrawn people also drop out of the counts.
    delivered = int(after.compiled.figure("by_trio")["delivered"].sum())
    assert delivered == int(before.compiled.figure("by_trio")["delivered"].sum())  # archived


async def test_rebuilding_a_past_week_gives_the_same_digest(db: Database) -> None:
    await seed(db, weeks=3)
    service = digests(db)
    first = service.render(await service.week(WEEK), "researchers", "en")
    # Later edits and late answers do not change an archived week…
    async with db.transaction() as tx:
        await tx.execute("UPDATE reflection SET answer = '\"changed later\"'")
        await tx.execute("UPDATE school SET name = 'Renamed'")
    again = service.render(
        await digests(db, NOW + timedelta(days=30)).week(WEEK), "researchers", "en"
    )
    assert again.html == first.html and again.message == first.message
    # …and the pseudonymous ids are stable across weeks, and not the person ids.
    earlier = await service.week(shift_week(WEEK, -1))
    ids = set(earlier.export_tables()["contributions"]["person"])
    now_ids = set((await service.week(WEEK)).export_tables()["contributions"]["person"])
    assert ids & now_ids and all(i.startswith("P-") and len(i) == 14 for i in ids)
    assert not any(str(p) in ids for p in range(1, 30))


async def test_the_current_week_is_compiled_but_not_archived(db: Database) -> None:
    await seed(db, weeks=2, last_week="2026-W48")
    service = digests(db)
    await service.week("2026-W48")  # still running on NOW (Monday of W48)
    assert await db.fetchval("SELECT COUNT(*) FROM digest") == 0
    await service.week(WEEK)
    assert await db.fetchval("SELECT week FROM digest") == WEEK


async def test_a_long_digest_stays_within_telegram_limits(db: Database) -> None:
    await seed(db, las=10, schools=90, teachers_per_school=3, weeks=2, trio_work=True)
    for person in range(1, 200, 3):
        await _say(
            db, person, " ".join(f"theme{person % 40}x phrase{person % 37}y" for _ in range(30))
        )
    service = digests(db)
    week = await service.week(WEEK)
    for lang in LANGUAGES:
        for audience in ("schools", "researchers"):
            rendered = service.render(week, audience, lang)  # type: ignore[arg-type]
            assert rendered.message
            for part in rendered.message:
                assert len(part) <= TELEGRAM_LIMIT
                assert check_telegram_html(part) is None, part


async def test_exports_are_long_format_with_a_participation_table(db: Database, tmp_path) -> None:
    await seed(db, weeks=3)
    await _say(db, 2, '=HYPERLINK("http://example.invalid")')
    week = await digests(db).week(WEEK)
    tables = week.export_tables()
    write_xlsx(tables, tmp_path / "x.xlsx")
    book = load_workbook(tmp_path / "x.xlsx")
    sheet = book["contributions"]
    header = [c.value for c in sheet[1]]
    assert header == list(tables["contributions"].columns)
    formula = [c for row in sheet.iter_rows(min_row=2) for c in row if str(c.value).startswith("=")]
    assert formula and all(c.data_type == "s" for c in formula)  # text, never a formula
    participation = pd.DataFrame(book["participation"].values)
    assert set(participation.iloc[1:, 0]) == {"trio", "local_authority"}
    out = io.StringIO()
    tables["contributions"].to_csv(out, index=False)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (
        rows
        and {r["kind"] for r in rows} == {"reflection"}
        and all(r["week"] == WEEK for r in rows)
    )
