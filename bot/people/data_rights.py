"""A person's data rights: a copy of everything held about them, and erasure on request.

What is collected and what erasure does are registered in storage/personal_export.py and
storage/personal_data.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from storage import personal_data, personal_export
from storage.db import Database, to_db_time, utcnow
from storage.people import PeopleRepo, Person

log = logging.getLogger(__name__)


class DataRights:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def export(self, person_id: int) -> bytes:
        """Everything held about the person, as a JSON document (UTF-8, indented)."""
        held: dict[str, Any] = {
            "exported_at": to_db_time(utcnow()),
            **await personal_export.collect(self.db, person_id),
        }
        return json.dumps(held, ensure_ascii=False, indent=2).encode()

    async def erase(self, person_id: int) -> bool:
        """Erase one person in one transaction; False if there was no one (left) to erase."""
        async with self.db.transaction() as tx:
            done = await personal_data.erase(tx, person_id)
        if done and not await self.db.checkpoint():
            # The words are gone from the database; the WAL still holds the old pages until
            # the next checkpoint that no reader holds up (SQLite makes one by itself).
            log.warning("after an erasure the write-ahead log could not be emptied yet")
        return done

    async def find(self, ref_or_telegram_id: str) -> Person | None:
        """The person with this roster reference, else with this Telegram id."""
        wanted = ref_or_telegram_id.strip()
        people = PeopleRepo(self.db)
        found = await people.by_ref(wanted)
        if found is None and wanted.lstrip("-").isdigit():
            found = await people.by_telegram_id(int(wanted))
        return found
