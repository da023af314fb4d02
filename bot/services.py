"""What handlers use, built once in post_init and kept as the Application's bot_data."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.config import Settings
from bot.flows.buttons import ButtonSigner
from bot.flows.catalogue import build_registry
from bot.flows.engine import FlowEngine
from bot.flows.model import Flow
from bot.joining import Joining
from bot.texts import Texts
from storage.db import Database, utcnow
from storage.flow_states import FlowStateRepo
from storage.invites import InviteRepo
from storage.people import PeopleRepo
from storage.programme import ProgrammeRepo


async def button_key(db: Database) -> bytes:
    """The key that signs button data: made once, kept in the database across restarts."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('button_key', ?)",
            (secrets.token_bytes(32),),
        )
        key = await tx.fetchval("SELECT value FROM meta WHERE key = 'button_key'")
    return bytes(key)


class Services:
    """Filled in by `start`; handlers reach it as `context.bot_data`."""

    settings: Settings
    db: Database
    texts: Texts
    engine: FlowEngine
    people: PeopleRepo
    programme: ProgrammeRepo
    invites: InviteRepo
    flow_states: FlowStateRepo
    joining: Joining
    clock: Callable[[], datetime]

    async def start(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        extra_flows: tuple[Flow, ...] = (),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = await Database.open(settings.db_path)
        self.texts = Texts()
        self.people = PeopleRepo(self.db)
        self.programme = ProgrammeRepo(self.db)
        self.invites = InviteRepo(self.db)
        self.flow_states = FlowStateRepo(self.db)
        self.joining = Joining(self.db)
        self.engine = FlowEngine(
            self.db,
            build_registry(settings, extra_flows),
            ButtonSigner(await button_key(self.db)),
            expiry=settings.flow_expiry,
            resume_after=settings.flow_resume_after,
            clock=clock,
        )

    async def stop(self) -> None:
        if hasattr(self, "db"):
            await self.db.close()


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], Services]
