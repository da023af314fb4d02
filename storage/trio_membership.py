"""Leaving and joining a trio: the one rule the roster import and `triobot person move` share.

A person who leaves a trio stops being part of what the trio does next, and keeps what they
already did. Their membership (and with it any lead rights there) goes; messages still queued
for them about the trio's meetings, summaries, actions and lesson study are dropped; their
scheduled reminders about it are cancelled; a running lesson-study cycle of the trio no longer
counts them in. Attendance, reflections, approvals, notes and authorship stay as they were:
that is the programme's history, attributed to the school it came from.

A draft summary that was waiting only for them gets a `summary_recheck` row, due at once:
whether it is now agreed is decided by the running bot (bot/summaries/agreement.py), which
tells the trio in each member's language — storage cannot render a message.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Reader, Transaction, to_db_time
from storage.programme import ProgrammeRepo, TrioKind
from storage.schedule import ScheduleRepo

RECHECK_KIND = "summary_recheck"


@dataclass(frozen=True, slots=True)
class Left:
    """What leaving one trio changed for one person."""

    was_member: bool
    was_lead: bool = False
    messages: int = 0  # outbox rows to them dropped
    scheduled: int = 0  # schedule rows for them cancelled
    drafts: int = 0  # draft summaries to be checked again without them
    cycles: int = 0  # running lesson-study cycles they no longer belong to


@dataclass(frozen=True, slots=True)
class Leaver:
    """A member about to leave, as the coordinator's output names them."""

    person_id: int
    ref: str | None
    name: str | None
    school_ref: str | None

    @property
    def label(self) -> str:
        who = self.ref or f"person {self.person_id}"
        return f"{who} ({self.name})" if self.name else who


@dataclass(frozen=True, slots=True)
class TrioAt:
    """A trio as the coordinator names it, with its schools."""

    id: int
    ref: str
    kind: TrioKind
    school_ids: frozenset[int]

    def admits(self, school_id: int | None) -> bool:
        """May someone of this school be a member? A school trio takes its schools' staff
        only: anyone else's contributions would be counted for a school not in the trio."""
        return self.kind != "schools" or not self.school_ids or school_id in self.school_ids


# Outbox rows are tied to a trio only through their dedupe keys, which name the meeting,
# summary, action, lesson-study cycle or researcher's reply (bot/scheduling/*.py,
# bot/lesson_study/*.py, bot/summaries/partnership.py). The
# colon after each id keeps meeting 1 from matching meeting 12.
_DROP_MESSAGES = (
    "UPDATE outbox SET status = 'dropped', last_error = :reason"
    " WHERE status = 'pending' AND person_id = :person AND ("
    " EXISTS (SELECT 1 FROM meeting m WHERE m.trio_id = :trio"
    "   AND outbox.dedupe_key LIKE 'out:meeting:' || m.id || ':%')"
    " OR EXISTS (SELECT 1 FROM summary s WHERE s.trio_id = :trio"
    "   AND outbox.dedupe_key LIKE 'out:summary:' || s.id || ':%')"
    " OR EXISTS (SELECT 1 FROM action a WHERE a.trio_id = :trio"
    "   AND outbox.dedupe_key LIKE 'out:action:' || a.id || ':%')"
    " OR EXISTS (SELECT 1 FROM research_reply r WHERE r.trio_id = :trio"
    "   AND outbox.dedupe_key LIKE 'out:reply:' || r.id || ':%')"
    " OR EXISTS (SELECT 1 FROM lesson_study c WHERE c.trio_id = :trio"
    "   AND (outbox.dedupe_key LIKE 'ls:' || c.id || ':%'"
    "   OR outbox.dedupe_key LIKE 'out:ls:' || c.id || ':%')))"
)
# Schedule rows for them: anything of the trio's addressed to them, a lesson-study reminder
# (`ls:<cycle>:…`), and the follow-up of an action they own (a row with no person_id: the
# action names its owner).
_CANCEL_SCHEDULED = (
    "UPDATE schedule SET status = 'cancelled', note = :reason WHERE status = 'pending' AND ("
    " (person_id = :person AND (trio_id = :trio OR EXISTS (SELECT 1 FROM lesson_study c"
    "   WHERE c.trio_id = :trio AND schedule.dedupe_key LIKE 'ls:' || c.id || ':%')))"
    " OR (kind = 'action_due' AND dedupe_key IN (SELECT 'action:' || a.id || ':due'"
    "   FROM action a WHERE a.trio_id = :trio AND a.owner_id = :person"
    "   AND a.status IN ('open', 'in_progress'))))"
)


async def leave_trio(
    tx: Transaction, person_id: int, trio_id: int, now: datetime, reason: str
) -> Left:
    """Take `person_id` out of `trio_id` (see the module's docstring); nothing if not in it."""
    is_lead = await tx.fetchval(
        "SELECT is_lead FROM trio_member WHERE trio_id = ? AND person_id = ?",
        (trio_id, person_id),
    )
    if is_lead is None:
        return Left(was_member=False)
    await tx.execute(
        "DELETE FROM trio_member WHERE trio_id = ? AND person_id = ?", (trio_id, person_id)
    )
    keys = {"trio": trio_id, "person": person_id, "reason": reason[:500]}
    messages = await tx.execute(_DROP_MESSAGES, keys)
    scheduled = await tx.execute(_CANCEL_SCHEDULED, keys)
    # Named to write a summary not yet written: the lead writes it instead. (A summary they
    # did write keeps them as its author.)
    await tx.execute(
        "UPDATE meeting SET summary_runner_id = NULL, updated_at = ? WHERE trio_id = ?"
        " AND summary_runner_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM summary s WHERE s.meeting_id = meeting.id)",
        (to_db_time(now), trio_id, person_id),
    )
    drafts = await _recheck_drafts(tx, person_id, trio_id, now)
    # A finished cycle keeps its three teachers; a running one goes on without them.
    cycles = await tx.execute(
        "DELETE FROM lesson_study_member WHERE person_id = ? AND lesson_study_id IN"
        " (SELECT id FROM lesson_study WHERE trio_id = ? AND status = 'active')",
        (person_id, trio_id),
    )
    return Left(True, bool(is_lead), messages, scheduled, drafts, cycles)


async def _recheck_drafts(tx: Transaction, person_id: int, trio_id: int, now: datetime) -> int:
    """Drafts of the trio they had not approved may now have everyone's approval."""
    rows = await tx.fetchall(
        "SELECT s.id FROM summary s WHERE s.trio_id = ? AND s.status = 'draft'"
        " AND NOT EXISTS (SELECT 1 FROM summary_approval a WHERE a.summary_id = s.id"
        "  AND a.person_id = ? AND a.revision = s.revision AND a.decision = 'approved')",
        (trio_id, person_id),
    )
    stamp = to_db_time(now)
    for row in rows:
        await ScheduleRepo.add(
            tx,
            RECHECK_KIND,
            now,
            trio_id=trio_id,
            payload={"summary": int(row[0])},
            # One per leaving: the same person may leave, come back and leave again.
            dedupe_key=f"summary:{row[0]}:recheck:{person_id}:{stamp}",
        )
    return len(rows)


async def join_trio(tx: Transaction, person_id: int, trio_id: int) -> bool:
    """Make them a (non-lead) member; False if they already were one."""
    present = await tx.fetchval(
        "SELECT 1 FROM trio_member WHERE trio_id = ? AND person_id = ?", (trio_id, person_id)
    )
    if present is not None:
        return False
    await ProgrammeRepo.add_member(tx, trio_id, person_id, lead=False)
    return True


@dataclass(frozen=True, slots=True)
class Moved:
    """What moving one person into a trio changed."""

    joined: bool
    left: tuple[tuple[TrioAt, Left], ...]

    @property
    def messages(self) -> int:
        return sum(left.messages for _, left in self.left)

    @property
    def scheduled(self) -> int:
        return sum(left.scheduled for _, left in self.left)


async def move_into(
    tx: Transaction, person_id: int, target: TrioAt, now: datetime, reason: str
) -> Moved:
    """Into `target`, out of every other trio of its kind (a teacher is in one school trio)."""
    left = [
        (trio, await leave_trio(tx, person_id, trio.id, now, reason))
        for trio in await trios_of(tx, person_id, target.kind)
        if trio.id != target.id
    ]
    return Moved(await join_trio(tx, person_id, target.id), tuple(left))


# --- who leaves ---------------------------------------------------------------------------
_LEAVER = (
    "SELECT p.id, p.ref, p.display_name, s.ref AS school_ref FROM trio_member m"
    " JOIN person p ON p.id = m.person_id LEFT JOIN school s ON s.id = p.school_id"
)


def _leavers(rows: list[sqlite3.Row]) -> list[Leaver]:
    return [Leaver(int(r["id"]), r["ref"], r["display_name"], r["school_ref"]) for r in rows]


async def members_from_schools(q: Reader, trio_id: int, school_ids: list[int]) -> list[Leaver]:
    """The trio's members whose school is one of these (schools leaving the trio)."""
    if not school_ids:
        return []
    rows = await q.fetchall(
        f"{_LEAVER} WHERE m.trio_id = ? AND p.school_id IN"  # noqa: S608
        " (SELECT CAST(value AS INTEGER) FROM json_each(?)) ORDER BY p.ref, p.id",
        (trio_id, _json_ids(school_ids)),
    )
    return _leavers(rows)


async def members_not_in(q: Reader, trio_id: int, person_ids: list[int]) -> list[Leaver]:
    """The trio's members who are not among these people (a teacher trio file's list)."""
    rows = await q.fetchall(
        f"{_LEAVER} WHERE m.trio_id = ? AND m.person_id NOT IN"  # noqa: S608
        " (SELECT CAST(value AS INTEGER) FROM json_each(?)) ORDER BY p.ref, p.id",
        (trio_id, _json_ids(person_ids)),
    )
    return _leavers(rows)


async def trios_left_by_school_move(
    q: Reader, person_id: int, old_school: int | None, new_school: int | None
) -> list[TrioAt]:
    """School trios they belong to through their old school that their new one is not in."""
    if old_school is None or old_school == new_school:
        return []
    rows = await q.fetchall(
        "SELECT t.id FROM trio_member m JOIN trio t ON t.id = m.trio_id"
        " WHERE m.person_id = ? AND t.kind = 'schools'"
        " AND EXISTS (SELECT 1 FROM trio_school ts WHERE ts.trio_id = t.id AND ts.school_id = ?)"
        " AND NOT EXISTS (SELECT 1 FROM trio_school ts WHERE ts.trio_id = t.id"
        "  AND ts.school_id IS NOT DISTINCT FROM ?) ORDER BY t.ref",
        (person_id, old_school, new_school),
    )
    found = [await trio_by_id(q, int(r[0])) for r in rows]
    return [t for t in found if t is not None]


# --- trios by reference -------------------------------------------------------------------
async def trio_by_ref(q: Reader, ref: str) -> TrioAt | None:
    row = await q.fetchone("SELECT id FROM trio WHERE ref = ?", (ref,))
    return None if row is None else await trio_by_id(q, int(row[0]))


async def trio_by_id(q: Reader, trio_id: int) -> TrioAt | None:
    row = await q.fetchone("SELECT id, ref, kind FROM trio WHERE id = ?", (trio_id,))
    if row is None:
        return None
    schools = await q.fetchall("SELECT school_id FROM trio_school WHERE trio_id = ?", (trio_id,))
    return TrioAt(row["id"], row["ref"], row["kind"], frozenset(int(s[0]) for s in schools))


async def trios_of(q: Reader, person_id: int, kind: TrioKind) -> list[TrioAt]:
    """The trios of this kind they are a member of, by reference."""
    rows = await q.fetchall(
        "SELECT t.id FROM trio_member m JOIN trio t ON t.id = m.trio_id"
        " WHERE m.person_id = ? AND t.kind = ? ORDER BY t.ref",
        (person_id, kind),
    )
    found = [await trio_by_id(q, int(r[0])) for r in rows]
    return [t for t in found if t is not None]


def _json_ids(ids: list[int]) -> str:
    return json.dumps([int(i) for i in ids])
