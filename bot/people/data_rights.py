"""A person's data rights: a copy of everything held about them, and erasure on request.

What is collected and what erasure does are registered in storage/personal_export.py and
storage/personal_data.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.people.permissions import allowed
from storage import personal_data, personal_export
from storage.db import Database, to_db_time
from storage.flow_states import FlowStateRepo
from storage.people import ConsentRecord, PeopleRepo, Person, Role
from storage.programme import ProgrammeRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Held:
    """What /privacy shows beside the person's own settings."""

    consent: ConsentRecord | None
    school: str | None
    trios: list[str]
    flows: int


class DataRights:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def held(self, person: Person) -> Held:
        """Their consent, school, trios and how many flows they began."""
        programme = ProgrammeRepo(self.db)
        school = await programme.school(person.school_id) if person.school_id else None
        return Held(
            consent=await PeopleRepo(self.db).consent(person.id),
            school=school.name if school else None,
            trios=[m.trio.name for m in await programme.memberships(person.id)],
            flows=await FlowStateRepo(self.db).count_for(person.id),
        )

    async def after_privacy(
        self, answers: Mapping[str, Any], person_id: int | None, roles: frozenset[Role]
    ) -> bytes | None:
        """Once the /privacy flow ends: after an erasure old copies are swept (WAL flushed,
        or VACUUM on PostgreSQL: storage/personal_data.py after_erasure); a download asked
        for is the export, for a person who may still have one."""
        if answers.get("confirm_erase") == "erase":
            await personal_data.after_erasure(self.db)
            return None
        if answers.get("consent") != "download" or person_id is None:
            return None
        if not allowed(roles, "privacy"):
            return None
        return await self.export(person_id)

    async def export(self, person_id: int) -> bytes:
        """Everything held about the person, as a JSON document (UTF-8, indented)."""
        held: dict[str, Any] = {
            "exported_at": to_db_time(self.clock()),
            **await personal_export.collect(self.db, person_id),
        }
        return json.dumps(held, ensure_ascii=False, indent=2).encode()

    async def erase(self, person_id: int) -> bool:
        """Erase one person in one transaction; False if there was no one (left) to erase."""
        async with self.db.transaction() as tx:
            done = await personal_data.erase(tx, person_id)
        if done and not await personal_data.after_erasure(self.db):
            # The words are gone from the database; SQLite's WAL still holds the old pages
            # until the next checkpoint that no reader holds up (SQLite makes one by itself),
            # PostgreSQL's dead row versions until autovacuum comes by.
            log.warning("after an erasure the old copies could not be swept yet")
        return done

    async def find(self, ref_or_telegram_id: str) -> Person | None:
        """The person with this roster reference, else with this Telegram id."""
        wanted = ref_or_telegram_id.strip()
        people = PeopleRepo(self.db)
        found = await people.by_ref(wanted)
        if found is None and wanted.lstrip("-").isdigit():
            found = await people.by_telegram_id(int(wanted))
        return found
