"""/invite: which invite a person may make (any role, or teachers for the trios they lead)
and the choices its flow offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.people.permissions import allowed
from storage.db import Database
from storage.invites import InviteAdminRepo, new_code
from storage.people import Role
from storage.programme import ProgrammeRepo


@dataclass(frozen=True, slots=True)
class InviteOffer:
    """The flow that makes the invite, and its context."""

    flow: str
    context: dict[str, Any]


class Inviting:
    def __init__(self, db: Database) -> None:
        self.repo = InviteAdminRepo(db)
        self.programme = ProgrammeRepo(db)

    async def offer(
        self, person_id: int, roles: frozenset[Role], link_base: str
    ) -> InviteOffer | None:
        """The invite this person may make, or None if they may make none."""
        memberships = await self.programme.memberships(person_id)
        if allowed(roles, "invite.create"):
            flow, lead_only = "invite", False
            trios, schools = await self.repo.trio_choices(None)
        elif allowed(roles, "invite.create_for_own_trio", memberships=memberships):
            flow, lead_only = "invite_teacher", True
            led = [m.trio.id for m in memberships if m.is_lead]
            trios, schools = await self.repo.trio_choices(led)
        else:
            return None
        context = {
            "code": new_code(),
            "link_base": link_base,
            "lead_only": lead_only,
            "trios": [list(t) for t in trios],
            "trio_schools": {ref: [list(s) for s in found] for ref, found in schools.items()},
        }
        return InviteOffer(flow, context)
