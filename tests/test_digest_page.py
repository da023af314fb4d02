"""The HTML digest's content, on a seeded programme with a week of trio work: what was tried
carries its school's name, actions their owner, due date and status, post-meeting reflections
reach the researchers only, a trio nobody named shows its reference once, a teacher trio
counts its members, the trend chart waits for three weeks, chart text is big enough to read
at 390 px. (How a browser lays it out: tests/test_digest_page_browser.py.)"""

from __future__ import annotations

import json
import struct
from datetime import timedelta

from bot.digest import charts
from bot.digest.compile import week_bounds
from bot.digest.exports import pseudonym
from bot.digest.render import digest_values
from bot.digest.service import Digests
from bot.texts import LANGUAGES
from storage import personal_data
from storage.db import Database, to_db_time
from storage.meetings import MeetingRepo
from tests.digest_programme import ZONE, seed
from tests.test_digest import WEEK, digests

WITHHELD = "Quokka lantern confidence"  # said after the meeting by someone who withdrew
TAKE_BACK = "Exit tickets in every class\nand a shared folder for them"
SURPRISE = "Pupils led the discussion"
TRIED = "Talk partners before writing\n(Year 4 and Year 5)"
OWNER = "Ana Lima"


async def programme_with_trio_work(db: Database, weeks: int = 6) -> None:
    """Nine schools, three school trios (trio 2 never named: it is called TR2), a teacher
    trio TT1 of three people already in school trios, and in WEEK trio 1's held meeting with
    an agreed summary, three actions and its members' reflections afterwards; person 5
    (Bea Costa, owner of an action) has withdrawn research consent."""
    await seed(db, las=3, schools=9, teachers_per_school=3, weeks=weeks, last_week=WEEK,
               trio_work=True)  # fmt: skip
    start, _ = week_bounds(WEEK, ZONE)
    thursday = start + timedelta(days=3, hours=16)
    w, later = to_db_time(thursday), to_db_time(thursday + timedelta(hours=20))
    said = json.dumps
    async with db.transaction() as tx:
        await tx.execute("UPDATE trio SET name = ref WHERE id = 2")
        await tx.execute("UPDATE person SET display_name = ? WHERE id = 2", (OWNER,))
        await tx.execute("UPDATE person SET display_name = 'Bea Costa' WHERE id = 5")
        await tx.execute(
            "INSERT INTO trio (id, ref, kind, name, created_at) VALUES (4, 'TT1', 'teachers',"
            " 'TT1', ?)",
            (w,),
        )
        await tx.executemany(
            "INSERT INTO trio_member (trio_id, person_id, is_lead, joined_at) VALUES (4, ?, ?, ?)",
            [(1, 1, w), (10, 0, w), (19, 0, w)],
        )
        await tx.execute(
            "INSERT INTO meeting (id, trio_id, starts_at, time_zone, focus, status, created_at,"
            " updated_at) VALUES (900, 1, ?, 'Europe/London', 'Oracy', 'held', ?, ?)",
            (w, w, w),
        )
        await tx.execute(
            "INSERT INTO summary (id, meeting_id, trio_id, author_id, status, focus,"
            " circulated_at, agree_by, agreed_at, created_at, updated_at)"
            " VALUES (900, 900, 1, 1, 'agreed', 'Oracy in year 5', ?, ?, ?, ?, ?)",
            (w, w, later, w, w),
        )
        await tx.executemany(
            "INSERT INTO summary_item (summary_id, kind, level, body, position, school_id)"
            " VALUES (900, ?, ?, ?, ?, ?)",
            [("shared", None, said(TRIED), 0, 2),
             ("barrier", "within", said("Setting by ability in maths"), 1, None)],
        )  # fmt: skip
        await tx.executemany(
            "INSERT INTO action (trio_id, summary_id, what, owner_id, due_on, status, position,"
            " created_at, updated_at) VALUES (1, 900, ?, ?, ?, ?, ?, ?, ?)",
            [(said("Share the exit-ticket folder"), 2, "2026-11-27", "in_progress", 0, w, w),
             (said("Each school tries talk partners"), None, "2026-12-04", "open", 1, w, w),
             (said("Film one lesson"), 5, "2026-11-26", "done", 2, w, w)],
        )  # fmt: skip
        # Saved as the meeting flow saves them (JSON; a skipped question is JSON null).
        for person, take_back, surprise in (
            (2, TAKE_BACK, None),
            (3, {"voice": "file-9", "duration": 15}, SURPRISE),
            (5, WITHHELD, WITHHELD),
        ):
            await MeetingRepo.save_reflection(tx, 900, person, take_back, surprise)
        await tx.execute("UPDATE meeting_reflection SET answered_at = ?", (later,))
        await tx.execute(
            "INSERT INTO consent (person_id, given, version, recorded_at) VALUES (5, 0, '1', ?)",
            (w,),
        )


ACTION_TAGS = {  # as the summary source writes them (contract: owner_id, due, status)
    "Share the exit-ticket folder": ";owner_id=2;due=2026-11-27;status=in_progress",
    "Each school tries talk partners": ";owner_id=;due=2026-12-04;status=open",
    "Film one lesson": ";owner_id=5;due=2026-11-26;status=done",
}


async def archived_with_action_tags(db: Database) -> Digests:
    """Archive WEEK, then give its actions the tags the summary source writes (owner_id,
    due, status: storage/digest_sources_trio_work.py summary_items, per the contract), as
    the fixture's action rows say; the service reads the week back from the archive."""
    service = digests(db)
    await service.week(WEEK)
    async with db.transaction() as tx:
        for what, tags in ACTION_TAGS.items():
            changed = await tx.execute(
                "UPDATE digest_contribution SET tags = tags || ? WHERE kind = 'action'"
                " AND text = ?",
                (tags, what),
            )
            assert changed == 1, what
    return service


def _trio(values: dict[str, object], ref: str) -> dict[str, object]:
    trios = values["trios"]
    assert isinstance(trios, list)
    return next(t for t in trios if t["ref"] == ref)


async def test_what_was_tried_names_its_school_in_both_digests(db: Database) -> None:
    await programme_with_trio_work(db)
    service = digests(db)
    week = await service.week(WEEK)
    trio_schools = {"School 1", "School 2", "School 3"}
    for audience in ("schools", "researchers"):
        values = digest_values(week.compiled, week.contributions, week.key, audience)
        tried = _trio(values, "TR1")["tried"]
        assert isinstance(tried, list) and TRIED in [t["text"] for t in tried]
        assert {t["school"] for t in tried} <= trio_schools  # names, never a bare "S2"
        for lang in LANGUAGES:
            html = service.render(week, audience, lang).html.decode()
            assert '<span class="meta">— School ' in html


async def test_actions_show_owner_due_date_and_status(db: Database) -> None:
    await programme_with_trio_work(db)
    service = await archived_with_action_tags(db)
    week = await service.week(WEEK)
    page = service.render(week, "schools", "en").html.decode()
    # The agreed summary names who does what: the shared digest shows it as agreed, also
    # for someone who has since withdrawn research consent (person 5).
    assert 'Share the exit-ticket folder</span><br><span class="meta">Ana Lima' in page
    assert "Fri 27 Nov" in page and ">in progress</span>" in page
    assert 'Each school tries talk partners</span><br><span class="meta">the whole trio' in page
    assert 'Film one lesson</span><br><span class="meta">Bea Costa' in page
    assert pseudonym(week.key, 2) not in page
    page = service.render(week, "researchers", "en").html.decode()
    # Research outputs name nobody: the owner is their pseudonym, while they consent.
    assert OWNER not in page and "Bea Costa" not in page
    assert pseudonym(week.key, 2) in page and pseudonym(week.key, 5) not in page
    assert (
        'Film one lesson</span><br><span class="meta"><a href="#trio-TR1">Trio 1</a>'
        " · someone in the trio" in page
    )
    values = digest_values(
        week.compiled, week.contributions, week.key, "researchers", owners=week.owners
    )
    listed = [(a["text"], a["status"], a["due"]) for a in values["actions_list"]]
    assert ("Share the exit-ticket folder", "in_progress", "2026-11-27") in listed
    assert ("Each school tries talk partners", "open", "2026-12-04") in listed
    statuses = [a["status"] for a in values["actions_list"]]
    order = ("open", "in_progress", "done", "dropped", None)  # None: the tags say no status
    assert statuses == sorted(statuses, key=order.index)
    # And every agreed action so far, per trio and status, equals an independent count.
    counted = {
        (str(t), str(s)): int(n)
        for t, s, n in await db.fetchall(
            "SELECT t.ref, a.status, COUNT(*) FROM action a JOIN summary s ON s.id = a.summary_id"
            " JOIN trio t ON t.id = a.trio_id WHERE s.status = 'agreed' GROUP BY t.ref, a.status"
        )
    }
    shown = {
        (row["ref"], status): n
        for row in values["actions_by_trio"]
        for status, n in row["counts"].items()
        if n
    }
    assert shown == counted and counted[("TR1", "in_progress")] >= 1
    for lang in LANGUAGES:  # every language labels the statuses
        html = service.render(week, "researchers", lang).html.decode()
        assert 'class="status status-in_progress"' in html


async def test_an_erased_owner_is_no_longer_named(db: Database) -> None:
    await programme_with_trio_work(db)
    service = await archived_with_action_tags(db)
    async with db.transaction() as tx:
        assert await personal_data.erase(tx, 2)
    week = await service.week(WEEK)
    for audience in ("schools", "researchers"):
        page = service.render(week, audience, "en").html.decode()
        assert OWNER not in page and pseudonym(week.key, 2) not in page
    page = service.render(week, "schools", "en").html.decode()
    assert 'Share the exit-ticket folder</span><br><span class="meta">someone in the trio' in page


async def test_post_meeting_reflections_reach_the_researchers_only(db: Database) -> None:
    await programme_with_trio_work(db)
    service = digests(db)
    week = await service.week(WEEK)
    mine = week.contributions[week.contributions["kind"] == "meeting_reflection"]
    assert sorted(mine["tags"]) == [
        "meeting=900;prompt=surprise",
        "meeting=900;prompt=take_back",
        "meeting=900;prompt=take_back;voice=15",
    ]
    # No consent: archived (consent is applied when read), in no output.
    assert WITHHELD not in set(week.contributions["text"]) | set(week.shared["text"])
    values = digest_values(week.compiled, week.contributions, week.key, "researchers")
    after = _trio(values, "TR1")["after_meetings"]
    assert isinstance(after, list)
    assert [(a["person"], a["prompt"], a["text"], a["voice"]) for a in after] == [
        (pseudonym(week.key, 2), "take_back", TAKE_BACK, None),
        (pseudonym(week.key, 3), "take_back", "", 15),
        (pseudonym(week.key, 3), "surprise", SURPRISE, None),
    ]
    assert values["totals"]["after_meetings"] == 3
    research = service.render(week, "researchers", "en").html.decode()
    assert "What I will take back to my school" in research and SURPRISE in research
    assert "Exit tickets in every class\nand a shared folder for them" in research
    for lang in LANGUAGES:
        shared = service.render(week, "schools", lang)
        for words in (TAKE_BACK, SURPRISE, WITHHELD, "Exit tickets in every class"):
            assert words.encode() not in shared.html
            assert all(words not in part for part in shared.message)
        assert WITHHELD.encode() not in service.render(week, "researchers", lang).html
    exported = week.export_tables()["contributions"]
    assert (exported["kind"] == "meeting_reflection").sum() == 3
    assert WITHHELD not in set(exported["text"])


async def test_trios_are_named_once_and_a_teacher_trio_counts_its_members(
    db: Database,
) -> None:
    await programme_with_trio_work(db)
    service = digests(db)
    week = await service.week(WEEK)
    values = digest_values(week.compiled, week.contributions, week.key, "researchers")
    rows = {r["ref"]: r for r in values["participation_trios"]}
    counted = dict(
        await db.fetchall(
            "SELECT t.ref, COUNT(*) FROM trio_member m JOIN trio t ON t.id = m.trio_id"
            " JOIN person p ON p.id = m.person_id AND p.status = 'active'"
            " WHERE (SELECT given FROM consent c WHERE c.person_id = p.id"
            "  ORDER BY c.id DESC LIMIT 1) = 1 GROUP BY t.ref"
        )
    )
    assert {ref: r["members"] for ref, r in rows.items()} == counted
    assert counted["TT1"] == 3 and counted["TR1"] == 8  # nine people, one withdrew
    assert (rows["TR2"]["name"], rows["TR2"]["aside"]) == ("TR2", None)
    assert (rows["TR1"]["name"], rows["TR1"]["aside"]) == ("Trio 1", "TR1")
    html = service.render(week, "researchers", "en").html.decode()
    assert "<td>TR2</td>" in html and "<td>TT1</td>" in html
    assert 'TR2 <span class="note">TR2' not in html and 'TT1 <span class="note">TT1' not in html
    assert 'Trio 1 <span class="note">TR1</span>' in html


async def test_the_trend_chart_waits_for_three_weeks_with_prompts(db: Database) -> None:
    await seed(db, las=3, schools=6, teachers_per_school=2, weeks=2, last_week=WEEK)
    service = digests(db)
    two = service.render(await service.week(WEEK), "researchers", "en")
    assert set(two.charts) == {"barriers"}
    assert b"The trend chart appears once 3 weeks have prompts delivered (2 so far)." in two.html
    three = service.render(await service.week("2026-W48"), "researchers", "en")
    assert set(three.charts) == {"barriers"}  # W48 had no prompts: still two weeks with data
    await seed_more_weeks(db)
    later = service.render(await service.week("2026-W49"), "researchers", "en")
    assert set(later.charts) == {"barriers", "response_rate"}


async def seed_more_weeks(db: Database) -> None:
    """Prompts delivered (and some answered) in W49, a third week with data."""
    start, _ = week_bounds("2026-W49", ZONE)
    at = to_db_time(start + timedelta(days=1, hours=15))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, delivered_at,"
            " answered_at) VALUES (?, 'practice', '2026-W49', ?, ?, ?, ?)",
            [(p, "answered" if p % 2 else "delivered", json.dumps("ok") if p % 2 else None,
              at, at if p % 2 else None) for p in range(1, 13)],
        )  # fmt: skip


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_chart_text_is_at_least_11_px_on_a_390_px_phone(db: Database) -> None:
    await programme_with_trio_work(db)
    service = digests(db)
    rendered = service.render(await service.week(WEEK), "researchers", "en")
    assert set(rendered.charts) == {"barriers", "response_rate"}
    for png in rendered.charts.values():
        width, _ = _png_size(png)
        assert width == charts.WIDTH_IN * charts.DPI  # constrained layout: no trimming
        assert charts.shown_text_px(charts.PHONE_CHART_PX, width) >= charts.MIN_TEXT_PX
        # On a laptop the chart stops growing at its max width: text stays moderate.
        assert charts.shown_text_px(charts.CHART_MAX_CSS_PX, width) < 18
