"""Redeeming an invite: who a newcomer is, fixed by the code they were given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.people.catch_up import CatchUp
from bot.people.permissions import commands
from storage.db import Database
from storage.invites import InviteProblem, InviteRepo
from storage.people import PeopleRepo, Person, PersonStatus, Role
from storage.programme import ProgrammeRepo


@dataclass(frozen=True, slots=True)
class Joined:
    person_id: int
    context: dict[str, Any]  # what the onboarding flow shows: role, school, trio


@dataclass(frozen=True, slots=True)
class Refused:
    problem: InviteProblem


class Joining:
    def __init__(self, db: Database, clock: Clock, catch_up: CatchUp | None = None) -> None:
        self.db = db
        self.clock = clock
        # What a trio was told before this person joined it (invitations, open prompts).
        self.catch_up = catch_up or CatchUp()
        self.invites = InviteRepo(db)
        self.programme = ProgrammeRepo(db)

    async def person(self, telegram_id: int) -> tuple[Person, frozenset[Role]] | None:
        """Who writes from this Telegram account: None for a stranger or someone erased
        (nothing is stored about them). Someone marked blocked wrote to us, so they unblocked
        the bot: they are active again (or joining, if they had not finished)."""
        people = PeopleRepo(self.db)
        found = await people.with_roles(telegram_id)
        if found is None or found[0].status == "erased":
            return None
        person, roles = found
        if person.status == "blocked":
            status: PersonStatus = "active" if person.onboarded else "joining"
            async with self.db.transaction() as tx:
                await PeopleRepo.set_status(tx, person.id, status)
            person = await people.get(person.id) or person
        return person, roles

    async def onboarding_context(
        self, person: Person, roles: frozenset[Role], telegram_name: str, language: str
    ) -> dict[str, Any]:
        """What the onboarding flow shows someone who is joining and starts again: their
        role (the one beyond teacher, if any), school and trio."""
        memberships = await self.programme.memberships(person.id)
        school = await self.programme.school(person.school_id) if person.school_id else None
        shown = sorted(roles - {"teacher"}) or ["teacher"]
        return {
            "role": shown[0],
            "school": school.name if school else None,
            "trio": memberships[0].trio.name if memberships else None,
            "telegram_name": telegram_name,
            "language": language,
            "commands": list(await self.commands(person.id)),
        }

    async def commands(self, person_id: int) -> dict[str, str]:
        """The commands this person may use, for /help, the welcome and their menu: each
        with the key of the label describing it for them."""
        return commands(await PeopleRepo.grants(self.db, person_id))

    async def redeem(
        self, code: str, *, telegram_id: int, telegram_name: str, language_code: str | None
    ) -> Joined | Refused:
        """Create (or bind) the person the code is for, count the use, join their trio.

        All in one transaction: a code that runs out at the same moment is refused whole.
        What the trio was already told is queued for them in it too (a newcomer, who is not
        active yet, has it queued when they finish joining).
        """
        code = InviteRepo.normalise(code)
        async with self.db.transaction() as tx:
            invite = await InviteRepo.get_in(tx, code)
            if invite is None:
                return Refused("unknown")
            existing = await PeopleRepo.by_telegram_id_in(tx, telegram_id)
            problem = invite.problem(self.clock())
            if problem is not None:
                return Refused(problem)
            if existing is not None:
                person_id = existing.id
                await PeopleRepo.add_role(tx, person_id, invite.role)
            elif invite.person_id is not None:
                # A personal invite for someone the coordinator pre-registered.
                person_id = invite.person_id
                invited = await PeopleRepo.get_in(tx, person_id)
                taken = None if invited is None else invited.telegram_id
                if taken is not None and taken != telegram_id:
                    return Refused("used_up")
                await PeopleRepo.update(tx, person_id, telegram_id=telegram_id, status="joining")
                await PeopleRepo.add_role(tx, person_id, invite.role)
            else:
                person_id = await PeopleRepo.create(
                    tx, telegram_id=telegram_id, school_id=invite.school_id, role=invite.role
                )
            if not await InviteRepo.claim(tx, code, person_id):
                return Refused("used_up")
            if invite.school_id is not None:
                await PeopleRepo.update(tx, person_id, school_id=invite.school_id)
            if invite.trio_id is not None:
                lead = invite.role == "trio_lead"
                await ProgrammeRepo.add_member(tx, invite.trio_id, person_id, lead=lead)
                if lead:
                    await PeopleRepo.add_role(tx, person_id, "teacher")
            school = (
                await ProgrammeRepo.school_name(tx, invite.school_id)
                if invite.school_id is not None
                else None
            )
            trio = (
                await ProgrammeRepo.trio_name(tx, invite.trio_id)
                if invite.trio_id is not None
                else None
            )
            # Someone already active joins at once; a newcomer when they finish joining.
            await self.catch_up(tx, person_id)
            usable = list(commands(await PeopleRepo.grants(tx, person_id)))
        context = {
            "role": invite.role,
            "school": school,
            "trio": trio,
            "telegram_name": telegram_name,
            "language": (language_code or "en").split("-")[0],
            "commands": usable,
        }
        return Joined(person_id, context)
