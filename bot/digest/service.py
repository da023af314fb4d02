"""The digest service: compile or fetch a week from the archive, apply consent, render, export.

Consent is applied in `_week`, each time a week is read, by the policy in bot/digest/consent.py.

Used by the weekly delivery (inside the scheduler's transaction, reading through `tx`), by
/digest and by the command line (reading through the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from bot import collector
from bot.clock import Clock
from bot.digest import consent, question_tables, questions, research_tables
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
from bot.digest.render import Audience, Owner, Rendered, render
from bot.digest.weeks import WeekRange
from bot.scheduling.notices import moment
from bot.scheduling.timing import iso_week
from bot.texts import Texts
from storage import digest_sources as src
from storage.db import Database, Transaction
from storage.digests import (
    DigestArchive,
    first_delivered_reflection,
    programme_began,
    pseudonym_key,
)
from storage.research_exports import first_recorded


@dataclass(frozen=True)
class Week:
    """A compiled week with consent applied as it stands now, ready to render or export."""

    compiled: Compiled
    contributions: pd.DataFrame  # research use: only current consenters' own words
    key: bytes
    shared: pd.DataFrame  # the schools' digest: the trios' agreed work (bot/digest/consent.py)
    # Until the week ends, the instant it was compiled: the digest is the week so far (and
    # is never archived). None for a week that is over.
    partial_to: datetime | None = None
    # Action owners as they are now (name, research consent): read live, never archived.
    owners: Mapping[int, Owner] = field(default_factory=dict)
    research: research_tables.Research | None = None  # the exports' other tables' sources

    def export_tables(self) -> dict[str, pd.DataFrame]:
        weeks = pd.Series([self.compiled.week] * len(self.contributions), dtype="object")
        return _export_tables(self.contributions, weeks, self.compiled, self.key, self.research)


def _export_tables(
    contributions: pd.DataFrame,
    weeks: pd.Series,
    compiled: Compiled,
    key: bytes,
    research: research_tables.Research | None,
) -> dict[str, pd.DataFrame]:
    """Every export table (README "Data dictionary"), the current week's rows marked partial."""
    consenting = research.consenting if research else frozenset(contributions["person_id"])
    current = research.current_week if research else None
    tables = {
        "contributions": long_table(contributions, key, weeks, consenting, current),
        "participation": participation_table(
            compiled.figure("trend_trio"), compiled.figure("trend_la"), current
        ),
    }
    if research is None:
        return tables
    return tables | research.tables(key) | question_tables.tables(research, key)


async def _owners(
    tx: Transaction, contributions: pd.DataFrame, consenting: frozenset[int]
) -> dict[int, Owner]:
    """The people the week's actions are given to (tag owner_id=N): their names now and
    whether their research consent is current."""
    actions = contributions.loc[contributions["kind"] == "action", "tags"]
    found = {int(x) for x in actions.str.extract(r"(?:^|;)owner_id=(\d+)", expand=False).dropna()}
    names = await src.display_names(tx, sorted(found))
    return {i: Owner(names.get(i), i in consenting) for i in found}


def _freeze_startup_objects() -> None:
    """Move every object alive now (the interpreter's, pandas', matplotlib's: ~105,000 at
    start-up) out of the cyclic collector's view. A full collection walks every tracked
    object; a week's build allocates enough to trigger two or three, each of which spent
    60–70 ms walking these long-lived objects (issue 22; bot/collector.py). Called when
    the service is made, as the process is wired, not while it serves."""
    collector.freeze_startup()


class Digests:
    def __init__(
        self,
        db: Database,
        texts: Texts,
        zone: ZoneInfo,
        options: Options,
        clock: Clock,
    ) -> None:
        _freeze_startup_objects()
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

    async def weeks(self) -> WeekRange:
        """The weeks there is a digest for: from the programme's first to this one."""
        current = iso_week(self.clock(), self.zone)
        began = await programme_began(self.db)
        first = current if began is None else min(iso_week(began, self.zone), current)
        return WeekRange(first, current)

    def _partial_to(self, compiled: Compiled) -> datetime | None:
        return None if self.is_past(compiled.week) else compiled.built_at

    def _so_far(self, week: Week) -> dict[str, Any] | None:
        """The week-to-date marker's instant, on the programme's wall clock."""
        return None if week.partial_to is None else moment(week.partial_to, self.zone.key)

    async def week(self, week: str, tx: Transaction | None = None) -> Week:
        """The week from the archive, or compiled now (and archived, once it is over)."""
        if tx is None:
            async with self.db.transaction() as own:
                return await self._week(own, week)
        return await self._week(tx, week)

    async def _week(self, tx: Transaction, week: str) -> Week:
        key = await pseudonym_key(tx)
        archived = await DigestArchive.load(tx, week)
        who = await src.people(tx)  # read once: compiling needs them too
        if archived is not None:
            compiled = Compiled(
                week,
                archived.built_at,
                src.frame(archived.contributions, src.CONTRIBUTION_COLUMNS),
                figures_from_json(archived.figures),
            )
        else:
            compiled = await compile_week(tx, week, self.zone, self.options, self.clock(), who=who)
            if self.is_past(week):
                await DigestArchive.save(
                    tx, week, compiled.built_at, figures_json(compiled), _rows(compiled)
                )
        consenting = consent.consenting_ids(who)
        return Week(
            compiled,
            consent.for_research(compiled.contributions, who),
            key,
            shared=consent.for_schools(compiled.contributions, who),
            partial_to=self._partial_to(compiled),
            owners=await _owners(tx, compiled.contributions, consenting),
            research=await self._research(tx, week, week, consenting),
        )

    async def _research(
        self, tx: Transaction, first: str, last: str, consenting: frozenset[int]
    ) -> research_tables.Research:
        """The other export tables' sources for weeks first..last; `last` is partial when
        it has not ended yet."""
        start, _ = week_bounds(first, self.zone)
        _, end = week_bounds(last, self.zone)
        current = None if self.is_past(last) else last
        return await research_tables.read(tx, start, end, self.zone, consenting, current)

    async def export_everything(self) -> dict[str, pd.DataFrame]:
        """Every week from the first contribution to the current one (its rows partial):
        contributions, participation and the other research tables."""
        async with self.db.transaction() as tx:
            key = await pseudonym_key(tx)
            have = await src.tables(tx)
            firsts = [await first_delivered_reflection(tx), await first_recorded(tx, have)]
            last = iso_week(self.clock(), self.zone)
            began = [iso_week(first, self.zone) for first in firsts if first is not None]
            first_week = min([*began, last])
            who = await src.people(tx)
            all_trios = await src.trios(tx)
            contributions, trend_trio, trend_la = await compile_span(
                tx, first_week, last, self.zone, have, who, all_trios
            )
            research = await self._research(tx, first_week, last, consent.consenting_ids(who))
        contributions = consent.for_research(contributions, who)
        weeks = src.local_weeks_of_dates(contributions["date"])
        figures = {"trend_trio": trend_trio, "trend_la": trend_la}
        span = Compiled(last, self.clock(), contributions, figures)
        return _export_tables(contributions, weeks, span, key, research)

    def render(self, week: Week, audience: Audience, lang: str) -> Rendered:
        rows = week.shared if audience == "schools" else week.contributions
        return render(
            week.compiled,
            rows,
            week.key,
            audience,
            lang,
            self.texts,
            partial_to=self._so_far(week),
            owners=week.owners,
            partnership=questions.digest_values(week.research, audience, week.partial_to),
        )

    async def render_async(self, week: Week, audience: Audience, lang: str) -> Rendered:
        """Rendering draws charts and builds HTML: off the event loop."""
        return await asyncio.to_thread(self.render, week, audience, lang)


def _rows(compiled: Compiled) -> list[tuple[object, ...]]:
    """Every contribution, consenting or not, for the archive (NULL for a missing person)."""
    table = compiled.contributions.astype(object)
    return list(table.where(table.notna(), None).itertuples(index=False, name=None))
