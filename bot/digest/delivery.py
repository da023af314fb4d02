"""The weekly delivery: a durable schedule row that builds the week's digests and queues them.

At the programme's digest time (TRIOBOT_DIGEST_WEEKDAY, TRIOBOT_DIGEST_TIME, programme zone)
the row fires inside the scheduler's transaction: the week that just ended is compiled and
archived, each needed (audience, language) file is built once and stored, and every recipient
gets two outbox rows, the short message and the file. Dedupe keys make a second firing add
nothing; the next week's row is scheduled in the same transaction.

Each recipient's rows wait for a moment they may be reached: outside their quiet hours and time
away, on a weekday; a teacher's also not on a school closure (a researcher's university does
not close for half-term). Monday 08:00 in London is Sunday night in California.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, time, timedelta

from bot.digest.compile import monday_of, shift_week
from bot.digest.render import Audience, Rendered
from bot.digest.service import Digests
from bot.scheduling.scheduler import Fired, Kind, Late
from bot.scheduling.timing import Calendar, deferred, iso_week, local_instant, preferences
from bot.texts import Texts
from storage.db import Transaction
from storage.digests import DigestArchive, Recipient, recipients
from storage.outbox import OutboxRepo
from storage.schedule import Due, ScheduleRepo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KIND = "digest_weekly"


class DigestDelivery:
    def __init__(
        self,
        digests: Digests,
        texts: Texts,
        weekday: str,
        at: str,
        *,
        calendar: Callable[[Transaction], Awaitable[Calendar]] | None = None,
    ) -> None:
        self.digests = digests
        self.texts = texts
        self.weekday = WEEKDAYS.index(weekday)
        self.at = time.fromisoformat(at)
        self.calendar = calendar  # the schools' calendar; None: weekdays only

    def kinds(self) -> dict[str, Kind]:
        # Of several missed weeks (the bot was down), only the latest is sent: old digests
        # can still be had with /digest.
        return {KIND: Kind(self._fire, late=Late.LATEST_ONLY, series=lambda due: KIND)}

    def due_for(self, week: str) -> datetime:
        """When the digest of `week` goes out: the configured day and time the week after."""
        monday = monday_of(shift_week(week, 1))
        return local_instant(monday + timedelta(days=self.weekday), self.at, self.digests.zone)

    async def ensure(self) -> None:
        """Make sure the next delivery is scheduled (start-up; idempotent)."""
        now = self.digests.clock()
        week = shift_week(iso_week(now, self.digests.zone), -1)
        if self.due_for(week) < now:
            week = shift_week(week, 1)
        async with self.digests.db.transaction() as tx:
            await self._schedule(tx, week)

    async def _schedule(self, tx: Transaction, week: str) -> None:
        await ScheduleRepo.add(
            tx, KIND, self.due_for(week), payload={"week": week}, dedupe_key=f"digest:{week}"
        )

    async def _fire(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        week = str(due.payload["week"])
        prepared = await self.digests.week(week, tx)
        digest_id = await DigestArchive.digest_id(tx, week)
        assert digest_id is not None  # the week is over, so week() archived it
        sent = 0
        built: dict[tuple[Audience, str], tuple[Rendered, int]] = {}
        schools = await self.calendar(tx) if self.calendar is not None else Calendar()
        for who in await recipients(tx):
            audience, lang = who.audience, who.language
            calendar = Calendar() if audience == "researchers" else schools
            if (audience, lang) not in built:
                rendered = self.digests.render(prepared, audience, lang)
                file_id = await DigestArchive.store_file(
                    tx, digest_id, audience, lang, rendered.filename, rendered.html
                )
                built[(audience, lang)] = (rendered, file_id)
            rendered, file_id = built[(audience, lang)]
            not_before = self._when_allowed(who, calendar, now)
            await self._queue(
                tx, rendered, file_id, who.person_id, who.chat_id, lang, now, not_before
            )
            sent += 1
        await self._schedule(tx, shift_week(week, 1))
        return Fired(note=f"{week}: {sent} recipients")

    def _when_allowed(self, who: Recipient, calendar: Calendar, now: datetime) -> datetime | None:
        """None (send now) or the recipient's next allowed moment."""
        when = deferred(now, preferences(asdict(who), str(self.digests.zone)), calendar)
        return None if when == now else when

    async def _queue(
        self,
        tx: Transaction,
        rendered: Rendered,
        file_id: int,
        person_id: int,
        chat_id: int,
        lang: str,
        now: datetime,
        not_before: datetime | None,
    ) -> None:
        key = f"digest:{rendered.week}:{person_id}"
        for index, part in enumerate(rendered.message):
            await OutboxRepo.enqueue(
                tx,
                chat_id,
                "digest",
                {"text": part},
                now=now,
                person_id=person_id,
                not_before=not_before,
                dedupe_key=f"{key}:m{index}",
            )
        caption = self.texts.render(
            lang, "digest/caption", {"week": rendered.week, "exports": False}
        )
        document = {"stored": file_id, "filename": rendered.filename}
        await OutboxRepo.enqueue(
            tx,
            chat_id,
            "digest",
            {"text": caption, "document": document},
            now=now,
            person_id=person_id,
            not_before=not_before,
            dedupe_key=f"{key}:file",
        )
