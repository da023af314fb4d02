"""/digest: which digest a person gets.

A researcher or coordinator gets the researcher digest (with the exports, for whoever may
have them); a teacher or trio lead the shared one. `/digest` alone gives last week's (for
teachers, the latest archived); `/digest <week>` that week's, however it is typed (see
bot/digest/weeks.py), and this week's as it stands so far. A week with no digest (not a
week, before the programme began, not begun yet) gets `BadWeek`, never another week's digest.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Literal

from bot.digest.exports import write_xlsx
from bot.digest.render import Audience, Rendered
from bot.digest.service import Digests, Week
from bot.digest.weeks import AskedWeek, Place, WeekRange, read_week
from bot.people.permissions import allowed
from storage.digests import DigestArchive
from storage.people import Role


@dataclass(frozen=True, slots=True)
class DigestFor:
    """The digest as rendered for them, and the workbook of exports if theirs to have."""

    rendered: Rendered
    week: str
    xlsx: bytes | None
    asked: AskedWeek | None = None  # how the week they typed was read (None: not asked)
    given: str | None = None

    def caption(self, exports: bool) -> dict[str, object]:
        """The values of digest/asked_caption: the week said back if its year was guessed."""
        guessed = not exports and self.asked is not None and self.asked.year_guessed
        return {"week": self.week, "exports": exports, "guessed": guessed, "given": self.given}


@dataclass(frozen=True, slots=True)
class BadWeek:
    """What they typed names no week there is a digest of; `week` is the week it named."""

    given: str
    problem: Literal["unreadable"] | Place
    week: str | None
    weeks: WeekRange

    def values(self) -> dict[str, object]:
        """The values of digest/bad_week: what went wrong and the weeks there are."""
        weeks = {
            "first": self.weeks.first,
            "latest": self.weeks.last_complete,
            "current": self.weeks.current,
        }
        return {"given": self.given, "problem": self.problem, "week": self.week, "weeks": weeks}


async def digest_for(
    digests: Digests, roles: frozenset[Role], given: str | None, lang: str
) -> DigestFor | BadWeek | Literal["not_allowed"]:
    audience: Audience
    if allowed(roles, "digest.researcher"):
        audience = "researchers"
    elif allowed(roles, "digest.shared"):
        audience = "schools"
    else:
        return "not_allowed"
    weeks = await digests.weeks()
    asked: AskedWeek | None = None
    if given is None or not given.strip():
        week = await _latest(digests, weeks, audience)
    else:
        asked = read_week(given, weeks.current)
        if asked is None:
            return BadWeek(given, "unreadable", None, weeks)
        place = weeks.place(asked.week)
        if place != "within":
            return BadWeek(given, place, asked.week, weeks)
        week = asked.week
    found = await digests.week(week)
    rendered = await digests.render_async(found, audience, lang)
    research = audience == "researchers" and allowed(roles, "export.all")
    xlsx = await _xlsx(found) if research else None
    return DigestFor(rendered, found.compiled.week, xlsx, asked, given)


async def _latest(digests: Digests, weeks: WeekRange, audience: Audience) -> str:
    """Last week's digest (teachers: the latest the archive holds, as delivered); in the
    programme's first week, this week so far."""
    if audience == "schools":
        archived = await DigestArchive.latest_week(digests.db)
        if archived is not None:
            return archived
    return weeks.last_complete or weeks.current


async def _xlsx(week: Week) -> bytes:
    def build() -> bytes:
        out = io.BytesIO()
        write_xlsx(week.export_tables(), out)
        return out.getvalue()

    return await asyncio.to_thread(build)
