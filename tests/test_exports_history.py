"""An action's history as the trio makes it on their phones: written into a summary, marked by
its owner from the due reminder, reviewed in the next summary; the export then has each change
with when and who (pseudonyms), the action's owner and status, and who attended."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.digest.compile import Options
from bot.digest.exports import pseudonym
from bot.digest.service import Digests
from bot.texts import Texts
from storage.digests import pseudonym_key
from tests.conftest import FakeClock
from tests.harness import BotUnderTest
from tests.meeting_script import at, form_trio, newest, run_schedule, utc
from tests.test_meeting_cycle import schedule_first_meeting

pytestmark = pytest.mark.both_stores


async def test_each_status_change_is_exported_with_when_and_who(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await form_trio(bot)
    alice, bruno, carmen, fran = trio.members
    await schedule_first_meeting(bot, trio)
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance", message=newest(alice, "Who took part?"))
    for name in ("Alice", "Bruno", "Carmen"):
        await alice.taps(name)
    await alice.taps("Done")  # Fran could not come
    await run_schedule(bot, clock)

    await alice.taps("write it now", message=newest(alice, "who will write up the summary"))
    await alice.taps("Keep the planned focus")
    await alice.says("Whole-class feedback sheets instead of written comments")
    await alice.taps("Skip")  # Southgate
    await alice.taps("Skip")  # Westbrook
    await alice.says("Book looks from Year 5")
    await alice.taps("Skip")  # no barriers
    await alice.says("Try the feedback sheets in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/12/2026")
    await alice.taps("That's all")
    await alice.taps("Skip")  # no questions
    await alice.taps("Skip")  # nothing else
    await alice.taps("Send to the trio")
    assert "Sent to the trio for agreement" in alice.last_text
    await run_schedule(bot, clock)
    for person in (bruno, carmen, fran):
        await person.taps("Approve", message=newest(person, "Draft summary"))
    assert await bot.db.fetchval("SELECT status FROM summary") == "agreed"

    at(clock, utc(2026, 12, 14, 15, 45))
    await run_schedule(bot, clock)
    await bruno.taps("In progress", message=newest(bruno, "Action due Tue 15 Dec 2026"))

    # The next meeting's summary says how it went.
    await alice.says("/meeting")
    await alice.taps("New meeting")
    await alice.says("12/1/2027")
    await alice.says("4pm")
    await alice.taps("Skip")
    await alice.says("Feedback, round two")
    await alice.taps("Send the invitations")
    at(clock, utc(2027, 1, 12, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance", message=newest(alice, "Who took part?"))
    await alice.taps("Alice")
    await alice.taps("Done")
    await alice.says("/summary")
    await alice.says("Feedback, round two")  # the focus
    assert "Action 1 of 1" in alice.last_text
    await alice.taps("done")
    await alice.says("Sheets worked in Year 5")
    for _ in range(3):  # two schools, evidence
        await alice.taps("Skip")
    await alice.taps("Skip")  # no barriers
    await alice.taps("No actions agreed")
    await alice.taps("Skip")
    await alice.taps("Skip")
    await alice.taps("Send to the trio")
    assert "Sent to the trio for agreement" in alice.last_text

    ids = {
        row[0]: row[1]
        for row in await bot.db.fetchall("SELECT telegram_id, id FROM person")
        if row[0] is not None
    }
    digests = Digests(bot.db, Texts(), ZoneInfo("Europe/London"), Options(), clock)
    tables = await digests.export_everything()
    async with bot.db.transaction() as tx:
        key = await pseudonym_key(tx)
    alice_p, bruno_p, fran_p = (pseudonym(key, ids[t]) for t in (801, 802, 804))

    actions = tables["actions"]
    assert actions[["what", "owner", "due", "status"]].values.tolist() == [
        ["Try the feedback sheets in Year 5", bruno_p, "2026-12-15", "done"]
    ]
    history = tables["action_history"]
    assert history[["status", "how", "by", "week", "partial"]].values.tolist() == [
        ["open", "created", alice_p, "2026-W49", 0],
        ["in_progress", "marked", bruno_p, "2026-W51", 0],
        ["done", "reviewed", alice_p, "2027-W02", 1],  # this week, so far
    ]
    assert list(history["changed_at"].str[:10]) == ["2026-12-01", "2026-12-14", "2027-01-12"]
    assert set(history["action"]) == set(actions["action"])
    attendance = tables["attendance"]
    first = attendance[attendance["date"] == "2026-12-01"]
    assert dict(zip(first["person"], first["attended"], strict=True))[fran_p] == 0
    assert sorted(first["attended"]) == [0, 1, 1, 1]
