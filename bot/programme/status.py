"""The coordinator's view of the programme and a trio lead's view of their trio."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.people.permissions import allowed
from bot.scheduling.notices import moment
from storage.people import Role
from storage.programme import ProgrammeRepo, Trio
from storage.status import Counts, MemberStatus, NotJoined, QuietTrio, StatusRepo
from storage.trio_activity import Responses, TrioActivityRepo, Upcoming


@dataclass(frozen=True, slots=True)
class ProgrammeStatus:
    """`quiet`: trios active once, then silent for `quiet_weeks`; `not_started`: trios no
    member has ever been active in (joining counts as activity)."""

    counts: Counts
    quiet: list[QuietTrio]
    quiet_weeks: float
    not_started: list[QuietTrio] = field(default_factory=list)
    not_joined: list[NotJoined] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TrioStatus:
    trio: Trio
    members: list[MemberStatus]
    # What the schedule will do next for the trio or its members, soonest first.
    upcoming: list[Upcoming] = field(default_factory=list)
    # Reflection prompts answered by the trio's members, newest period first.
    responses: list[Responses] = field(default_factory=list)


class Status:
    def __init__(self, repo: StatusRepo, activity: TrioActivityRepo | None = None) -> None:
        self.repo = repo
        self.activity = activity or TrioActivityRepo(repo.db)

    async def programme(self, now: datetime, quiet_weeks: float) -> ProgrammeStatus:
        since = now - timedelta(weeks=quiet_weeks)
        silent = await self.repo.quiet_trios(since)
        return ProgrammeStatus(
            await self.repo.counts(),
            [t for t in silent if t.last_activity is not None],
            quiet_weeks,
            [t for t in silent if t.last_activity is None],
            await self.repo.not_joined(),
        )

    async def trio(self, trio: Trio, now: datetime | None = None) -> TrioStatus:
        members = await self.repo.members(trio.id)
        if now is None:
            return TrioStatus(trio, members)
        # Internal bookkeeping (a round that fans out) is not a reminder anyone receives.
        upcoming = [
            u for u in await self.activity.upcoming(trio.id, now, 12) if u.kind in SHOWN_KINDS
        ]
        return TrioStatus(trio, members, upcoming[:6], await self.activity.responses(trio.id))

    async def shown_to(
        self, person_id: int, roles: frozenset[Role], now: datetime, quiet_weeks: float
    ) -> ProgrammeStatus | list[TrioStatus]:
        """/status: the programme for a coordinator; else the trios this person may see."""
        if allowed(roles, "status.programme"):
            return await self.programme(now, quiet_weeks)
        memberships = await ProgrammeRepo(self.repo.db).memberships(person_id)
        return [
            await self.trio(m.trio, now)
            for m in memberships
            if allowed(roles, "status.trio", trio_id=m.trio.id, memberships=memberships)
        ]


def programme_values(status: ProgrammeStatus, *, limit: int = 30) -> dict[str, Any]:
    """Template values: plain data, the quiet list cut to fit a message (the trios not
    started first: the template heads them apart by their empty `last`)."""
    c = status.counts
    silent = [*status.not_started, *status.quiet]
    return {
        "counts": {
            "schools": c.schools,
            "local_authorities": c.local_authorities,
            "trios": c.trios,
            "joined": c.joined,
            "joining": c.joining,
            "invited": c.invited,
            "failed": c.failed_deliveries,
        },
        "quiet_weeks": f"{status.quiet_weeks:g}",
        "quiet": [
            {
                "name": q.name,
                "ref": q.ref,
                "members": q.members,
                "last": q.last_activity.strftime("%Y-%m-%d") if q.last_activity else None,
            }
            for q in silent[:limit]
        ],
        "quiet_more": max(0, len(silent) - limit),
    }


# The schedule kinds a lead recognises as something their trio will receive.
SHOWN_KINDS = frozenset(
    {
        "reflection_deliver",
        "reflection_nudge",
        "meeting_reminder_day",
        "meeting_reminder_hour",
        "meeting_over",
        "action_due",
        "summary_deadline",
        "ls_remind",
        "ls_after_lesson",
    }
)


def trio_values(status: TrioStatus, zone: ZoneInfo | None = None) -> dict[str, Any]:
    return {
        "trio": status.trio.name,
        "members": [
            {"name": m.name or "—", "school": m.school, "status": m.status, "lead": m.is_lead}
            for m in status.members
        ],
        "upcoming": [
            {
                "when": moment(u.due_at, (zone or ZoneInfo("UTC")).key),
                "kind": u.kind,
                "who": u.person,
            }
            for u in status.upcoming
        ],
        "responses": [
            {
                "period": r.period,
                "asked": r.asked,
                "answered": r.answered,
                "percent": round(100 * r.answered / r.asked) if r.asked else 0,
            }
            for r in status.responses
        ],
    }
