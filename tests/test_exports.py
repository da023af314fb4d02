"""The research exports on a seeded programme: every table's rows, pseudonyms only, consent
withdrawal taking a person's rows and words out, the week not yet over marked partial, the
CSV files of `triobot export`, and README's data dictionary naming every exported column."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.cli.main import main
from bot.digest.compile import week_bounds
from bot.digest.exports import owner_tags, pseudonym
from storage.clock import utcnow
from storage.db import Database, to_db_time
from tests.digest_programme import ZONE, ResearchWork, research_work, seed
from tests.test_digest import WEEK, _say, _withdraw, digests

pytestmark = pytest.mark.both_stores

ROOT = Path(__file__).resolve().parent.parent
PSEUDONYM = re.compile(r"P-[0-9a-f]{12}")
PERSON_COLUMNS = {
    "person": "",
    "owner": "trio",
    "by": "",
    "asker": "",
    "author": "",
}  # and what else each may hold


async def _programme(db: Database, week: str = WEEK) -> ResearchWork:
    await seed(db, las=3, schools=6, teachers_per_school=3, weeks=3, trio_work=True)
    return await research_work(db, week)


def _pseudonyms_only(tables: dict[str, pd.DataFrame], key: bytes) -> set[str]:
    """Every person named in any table, checked to be a pseudonym; the raw ids never appear
    where a person is named."""
    named: set[str] = set()
    for table in tables.values():
        for column, other in PERSON_COLUMNS.items():
            if column in table:
                values = set(table[column].astype(str)) - {other, ""}
                assert all(PSEUDONYM.fullmatch(v) for v in values), (column, values)
                named |= values
        if "tags" in table:
            assert not table["tags"].str.contains("owner_id=").any()
    return named


async def test_each_table_holds_the_programmes_rows(db: Database) -> None:
    work = await _programme(db)
    week = await digests(db).week(WEEK)
    tables = week.export_tables()
    key = week.key
    lead, owner = pseudonym(key, work.members[0]), pseudonym(key, work.owner)

    actions = tables["actions"]
    mine = actions[actions["what"].isin(["Bring the picture cards", "Visit Castle school"])]
    assert mine[
        ["owner", "status", "due", "school", "local_authority", "week"]
    ].values.tolist() == [
        [owner, "done", "2026-12-02", "S1", "Authority A", WEEK],
        ["trio", "in_progress", "2026-12-02", "S1", "Authority A", WEEK],
    ]
    assert set(mine["created"]) == {"2026-11-18"} and set(mine["agreed"]) == {"2026-11-19"}

    history = tables["action_history"]
    ours = history[history["action"].isin(mine["action"])]
    assert ours[["status", "how", "by"]].values.tolist() == [
        ["open", "created", lead],
        ["open", "created", lead],
        ["done", "marked", owner],
        ["in_progress", "reviewed", lead],  # the next summary said how the trio did
    ]
    assert list(ours["changed_at"]) == ["2026-11-18 18:00"] * 2 + ["2026-11-19 12:00"] * 2

    lesson = tables["lesson_study"]
    assert set(lesson["cycle"]) == {work.cycle} and set(lesson["trio"]) == {"TR1"}
    kinds = lesson.groupby("kind")["part"].agg(list).to_dict()
    assert kinds == {
        "account": ["learned", "changed", "advice"],
        "discussion": ["compare", "changes"],
        "interview": [""],
        "observation": ["", ""],
        "prediction": [""],
        "student_voice": [""],
    }
    changes = lesson[lesson["part"] == "changes"]
    assert list(changes["text"]) == ["More wait time; Pictures first"]
    voice = lesson[lesson["voice"].notna()]
    assert voice[["kind", "pupil", "text"]].values.tolist() == [["observation", 2, ""]]
    assert int(voice["voice"].iloc[0]) == 41
    assert "Pupil A" not in set(lesson["pupil"].astype(str))  # positions, never the names
    assert set(lesson["focus"]) == {"fractions — pupils new to English"}

    attendance = tables["attendance"]
    held = attendance[attendance["trio"] == "TR1"]
    assert len(held) == 9 and set(held["date"]) == {"2026-11-18"}
    want = {pseudonym(key, p): int(p % 3 != 0) for p in range(1, 10)}
    assert dict(zip(held["person"], held["attended"], strict=True)) == want

    for name, table in tables.items():  # participation: the trend's weeks up to this one
        assert set(table["partial"]) == {0} and (
            name == "participation" or {WEEK} == set(table["week"])
        ), name
    assert _pseudonyms_only(tables, key) >= {lead, owner}


async def test_a_withdrawn_person_leaves_no_words_and_no_rows_of_their_own(db: Database) -> None:
    work = await _programme(db)
    await _withdraw(db, work.owner)  # an observer, an action's owner, an attendee
    week = await digests(db).week(WEEK)
    tables = week.export_tables()
    gone = pseudonym(week.key, work.owner)
    assert gone not in _pseudonyms_only(tables, week.key)
    lesson = tables["lesson_study"]
    assert "A answered without being asked" not in set(lesson["text"])
    assert "A said the pictures helped" not in set(lesson["text"])
    # The discussion is the cycle's together: out while one of its members does not consent.
    assert "discussion" not in set(lesson["kind"])
    assert {"student_voice", "prediction", "account"} <= set(lesson["kind"])
    actions = tables["actions"]
    card = actions[actions["what"] == "Bring the picture cards"]
    assert list(card["owner"]) == [""] and list(card["status"]) == ["done"]  # the trio's action
    marked = tables["action_history"].query("action == @card.action.iloc[0]")
    assert list(marked["by"]) == [pseudonym(week.key, work.members[0]), ""]
    assert len(tables["attendance"][tables["attendance"]["trio"] == "TR1"]) == 8

    await _withdraw(db, work.members[0])  # the lead: the summaries' author, the account's
    tables = (await digests(db).week(WEEK)).export_tables()
    ours = tables["actions"][tables["actions"]["trio"] == "TR1"]
    assert set(ours["what"]) == {""} and len(ours) >= 2  # the actions stay, not the words
    assert not {"account", "student_voice", "prediction"} & set(tables["lesson_study"]["kind"])
    written = {str(v) for t in tables.values() for c in t.columns for v in t[c]}
    assert not any("picture cards" in v or "Pictures help" in v for v in written)


def test_owner_ids_in_tags_become_pseudonyms_or_go() -> None:
    key = b"k" * 32
    tags = pd.Series(
        [
            "summary=3;school=S01;owner_id=7;due=2026-12-02;status=open",
            "summary=3;school=S01;owner_id=8;due=2026-12-02;status=done",
            "owner_id=;summary=3",
            "owner_id=7",
            "prompt=practice",
        ]
    )
    assert list(owner_tags(tags, key, {7})) == [
        f"summary=3;school=S01;owner={pseudonym(key, 7)};due=2026-12-02;status=open",
        "summary=3;school=S01;due=2026-12-02;status=done",  # 8 does not consent
        "owner=trio;summary=3",
        f"owner={pseudonym(key, 7)}",
        "prompt=practice",
    ]


async def test_the_week_so_far_is_exported_marked_partial(db: Database) -> None:
    await seed(db, las=3, schools=6, teachers_per_school=3, weeks=3, trio_work=True)
    await research_work(db, "2026-W48")
    start, _ = week_bounds("2026-W48", ZONE)
    await _say(db, 4, "Tried talk partners on Monday", week="2026-W48")
    friday = start + timedelta(days=4, hours=12)
    service = digests(db, friday)
    everything = await service.export_everything()
    for name, table in everything.items():
        now = table[table["week"] == "2026-W48"]
        assert len(now) and set(now["partial"]) == {1}, name
        assert set(table.loc[table["week"] != "2026-W48", "partial"]) <= {0}, name
    words = everything["contributions"]
    assert "Tried talk partners on Monday" in set(words.loc[words["partial"] == 1, "text"])
    so_far = (await service.week("2026-W48")).export_tables()
    for name, table in so_far.items():  # participation has the trend's earlier weeks too
        assert list(table["partial"]) == list((table["week"] == "2026-W48").astype(int)), name
        assert set(table["partial"]) == ({0, 1} if name == "participation" else {1}), name
    over = (await digests(db, friday + timedelta(days=7)).week("2026-W48")).export_tables()
    assert all(set(t["partial"]) <= {0} for t in over.values())


def test_export_writes_a_csv_per_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    db_path = tmp_path / "triobot.db"
    now = utcnow()

    async def go() -> None:
        db = await Database.open(db_path)
        try:
            from bot.digest.compile import last_complete_week

            last = last_complete_week(now, ZONE)
            await seed(db, las=3, schools=6, teachers_per_school=3, weeks=3, trio_work=True,
                       last_week=last)  # fmt: skip
            await research_work(db, last)
            async with db.transaction() as tx:  # a reflection today: this week, so far
                await tx.execute(
                    "INSERT INTO reflection (person_id, prompt, period, status, answer,"
                    " delivered_at, answered_at) VALUES (5, 'free', 'x', 'answered', ?, ?, ?)",
                    (json.dumps("Said today"), to_db_time(now), to_db_time(now)),
                )
        finally:
            await db.close()

    asyncio.run(go())
    monkeypatch.setenv("TRIOBOT_DB", str(db_path))
    monkeypatch.setenv("TRIOBOT_TZ", "Europe/London")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--out", str(tmp_path / "all.csv")]) == 0
    names = ("participation", "actions", "action_history", "lesson_study", "attendance")
    written = {"contributions": tmp_path / "all.csv"} | {
        name: tmp_path / f"all-{name}.csv" for name in names
    }
    for name, path in written.items():
        table = pd.read_csv(path, keep_default_na=False)
        assert len(table) and "week" in table and "partial" in table, name
    words = pd.read_csv(written["contributions"], keep_default_na=False)
    assert list(words.loc[words["text"] == "Said today", "partial"]) == [1]
    assert set(pd.read_csv(written["lesson_study"])["kind"]) >= {"observation", "account"}


def dictionary() -> dict[str, list[str]]:
    """README "Data dictionary": each `### \\`table\\`` heading and its table's column names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Data dictionary", 1)[1].split("\n## ", 1)[0]
    found: dict[str, list[str]] = {}
    table = None
    for line in section.splitlines():
        heading = re.match(r"### `(\w+)`", line)
        if heading:
            table = heading.group(1)
            found[table] = []
        elif table and (row := re.match(r"\| `(\w+)` \|", line)):
            found[table].append(row.group(1))
    return found


async def test_the_data_dictionary_names_every_exported_column(db: Database) -> None:
    await _programme(db)
    tables = await digests(db).export_everything()
    assert dictionary() == {name: list(table.columns) for name, table in tables.items()}
    types = (ROOT / "README.md").read_text(encoding="utf-8").split("## Data dictionary")[1]
    assert "meeting_reflection" in types and "local_authority" in types
