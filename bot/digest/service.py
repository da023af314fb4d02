"""The digest service: compile or fetch a week from the archive, apply consent, render, export.

Consent is applied in `_week`, each time a week is read, by the policy in bot/digest/consent.py.

Used by the weekly delivery (inside the scheduler's transaction, reading through `tx`), by
/digest and by the command line (reading through the database).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from bot.clock import Clock
from bot.digest import consent
from bot.digest.compile import (
    Compiled,
    Options,
    compile_span,
    compile_week,
    figures_from_json,
    figures_json,
    last_complete_week,
    week_bounds,
)
from bot.digest.exports import long_table, participation_table
from bot.digest.render import Audience, Rendered, render
from bot.scheduling.timing import iso_week
from bot.texts import Texts
from storage import digest_sources as src
from storage.db import Database, Transaction
from storage.digests import DigestArchive, first_delivered_reflection, pseudonym_key


@dataclass(frozen=True)
class Week:
    """A compiled week with consent applied as it stands now, ready to render or export."""

    compiled: Compiled
    contributions: pd.DataFrame  # research use: only current consenters' own words
    key: bytes
    shared: pd.DataFrame  # the schools' digest: the trios' agreed work (bot/digest/consent.py)

    def export_tables(self) -> dict[str, pd.DataFrame]:
        weeks = pd.Series([self.compiled.week] * len(self.contributions), dtype="object")
        return {
            "contributions": long_table(self.contributions, self.key, weeks),
            "participation": participation_table(
                self.compiled.figure("trend_trio"), self.compiled.figure("trend_la")
            ),
        }


class Digests:
    def __init__(
        self,
        db: Database,
        texts: Texts,
        zone: ZoneInfo,
        options: Options,
        clock: Clock,
    ) -> None:
        self.db = db
        self.texts = texts
        self.zone = zone
        self.options = options
        self.clock = clock

    def last_week(self) -> str:
        return last_complete_week(self.clock(), self.zone)

    def is_past(self, week: str) -> bool:
        _, end = week_bounds(week, self.zone)
        return end <= self.clock()

    async def week(self, week: str, tx: Transaction | None = None) -> Week:
        """The week from the archive, or compiled now (and archived, once it is over)."""
        if tx is None:
            async with self.db.transaction() as own:
                return await self._week(own, week)
        return await self._week(tx, week)

    async def _week(self, tx: Transaction, week: str) -> Week:
        key = await pseudonym_key(tx)
        archived = await DigestArchive.load(tx, week)
        if archived is not None:
            compiled = Compiled(
                week,
                archived.built_at,
                src.frame(archived.contributions, src.CONTRIBUTION_COLUMNS),
                figures_from_json(archived.figures),
            )
        else:
            compiled = await compile_week(tx, week, self.zone, self.options, self.clock())
            if self.is_past(week):
                await DigestArchive.save(
                    tx, week, compiled.built_at, figures_json(compiled), _rows(compiled)
                )
        return await _with_consent(tx, compiled, key)

    async def export_everything(self) -> dict[str, pd.DataFrame]:
        """Every contribution and the participation of every week, up to the last one ended."""
        async with self.db.transaction() as tx:
            key = await pseudonym_key(tx)
            first = await first_delivered_reflection(tx)
            last = self.last_week()
            first_week = last if first is None else min(iso_week(first, self.zone), last)
            have = await src.tables(tx)
            who = await src.people(tx)
            all_trios = await src.trios(tx)
            contributions, trend_trio, trend_la = await compile_span(
                tx, first_week, last, self.zone, have, who, all_trios
            )
        contributions = consent.for_research(contributions, who)
        weeks = src.local_weeks_of_dates(contributions["date"])
        return {
            "contributions": long_table(contributions, key, weeks),
            "participation": participation_table(trend_trio, trend_la),
        }

    def render(self, week: Week, audience: Audience, lang: str) -> Rendered:
        rows = week.shared if audience == "schools" else week.contributions
        return render(week.compiled, rows, week.key, audience, lang, self.texts)

    async def render_async(self, week: Week, audience: Audience, lang: str) -> Rendered:
        """Rendering draws charts and builds HTML: off the event loop."""
        return await asyncio.to_thread(self.render, week, audience, lang)


def _rows(compiled: Compiled) -> list[tuple[object, ...]]:
    """Every contribution, consenting or not, for the archive (NULL for a missing person)."""
    table = compiled.contributions.astype(object)
    return list(table.where(table.notna(), None).itertuples(index=False, name=None))


async def _with_consent(tx: Transaction, compiled: Compiled, key: bytes) -> Week:
    """The week as each audience may see it, by consent and agreement as they stand now."""
    who = await src.people(tx)
    return Week(
        compiled,
        consent.for_research(compiled.contributions, who),
        key,
        shared=consent.for_schools(compiled.contributions, who),
    )
