"""Changing a draft summary after a suggestion, as the author lives it: the menu names every
part, each question shows what the part says now, owners and dates change, parts come and
go, and the revision the trio reads again marks what changed."""

from __future__ import annotations

import json
import re

import pytest

from bot.standin.world import SentMessage
from bot.texts import Texts
from tests.conftest import FakeClock
from tests.harness import BotUnderTest
from tests.meeting_script import Trio, at, form_trio, newest, run_schedule, utc
from tests.test_meeting_cycle import schedule_first_meeting

pytestmark = pytest.mark.both_stores


async def draft_written(bot: BotUnderTest, clock: FakeClock) -> Trio:
    """A meeting held and written up by Alice: two barriers, two actions, sent round."""
    trio = await form_trio(bot)
    alice = trio.alice
    await schedule_first_meeting(bot, trio)
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance", message=newest(alice, "Who took part?"))
    for name in ("Alice", "Bruno", "Carmen"):
        await alice.taps(name)
    await alice.taps("Done")
    await run_schedule(bot, clock)
    await alice.taps("write it now", message=newest(alice, "who will write up the summary"))
    await alice.says("Feedback <that> moves learning & on")
    await alice.says("Whole-class feedback sheets instead of written comments")  # Northfield
    await alice.sends_voice(duration=35)  # Southgate
    await alice.taps("Skip")  # Westbrook
    await alice.taps("Skip")  # no evidence
    await alice.says("No cover to release teachers for visits")
    await alice.taps("within school")
    await alice.taps("Northfield Primary")
    await alice.says("Buses between our sites stop at 4pm")
    await alice.taps("between schools")
    await alice.taps("Southgate Primary")
    await alice.taps("Skip")  # no more barriers
    await alice.says("Try the feedback sheets in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/12/2026")
    await alice.says("Share the pupil voice survey")
    await alice.taps("Carmen")
    await alice.says("2026-12-18")
    await alice.taps("That's all")
    await alice.taps("Skip")
    await alice.taps("Skip")
    await alice.taps("Send to the trio")
    await run_schedule(bot, clock)
    return trio


async def open_edit(bot: BotUnderTest, clock: FakeClock, trio: Trio) -> None:
    """Carmen suggests a change; Alice opens the edit from the suggestion."""
    carmen, alice = trio.carmen, trio.alice
    await carmen.taps("Suggest a change", message=newest(carmen, "Draft summary"))
    await carmen.says("Bruno is away: Fran takes the sheets, and later")
    await run_schedule(bot, clock)
    await alice.taps("Edit the summary", message=newest(alice, "suggests a change"))


def menu(message: SentMessage) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def revised_for(bot: BotUnderTest, clock: FakeClock, trio: Trio) -> str:
    await run_schedule(bot, clock)
    return newest(trio.bruno, "Revised draft").plain_text


async def test_the_menu_names_each_part_and_its_school(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await draft_written(bot, clock)
    await open_edit(bot, clock, trio)
    alice = trio.alice
    assert "Which part do you want to change?" in alice.last_text
    labels = menu(newest(alice, "Which part do you want to change?"))
    assert labels[0].startswith("1. Focus: Feedback <that> moves learning")
    assert labels[1].startswith("2. Northfield Primary: Whole-class feedback sheets")
    assert labels[1].endswith("…") and len(labels[1]) < 64
    assert "3. Southgate Primary: 🎤 voice note (35 s)" in labels
    assert any(label.startswith("4. Barrier: No cover to release") for label in labels)
    assert any(label.startswith("6. Action: Try the feedback sheets") for label in labels)
    assert "+ Add a barrier" in labels and "+ Add an action" in labels
    assert "+ Add what a school shared" in labels
    assert not any("What a school shared" in label for label in labels)


async def test_send_the_new_text_shows_the_current_text(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await draft_written(bot, clock)
    await open_edit(bot, clock, trio)
    alice = trio.alice
    await alice.says("1")  # typed instead of tapping "1. Focus"
    assert "Now it says:" in alice.last_text
    assert "Feedback <that> moves learning & on" in alice.last_text
    asked = newest(alice, "Now it says:")
    assert "&lt;that&gt; moves learning &amp; on</blockquote>" in (asked.text or "")
    assert "Remove it" not in " ".join(menu(asked))
    await alice.says("Feedback that moves learning on")
    await alice.taps("Add another")
    await alice.taps("Northfield Primary")
    assert "What Northfield Primary shared, now:" in alice.last_text
    assert "Whole-class feedback sheets instead of written comments" in alice.last_text
    await alice.sends_sticker()  # not text: asked again, nothing lost
    assert "Whole-class feedback sheets instead of written comments" in alice.last_text
    await alice.sends_voice(duration=12)
    await alice.taps("Done")
    revised = await revised_for(bot, clock, trio)
    assert "Focus: Feedback that moves learning on ✏️ changed" in revised
    assert "Northfield Primary: 🎤 voice note (12 s) ✏️ changed" in revised
    assert "Southgate Primary: 🎤 voice note (35 s)\n" in revised  # unchanged, unmarked


async def test_an_edit_changes_an_actions_owner_and_date(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await draft_written(bot, clock)
    await open_edit(bot, clock, trio)
    alice = trio.alice
    await alice.taps("Action: Try the feedback")
    assert "Try the feedback sheets in Year 5 — Bruno, by Tue 15 Dec 2026" in alice.last_text
    await alice.taps("Who does it")
    assert (
        "Try the feedback sheets in Year 5" in alice.last_text and "Now: Bruno" in alice.last_text
    )
    await alice.taps("Fran")
    await alice.taps("Add another")
    await alice.taps("Action: Try the feedback")
    await alice.taps("By when")
    assert "Now: by Tue 15 Dec 2026" in alice.last_text
    await alice.says("1/11/2026")  # has passed: refused, asked again
    assert "Now: by Tue 15 Dec 2026" in alice.last_text
    await alice.says("2027-01-08")
    await alice.taps("Done")
    assert "revised summary has gone" in alice.last_text

    row = await bot.db.fetchone(
        "SELECT p.display_name, a.due_on FROM action a JOIN person p ON p.id = a.owner_id"
        " WHERE a.what LIKE '%feedback sheets%'"
    )
    assert row is not None and (row[0], row[1]) == ("Fran", "2027-01-08")
    due = await bot.db.fetchval(
        "SELECT s.due_at FROM schedule s JOIN action a"
        " ON s.dedupe_key = 'action:' || a.id || ':due'"
        " WHERE a.what LIKE '%feedback sheets%' AND s.status = 'pending'"
    )
    assert str(due).startswith("2027-01-07")  # the day before the new date
    revised = await revised_for(bot, clock, trio)
    assert "Try the feedback sheets in Year 5 — Fran, by Fri 8 Jan 2027 ✏️ changed" in revised
    assert "Share the pupil voice survey — Carmen, by Fri 18 Dec 2026\n" in revised


async def test_adding_a_barrier_and_removing_an_action(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await draft_written(bot, clock)
    await open_edit(bot, clock, trio)
    alice = trio.alice
    await alice.taps("+ Add a barrier")
    assert "new barrier" in alice.last_text
    await alice.says("Parents cannot reach the school by bus")
    assert "Where does that barrier sit?" in alice.last_text
    assert "Parents cannot reach the school by bus" in alice.last_text
    await alice.taps("beyond schools")
    assert "Which school does it belong to?" in alice.last_text  # as when writing one
    await alice.taps("Westbrook Primary")
    await alice.says("yes")  # typed: add another
    await alice.taps("Action: Share the pupil")
    await alice.taps("Remove it")
    await alice.taps("Add another")
    labels = menu(newest(alice, "Which part do you want to change?"))
    assert not any("Share the pupil" in label for label in labels)  # removed already
    assert any("Try the feedback sheets" in label for label in labels)
    await alice.taps("Back")  # changed her mind: nothing more after all
    assert "Change something else" in alice.last_text
    await alice.says("done")  # typed instead of tapping Done
    assert "revised summary has gone" in alice.last_text

    barriers = await bot.db.fetchall(
        "SELECT level FROM summary_item WHERE kind = 'barrier' ORDER BY position, id"
    )
    assert [r[0] for r in barriers] == ["within", "between", "beyond"]
    added = await bot.db.fetchval(
        "SELECT s.ref FROM summary_item i JOIN school s ON s.id = i.school_id"
        " WHERE i.level = 'beyond'"
    )
    assert added == "DEMO-W"
    assert await bot.db.fetchval("SELECT COUNT(*) FROM action") == 1
    assert (
        await bot.db.fetchval(
            "SELECT COUNT(*) FROM schedule WHERE kind = 'action_due' AND status = 'pending'"
        )
        == 1
    )
    revised = await revised_for(bot, clock, trio)
    assert (
        "Westbrook Primary: Parents cannot reach the school by bus (beyond schools) ➕ new"
        in revised
    )
    assert "Share the pupil voice survey — Carmen, by Fri 18 Dec 2026 ➖ removed" in revised
    assert "No cover to release teachers for visits (within school)\n" in revised
    html = newest(trio.bruno, "Revised draft").text or ""
    assert "<s>Share the pupil voice survey" in html
    assert "marked: ✏️ changed, ➕ new, ➖ removed" in revised


async def test_adding_an_action_and_a_schools_practice(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await draft_written(bot, clock)
    await open_edit(bot, clock, trio)
    alice = trio.alice
    await alice.taps("+ Add an action")
    await alice.says("Visit Westbrook's Year 5")
    assert "Visit Westbrook's Year 5" in alice.last_text and "Who will do it?" in alice.last_text
    await alice.taps("the whole trio")
    assert "By when will it be done?" in alice.last_text
    await alice.says("20/12")  # no year: the next 20 December
    await alice.taps("Add another")
    await alice.taps("+ Add what a school shared")
    await alice.taps("Westbrook Primary")
    assert "What did Westbrook Primary share or try" in alice.last_text
    await alice.says("Pupils mark their own work with a checklist")
    await alice.taps("Add another")
    await alice.taps("Southgate Primary")  # the voice note Southgate shared goes
    await alice.taps("Remove it")
    await alice.taps("Done")
    revised = await revised_for(bot, clock, trio)
    assert "3. Visit Westbrook's Year 5 — the whole trio, by Sun 20 Dec 2026 ➕ new" in revised
    assert "Westbrook Primary: Pupils mark their own work with a checklist ➕ new" in revised
    assert "Southgate Primary: 🎤 voice note (35 s) ➖ removed" in revised
    assert await bot.db.fetchval("SELECT COUNT(*) FROM action") == 3


async def test_back_repeats_the_barrier_it_returns_to(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await form_trio(bot)
    alice = trio.alice
    await schedule_first_meeting(bot, trio)
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance", message=newest(alice, "Who took part?"))
    await alice.taps("Alice")
    await alice.taps("Done")
    await alice.says("/summary")
    await alice.taps("Keep the planned focus")
    for _ in range(3):
        await alice.taps("Skip")  # what each school shared
    await alice.taps("Skip")  # evidence
    await alice.says("No cover to release teachers for visits")
    assert "Where does that barrier sit?" in alice.last_text
    assert "No cover to release teachers for visits" in alice.last_text
    await alice.taps("within school")
    assert "Which school does it belong to?" in alice.last_text
    assert "No cover to release teachers for visits" in alice.last_text
    await alice.taps("Northfield Primary")
    assert "Barrier 2" in alice.last_text
    await alice.taps("Back")
    assert "Which school does it belong to?" in alice.last_text
    await alice.taps("Back")
    assert "Where does that barrier sit?" in alice.last_text
    assert "No cover to release teachers for visits" in alice.last_text
    await alice.taps("Back")  # back to the barrier's own text, which it shows
    assert "Barrier 1" in alice.last_text
    assert "You wrote:\nNo cover to release teachers for visits" in alice.last_text
    await alice.says("No cover to release teachers for visits, even for a morning")
    assert "even for a morning" in alice.last_text  # the level question says which
    await alice.taps("between schools")
    await alice.taps("Northfield Primary")
    await alice.taps("Skip")  # no more barriers
    await alice.says("Try the feedback sheets")
    assert "Who will do it?" in alice.last_text and "Try the feedback sheets" in alice.last_text
    await alice.taps("Bruno")
    await alice.taps("Back")
    assert "Who will do it?" in alice.last_text and "Try the feedback sheets" in alice.last_text


def test_the_change_marks_read_the_same_way_in_every_language() -> None:
    texts = Texts()
    values = {
        "trio": "T1",
        "focus": "F",
        "focus_mark": "changed",
        "shared": [{"school": "N", "body": "a", "mark": "new"}],
        "evidence": [],
        "barriers": [{"body": "b", "level": "within", "mark": "changed"}],
        "actions": [],
        "removed_actions": [{"what": "c", "owner": None, "due": "2026-12-18"}],
        "no_actions": True,
        "questions": [{"body": "q", "mark": "removed"}],
        "other": [],
        "revised": True,
        "mine": False,
        "revision": 2,
    }
    marks = {"en": ("✏️ changed", "➕ new", "➖ removed"), "es": ("✏️ cambiado", "➕ nuevo",
             "➖ eliminado"), "pt": ("✏️ alterado", "➕ novo", "➖ retirado")}  # fmt: skip
    for lang, (changed, new, removed) in marks.items():
        text = texts.render(lang, "summary/draft", values)
        assert text.count(changed) == 3, (lang, text)  # focus, a barrier, and the legend
        assert text.count(new) == 2 and text.count(removed) == 3, (lang, text)
        assert "<s>q</s>" in text and "<s>c — " in text


async def test_an_edit_opened_before_parts_were_named_still_works(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    """A flow state stored by the earlier edit flow (menu "Action 1", "+ Add evidence",
    no current texts) is carried on after an upgrade, not lost."""
    trio = await draft_written(bot, clock)
    await open_edit(bot, clock, trio)
    alice = trio.alice
    summary_id = await bot.db.fetchval("SELECT id FROM summary")
    barrier = await bot.db.fetchval("SELECT id FROM summary_item WHERE kind = 'barrier'")
    action = await bot.db.fetchval("SELECT id FROM action ORDER BY position LIMIT 1")
    old = {
        "summary_id": summary_id,
        "sections": [
            ["focus", "section_focus", {}],
            [f"item:{barrier}", "section_item", {"kind": "barrier", "number": 1}],
            [f"action:{action}", "section_action", {"number": 1}],
            ["evidence", "section_add", {"kind": "evidence"}],
        ],
    }
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE flow_state SET context = ? WHERE status = 'open'", (json.dumps(old),)
        )
    await alice.says("3")  # the action
    await alice.taps("What will be done")
    await alice.says("Try the feedback sheets in Years 5 and 6")
    await alice.taps("Add another")
    await alice.says("4")  # add evidence
    await alice.says("Book looks from Year 5")
    await alice.taps("Done")
    assert "revised summary has gone" in alice.last_text
    revised = await revised_for(bot, clock, trio)
    assert (
        "Try the feedback sheets in Years 5 and 6 — Bruno, by Tue 15 Dec 2026 ✏️ changed" in revised
    )
    assert "Book looks from Year 5 ➕ new" in revised


def test_the_edit_questions_quote_on_lines_of_their_own() -> None:
    texts = Texts()
    was = {"kind": "action", "owner": "Bruno", "due": "2026-12-15", "body": "Try it.",
           "school": "Northfield Primary", "level": "within"}  # fmt: skip
    values = {"kind": "action", "adding": False, "was": was, "school": "Northfield Primary",
              "current": "Typed before.", "action": "Try it.", "barrier": "No cover.",
              "was_due": "2026-12-15", "number": 2}  # fmt: skip
    names = ("ask_new_text", "ask_part", "ask_level", "ask_owner", "ask_due", "ask_barrier")
    for lang in ("en", "es", "pt"):
        for name in names:
            for kind in ("action", "shared", "barrier"):
                was_kind = {**values, "kind": kind, "was": {**was, "kind": kind}}
                text = texts.render(lang, f"summary/{name}", was_kind)
                assert not re.search(r"\S<blockquote>|</blockquote>\S", text), (lang, name, text)
                plain = re.sub(r"<[^>]+>", "", text)
                assert not re.search(r"[a-z)][.!?:][A-Z¿¡]", plain), (lang, name, plain)
