"""The consent policy (README "Consent and what each output holds", bot/digest/consent.py),
one test per sentence, on a seeded programme through the real services.

Trio TR1 is schools S1–S3 (persons 1–9), TR2 schools S4–S6. TR1's lead (person 1) wrote the
agreed summary of its meeting; a three-person lesson-study cycle (persons 1, 4 and 7, one from
each school) agreed an account that person 4 wrote. Person 5 never consented to research use.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from bot.digest.compile import week_bounds
from bot.digest.consent import for_research, for_schools
from bot.digest.render import digest_values
from bot.digest.service import Digests, Week
from bot.people.data_rights import DataRights
from bot.scheduling.timing import iso_week
from bot.texts import LANGUAGES
from storage import digest_sources as src
from storage import personal_data
from storage.db import Database, to_db_time
from storage.people import PeopleRepo
from tests.digest_programme import ZONE, seed
from tests.harness import BotUnderTest, join
from tests.test_digest import WEEK, digests

pytestmark = pytest.mark.both_stores

ACCOUNT = "Pupil B read more when the three of us pre-taught vocabulary."
SUMMARY_FOCUS = "Oracy in year 5"
PRACTICE = "Bruno Costa showed his talk partners routine"  # names person 4
OWN_WORDS = "My own quiet doubt about the setting policy"  # person 4's reflection
LEAD_WORDS = "A reflection by the lead on exit tickets"  # person 1's reflection
THEME_WORDS = "We also tried exit tickets"  # person 11's, in the other trio
NEVER_WORDS = "Words of someone who never consented"  # person 5's reflection
AUTHOR = 4  # wrote the account; named in the summary
LEAD = 1  # wrote the summary


async def _programme(db: Database) -> None:
    # No seeded answers, so the researcher digest quotes every reflection (it shows a few).
    await seed(db, las=3, schools=6, teachers_per_school=3, weeks=2, answer_rate=0.0)
    start, _ = week_bounds(WEEK, ZONE)
    thursday = start + timedelta(days=3, hours=16)
    w, later = to_db_time(thursday), to_db_time(thursday + timedelta(hours=5))
    said = json.dumps
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM consent WHERE person_id = 5")
        await tx.execute("UPDATE person SET display_name = 'Bruno Costa' WHERE id = ?", (AUTHOR,))
        for person, words in (
            (AUTHOR, OWN_WORDS),
            (LEAD, LEAD_WORDS),
            (5, NEVER_WORDS),
            (11, THEME_WORDS),  # in TR2: with person 1's, a theme across two trios
        ):
            await tx.execute(
                "INSERT INTO reflection (person_id, prompt, period, status, answer,"
                " delivered_at, answered_at) VALUES (?, 'free', ?, 'answered', ?, ?, ?)",
                (person, w, said(words), w, w),
            )
        await tx.execute(
            "INSERT INTO meeting (id, trio_id, starts_at, time_zone, focus, status, created_at,"
            " updated_at) VALUES (1, 1, ?, 'Europe/London', 'Oracy', 'held', ?, ?)",
            (w, w, w),
        )
        await tx.execute(
            "INSERT INTO summary (id, meeting_id, trio_id, author_id, status, focus,"
            " circulated_at, agree_by, agreed_at, created_at, updated_at)"
            " VALUES (1, 1, 1, ?, 'agreed', ?, ?, ?, ?, ?, ?)",
            (LEAD, SUMMARY_FOCUS, w, w, later, w, w),
        )
        await tx.execute(
            "INSERT INTO summary_item (summary_id, kind, level, body, position)"
            " VALUES (1, 'shared', NULL, ?, 0)",
            (said(PRACTICE),),
        )
        await tx.execute(
            "INSERT INTO lesson_study (id, trio_id, subject, class_group, focus_what, focus_who,"
            " stage, status, stage_since, created_at, agreed_at)"
            " VALUES (1, 1, 'English', 'Year 5', 'Reading', 'Pupil B', 'agreed', 'agreed',"
            " ?, ?, ?)",
            (w, w, later),
        )
        await tx.executemany(
            "INSERT INTO lesson_study_member (lesson_study_id, person_id, position)"
            " VALUES (1, ?, ?)",
            [(LEAD, 1), (AUTHOR, 2), (7, 3)],
        )
        await tx.execute(
            "INSERT INTO lesson_study_account (lesson_study_id, author_id, learned, changed,"
            " advice, status, created_at, updated_at, agreed_at)"
            " VALUES (1, ?, ?, ?, ?, 'agreed', ?, ?, ?)",
            (AUTHOR, said(ACCOUNT), said("Vocabulary first."), said("Pre-teach."), w, w, later),
        )


async def _consent(db: Database, person_id: int, given: bool) -> None:
    """As /privacy records it."""
    async with db.transaction() as tx:
        await PeopleRepo.record_consent(tx, person_id, given=given, version="2026-1")


def _pages(service: Digests, week: Week, audience: str) -> list[str]:
    pages = []
    for lang in LANGUAGES:
        rendered = service.render(week, audience, lang)  # type: ignore[arg-type]
        pages.append(rendered.html.decode() + "\n".join(rendered.message))
    return pages


def _shows(service: Digests, week: Week, audience: str, words: str) -> bool:
    """Whether every language's page and message show the words (False if any lacks them)."""
    found = [words in page for page in _pages(service, week, audience)]
    assert all(found) or not any(found), f"{words!r} in some languages only"
    return all(found)


def _exported(week: Week) -> str:
    return "\n".join(week.export_tables()["contributions"]["text"])


async def _everything(service: Digests) -> str:
    return "\n".join((await service.export_everything())["contributions"]["text"])


async def _research_holds(service: Digests, week: Week, words: str) -> bool:
    """In the researcher digest, this week's export and the export of everything, alike."""
    places = {
        _shows(service, week, "researchers", words),
        words in _exported(week),
        words in await _everything(service),
    }
    assert len(places) == 1, f"{words!r} in some research outputs only"
    return places.pop()


# --- research consent: the researchers' use of a person's own words -----------------------
async def test_research_outputs_hold_only_current_consenters_own_words(db: Database) -> None:
    await _programme(db)
    service = digests(db)
    week = await service.week(WEEK)
    assert await _research_holds(service, week, OWN_WORDS)
    assert await _research_holds(service, week, ACCOUNT)
    # A person who never consented: not in any research output, by words or pseudonym.
    assert not await _research_holds(service, week, NEVER_WORDS)
    assert 5 not in set(week.contributions["person_id"])


async def test_an_agreed_text_counts_as_its_authors_words_for_research(db: Database) -> None:
    await _programme(db)
    await _consent(db, 7, False)  # a member who did not write the account
    await _consent(db, LEAD, False)  # the summary's author
    service = digests(db)
    week = await service.week(WEEK)
    assert await _research_holds(service, week, ACCOUNT)  # written by person 4, consenting
    assert not await _research_holds(service, week, SUMMARY_FOCUS)
    assert not await _research_holds(service, week, PRACTICE)


# --- trio agreement: the shared digest ------------------------------------------------------
async def test_agreed_work_stays_in_the_shared_digest_when_its_author_withdraws(
    db: Database,
) -> None:
    await _programme(db)
    service = digests(db)
    archived = await service.week(WEEK)  # compiled and archived while all consent
    assert _shows(service, archived, "schools", ACCOUNT)
    await _consent(db, AUTHOR, False)
    await _consent(db, LEAD, False)
    rebuilt = await service.week(WEEK)  # from the archive, consent applied again
    assert _shows(service, rebuilt, "schools", ACCOUNT)
    assert _shows(service, rebuilt, "schools", SUMMARY_FOCUS)
    assert _shows(service, rebuilt, "schools", PRACTICE)
    # Gone from the researcher digest and the exports: they wrote them.
    for words in (ACCOUNT, SUMMARY_FOCUS, PRACTICE):
        assert not await _research_holds(service, rebuilt, words)
    # A week first compiled after the withdrawal keeps them for schools as well.
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM digest")
    fresh = await service.week(WEEK)
    assert await db.fetchval("SELECT COUNT(*) FROM digest") == 1
    assert _shows(service, fresh, "schools", ACCOUNT)
    assert fresh.shared.equals(rebuilt.shared)


async def test_the_shared_digest_never_shows_anyones_own_reflections(db: Database) -> None:
    await _programme(db)
    service = digests(db)
    week = await service.week(WEEK)
    assert _shows(service, week, "researchers", LEAD_WORDS)
    for words in (LEAD_WORDS, OWN_WORDS, NEVER_WORDS):
        assert not _shows(service, week, "schools", words)
    # Nor post-meeting reflections (a source of their own): only agreed kinds pass.
    who = await src.people(db)
    mixed = pd.concat(
        [week.contributions, week.contributions.head(1).assign(kind="meeting_reflection")]
    )
    assert set(for_schools(mixed, who)["kind"]) <= set(src.AGREED_KINDS)
    assert "meeting_reflection" in set(for_research(mixed, who)["kind"])
    # Nor as a theme counted across trios: "exit tickets" came up in two trios' reflections.
    researchers = digest_values(week.compiled, week.contributions, week.key, "researchers")
    schools = digest_values(week.compiled, week.shared, week.key, "schools")
    assert "exit tickets" in {t["phrase"] for t in researchers["themes"]}
    assert "exit tickets" not in {t["phrase"] for t in schools["themes"]}
    assert not _shows(service, week, "schools", "exit tickets")


# --- withdrawal -------------------------------------------------------------------------------
async def test_withdrawal_takes_own_words_out_of_archived_weeks(db: Database) -> None:
    await _programme(db)
    service = digests(db)
    before = await service.week(WEEK)
    assert await _research_holds(service, before, OWN_WORDS)
    await _consent(db, AUTHOR, False)
    after = await service.week(WEEK)
    assert not await _research_holds(service, after, OWN_WORDS)
    assert AUTHOR not in set(after.contributions["person_id"])
    assert LEAD_WORDS in _exported(after)  # everyone else's stay
    # The archive still holds the rows, so consent given again can bring them back.
    assert await db.fetchval(
        "SELECT COUNT(*) FROM digest_contribution WHERE person_id = ?", (AUTHOR,)
    )


async def test_consent_given_again_brings_the_words_back(db: Database) -> None:
    await _programme(db)
    await _consent(db, AUTHOR, False)
    service = digests(db)
    withdrawn = await service.week(WEEK)  # compiled and archived while withdrawn
    assert not await _research_holds(service, withdrawn, OWN_WORDS)
    assert not await _research_holds(service, withdrawn, ACCOUNT)
    await _consent(db, AUTHOR, True)
    again = await service.week(WEEK)
    assert await _research_holds(service, again, OWN_WORDS)
    assert await _research_holds(service, again, ACCOUNT)


def test_an_actions_owner_shows_in_research_only_while_they_consent() -> None:
    who = pd.DataFrame(
        {
            "person_id": [1, 2, 3],
            "status": ["active", "active", "erased"],
            "consented": [True, False, False],
        }
    )
    base = {"role": "trio_lead", "school": "S1", "local_authority": "A", "trio": "TR1"}
    rows = pd.DataFrame(
        [
            {**base, "person_id": 1, "kind": "action", "text": t, "tags": f"summary=1;owner_id={o}"}
            for t, o in (("Ask", 1), ("Try", 2), ("Read", 3), ("Plan", ""))
        ]
    )
    research = for_research(rows, who).set_index("text")["tags"].to_dict()
    assert research == {
        "Ask": "summary=1;owner_id=1",
        "Try": "summary=1;owner_id=withheld",  # someone in the trio, not the whole trio
        "Read": "summary=1;owner_id=withheld",
        "Plan": "summary=1;owner_id=",  # the whole trio's
    }
    # The shared digest names owners as the trio agreed, except an erased one.
    shared = for_schools(rows, who).set_index("text")["tags"].to_dict()
    assert (
        shared["Try"] == "summary=1;owner_id=2" and shared["Read"] == "summary=1;owner_id=withheld"
    )


# --- erasure ----------------------------------------------------------------------------------
async def test_erasure_keeps_agreed_work_for_schools_without_the_person(db: Database) -> None:
    await _programme(db)
    service = digests(db)
    await service.week(WEEK)  # archived before the erasure
    rights = DataRights(db, service.clock)
    assert await rights.erase(AUTHOR)
    erased = "[erased] showed his talk partners routine"
    for week in (await service.week(WEEK), await _recompiled(db, service)):
        # The account they wrote and the summary naming them stay for schools, name redacted…
        assert _shows(service, week, "schools", ACCOUNT)
        assert _shows(service, week, "schools", erased)
        assert not any("Bruno" in page for page in _pages(service, week, "schools"))
        assert week.shared["person_id"].isna().sum() == 1  # the account: no author now
        # …their own words are gone, and nothing of theirs is in any research output.
        assert not _shows(service, week, "researchers", OWN_WORDS)
        assert not await _research_holds(service, week, ACCOUNT)
        assert AUTHOR not in set(week.contributions["person_id"])
    assert not await db.fetchval(
        "SELECT COUNT(*) FROM digest_contribution WHERE person_id = ? OR text LIKE '%Bruno%'",
        (AUTHOR,),
    )


async def _recompiled(db: Database, service: Digests) -> Week:
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM digest")
    return await service.week(WEEK)


def test_erasure_keeps_exactly_the_agreed_kinds() -> None:
    kinds = personal_data.AGREED_KINDS_SQL.strip("()").replace("'", "").split(", ")
    assert tuple(kinds) == src.AGREED_KINDS


# --- participation figures -----------------------------------------------------------------------
async def test_counts_are_of_people_consenting_when_the_week_was_compiled(db: Database) -> None:
    await _programme(db)
    service = digests(db)
    delivered = int((await service.week(WEEK)).compiled.figure("by_trio")["delivered"].sum())
    start, end = week_bounds(WEEK, ZONE)
    expected = await db.fetchval(
        "SELECT COUNT(*) FROM reflection WHERE prompt != 'free' AND person_id != 5"
        " AND delivered_at >= ? AND delivered_at < ?",
        (to_db_time(start), to_db_time(end)),
    )
    assert delivered == expected
    await _consent(db, AUTHOR, False)  # an archived week's counts stay as built
    again = int((await service.week(WEEK)).compiled.figure("by_trio")["delivered"].sum())
    assert again == delivered


# --- the same policy, as a teacher meets it in /privacy --------------------------------------
async def test_withdrawing_in_privacy_says_what_it_does_and_does_it(bot: BotUnderTest) -> None:
    bruno = bot.person(7_310_448_215, "Bruno")
    await join(bruno, "DEMOBRUNO", name="Bruno")
    await bruno.says("/reflect")
    words = "Mixed-attainment groups helped my quieter pupils talk."
    await bruno.says(words)
    digests = bot.services.digests
    this_week = iso_week(bot.clock(), digests.zone)

    async def researchers_see() -> bool:
        week = await digests.week(this_week)
        return words in _exported(week) and _shows(digests, week, "researchers", words)

    assert await researchers_see()
    await bruno.says("/privacy")
    await bruno.taps("Withdraw")
    told = bruno.last_text
    assert "left out of the researchers' digest and every export" in told
    assert "What your trio agreed to share stays in the shared digest for schools" in told
    assert not await researchers_see()
    await bruno.says("/privacy")
    await bruno.taps("Give my consent")
    assert "consent is recorded" in bruno.last_text
    assert await researchers_see()


# --- the partnership loop: questions for the researchers and their replies ----------------
ASKED = "Could the vocabulary routine work in Year 3?"  # the summary's, by the lead
OPEN_ASKED = "How do we judge pre-teaching went well?"  # the account's, by person 4, open
ANSWERED = "Yes: the EEF oracy guidance has a Year 3 example"
COMMENTED = "What would show it reached Pupil B?"
RESEARCHER = 19  # the first researcher of the seeded programme (18 teachers)


async def _partnership(db: Database) -> None:
    """The summary's question answered and shared by RESEARCHER; the account's still open;
    another researcher's comment on the summary, not shared."""
    start, _ = week_bounds(WEEK, ZONE)
    friday = to_db_time(start + timedelta(days=4, hours=10))
    said = json.dumps
    async with db.transaction() as tx:
        item = await tx.execute(
            "INSERT INTO summary_item (summary_id, kind, body, position)"
            " VALUES (1, 'question', ?, 1)",
            (said(ASKED),),
        )
        asked = await tx.execute(
            "INSERT INTO research_question (trio_id, summary_id, summary_item_id, body,"
            " asked_by, asked_at, status) VALUES (1, 1, ?, ?, ?, ?, 'answered')",
            (item, said(ASKED), LEAD, friday),
        )
        await tx.execute(
            "INSERT INTO research_question (trio_id, account_id, body, asked_by, asked_at)"
            " VALUES (1, 1, ?, ?, ?)",
            (said(OPEN_ASKED), AUTHOR, friday),
        )
        await tx.execute(
            "INSERT INTO research_reply (kind, trio_id, question_id, author_id, body,"
            " shareable, sent_at) VALUES ('answer', 1, ?, ?, ?, 1, ?)",
            (asked, RESEARCHER, said(ANSWERED), friday),
        )
        await tx.execute(
            "INSERT INTO research_reply (kind, trio_id, summary_id, author_id, body, sent_at)"
            " VALUES ('comment', 1, 1, ?, ?, ?)",
            (RESEARCHER + 1, said(COMMENTED), friday),
        )


async def test_a_question_is_agreed_work_shown_to_schools_whatever_the_askers_consent(
    db: Database,
) -> None:
    await _programme(db)
    await _partnership(db)
    await _consent(db, LEAD, False)
    service = digests(db)
    week = await service.week(WEEK)
    assert _shows(service, week, "schools", ASKED)
    assert _shows(service, week, "schools", ANSWERED)


async def test_a_questions_words_are_its_askers_in_research_outputs(db: Database) -> None:
    await _programme(db)
    await _partnership(db)
    service = digests(db)
    week = await service.week(WEEK)
    assert _shows(service, week, "researchers", OPEN_ASKED)
    await _consent(db, AUTHOR, False)
    week = await service.week(WEEK)
    assert not _shows(service, week, "researchers", OPEN_ASKED)
    assert _shows(service, week, "researchers", 'class="note withheld"')
    for tables in (week.export_tables(), await service.export_everything()):
        asked = tables["questions"]
        assert len(asked) == 2  # the trio's record stays
        assert OPEN_ASKED not in set(asked["text"]) and ASKED in set(asked["text"])
        account = asked[asked["source"] == "account"]
        assert list(account["asker"]) == [""] and list(account["text"]) == [""]


async def test_a_researchers_replies_are_their_own_words_in_research_outputs(
    db: Database,
) -> None:
    await _programme(db)
    await _partnership(db)
    await _consent(db, RESEARCHER + 1, False)
    service = digests(db)
    week = await service.week(WEEK)
    for tables in (week.export_tables(), await service.export_everything()):
        sent = tables["researcher_replies"]
        assert sent[["kind", "text"]].values.tolist() == [["answer", ANSWERED], ["comment", ""]]
        assert sent["author"].iloc[1] == "" and sent["author"].iloc[0].startswith("P-")
    await _consent(db, RESEARCHER + 1, True)
    week = await service.week(WEEK)
    assert COMMENTED in set(week.export_tables()["researcher_replies"]["text"])


async def test_an_answer_reaches_schools_only_when_shared_named_as_its_researcher(
    db: Database,
) -> None:
    await _programme(db)
    await _partnership(db)
    async with db.transaction() as tx:
        await tx.execute("UPDATE person SET display_name = 'Dr Rivera' WHERE id = ?", (RESEARCHER,))
    service = digests(db)
    week = await service.week(WEEK)
    assert _shows(service, week, "schools", "Dr Rivera")
    assert not _shows(service, week, "schools", COMMENTED)  # never marked shareable
    async with db.transaction() as tx:
        await tx.execute("UPDATE research_reply SET shareable = 0 WHERE kind = 'answer'")
    assert not _shows(service, await service.week(WEEK), "schools", ANSWERED)
    async with db.transaction() as tx:
        await tx.execute("UPDATE research_reply SET shareable = 1 WHERE kind = 'answer'")
    assert await DataRights(db, service.clock).erase(RESEARCHER)
    assert not _shows(service, await service.week(WEEK), "schools", ANSWERED)
