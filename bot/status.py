"""The coordinator's view of the programme and a trio lead's view of their trio."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from storage.programme import Trio
from storage.status import Counts, MemberStatus, QuietTrio, StatusRepo


@dataclass(frozen=True, slots=True)
class ProgrammeStatus:
    counts: Counts
    quiet: list[QuietTrio]
    quiet_weeks: float


@dataclass(frozen=True, slots=True)
class TrioStatus:
    trio: Trio
    members: list[MemberStatus]
    # Filled in by the scheduling work: upcoming meetings and reminders for this trio, each
    # {"when": "Tue 1 Dec 16:00", "what": "..."}; the status/trio template already shows them.
    upcoming: list[dict[str, str]] = field(default_factory=list)


class Status:
    def __init__(self, repo: StatusRepo) -> None:
        self.repo = repo

    async def programme(self, now: datetime, quiet_weeks: float) -> ProgrammeStatus:
        since = now - timedelta(weeks=quiet_weeks)
        return ProgrammeStatus(
            await self.repo.counts(), await self.repo.quiet_trios(since), quiet_weeks
        )

    async def trio(self, trio: Trio) -> TrioStatus:
        return TrioStatus(trio, await self.repo.members(trio.id))


def programme_values(status: ProgrammeStatus, *, limit: int = 30) -> dict[str, Any]:
    """Template values: plain data, the quiet list cut to fit a message."""
    c = status.counts
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
            for q in status.quiet[:limit]
        ],
        "quiet_more": max(0, len(status.quiet) - limit),
    }


def trio_values(status: TrioStatus) -> dict[str, Any]:
    return {
        "trio": status.trio.name,
        "members": [
            {"name": m.name or "—", "school": m.school, "status": m.status, "lead": m.is_lead}
            for m in status.members
        ],
        "upcoming": status.upcoming,
    }
