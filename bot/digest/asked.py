"""/digest: which digest a person gets. A researcher or coordinator any past week's (with the
exports, for whoever may have them); anyone else in the programme the latest one shared."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Literal

from bot.digest.compile import parse_week
from bot.digest.exports import write_xlsx
from bot.digest.render import Rendered
from bot.digest.service import Digests, Week
from bot.people.permissions import allowed
from storage.digests import DigestArchive
from storage.people import Role


@dataclass(frozen=True, slots=True)
class DigestFor:
    """The digest as rendered for them, and the workbook of exports if theirs to have."""

    rendered: Rendered
    week: str
    xlsx: bytes | None


@dataclass(frozen=True, slots=True)
class BadWeek:
    """The week asked for is not one that has passed (or is not a week)."""

    given: str
    latest: str


async def digest_for(
    digests: Digests, roles: frozenset[Role], given: str | None, lang: str
) -> DigestFor | BadWeek | Literal["not_allowed"]:
    if allowed(roles, "digest.researcher"):
        week = digests.last_week()
        if given is not None:
            try:
                week = parse_week(given)
            except ValueError:
                week = ""
            if not week or not digests.is_past(week):
                return BadWeek(given, digests.last_week())
        found = await digests.week(week)
        rendered = await digests.render_async(found, "researchers", lang)
        xlsx = await _xlsx(found) if allowed(roles, "export.all") else None
        return DigestFor(rendered, found.compiled.week, xlsx)
    if allowed(roles, "digest.shared"):
        week = await DigestArchive.latest_week(digests.db) or digests.last_week()
        found = await digests.week(week)
        rendered = await digests.render_async(found, "schools", lang)
        return DigestFor(rendered, found.compiled.week, None)
    return "not_allowed"


async def _xlsx(week: Week) -> bytes:
    def build() -> bytes:
        out = io.BytesIO()
        write_xlsx(week.export_tables(), out)
        return out.getvalue()

    return await asyncio.to_thread(build)
