"""The weekly delivery: a durable schedule row that builds the week's digests and queues them.

At the programme's digest time (TRIOBOT_DIGEST_WEEKDAY, TRIOBOT_DIGEST_TIME, programme zone)
the row fires inside the scheduler's transaction: the week that just ended is compiled and
archived, each needed (audience, language) file is built once and stored, and every recipient
gets two outbox rows, the short message (headlines: bot/digest/message.py) and the file.
Dedupe keys make a second firing add nothing; the next week's row is scheduled in the same
transaction.

Who: researchers get the researcher digest; teachers and trio leads the shared one unless they
turned it off in /settings (anyone else who turned it on, too: storage/digests.py
`recipients`); and each linked trio group gets the shared one in the group's language.
Nothing new, nothing sent: a week without agreed trio work queues no shared digest at all,
and a week in which nothing happened (no prompt delivered, no meeting, nothing written) no
researcher digest either.

Each person's rows wait for a moment they may be reached: outside their quiet hours and time
away, on a weekday; a teacher's also not on a school closure (a researcher's university does
not close for half-term). Monday 08:00 in London is Sunday night in California. A group's
rows go at the digest time; the outbox keeps to Telegram's pace for groups and follows a
group that became a supergroup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict
from datetime import datetime, time, timedelta

from bot.digest.compile import monday_of, shift_week
from bot.digest.render import Audience, Rendered
from bot.digest.service import Digests, Week
from bot.scheduling.scheduler import Fired, Kind, Late
from bot.scheduling.timing import Calendar, deferred, iso_week, local_instant, preferences
from bot.texts import Texts
from storage.db import Transaction
from storage.digests import (
    DIGEST_BY_DEFAULT,
    DigestArchive,
    Recipient,
    group_recipients,
    recipients,
)
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
        news = {"schools": has_shared_news(prepared), "researchers": has_activity(prepared)}
        built: dict[tuple[Audience, str], tuple[Rendered, int]] = {}

        async def digest(audience: Audience, lang: str) -> tuple[Rendered, int]:
            if (audience, lang) not in built:
                rendered = self.digests.render(prepared, audience, lang)
                file_id = await DigestArchive.store_file(
                    tx, digest_id, audience, lang, rendered.filename, rendered.html
                )
                built[(audience, lang)] = (rendered, file_id)
            return built[(audience, lang)]

        people = groups = 0
        schools = await self.calendar(tx) if self.calendar is not None else Calendar()
        for who in await recipients(tx):
            if not news[who.audience]:
                continue
            calendar = Calendar() if who.audience == "researchers" else schools
            rendered, file_id = await digest(who.audience, who.language)
            not_before = self._when_allowed(who, calendar, now)
            await self._queue(
                tx, rendered, file_id, f"{who.person_id}", who.chat_id, who.person_id,
                who.language, now, not_before,
            )  # fmt: skip
            people += 1
        if news["schools"]:
            # Each linked trio group, at the digest time itself (a group has no quiet hours;
            # the sender keeps to Telegram's pace for groups).
            for group in await group_recipients(tx):
                rendered, file_id = await digest("schools", group.language)
                await self._queue(
                    tx, rendered, file_id, f"trio{group.trio_id}", group.chat_id, None,
                    group.language, now, None,
                )  # fmt: skip
                groups += 1
        await self._schedule(tx, shift_week(week, 1))
        quiet = "" if news["schools"] else "; no agreed trio work: no shared digest"
        return Fired(note=f"{week}: {people} people, {groups} groups{quiet}")

    def _when_allowed(self, who: Recipient, calendar: Calendar, now: datetime) -> datetime | None:
        """None (send now) or the recipient's next allowed moment."""
        when = deferred(now, preferences(asdict(who), str(self.digests.zone)), calendar)
        return None if when == now else when

    async def _queue(
        self,
        tx: Transaction,
        rendered: Rendered,
        file_id: int,
        reader: str,
        chat_id: int,
        person_id: int | None,
        lang: str,
        now: datetime,
        not_before: datetime | None,
    ) -> None:
        key = f"digest:{rendered.week}:{reader}"
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


def wants_shared_digest(choice: bool | None, roles: Iterable[str]) -> bool:
    """Whether a person gets the shared digest: their own choice in /settings, or, if they
    never chose, whether one of their roles has it by default (teachers and trio leads)."""
    return choice if choice is not None else any(r in DIGEST_BY_DEFAULT for r in roles)


def has_shared_news(week: Week) -> bool:
    """Whether the schools' digest has anything to tell: agreed work of some trio this week.
    Without it no shared digest is queued at all, to people or to groups."""
    work = week.shared  # the trios' agreed work, by trio agreement (bot/digest/consent.py)
    return bool(work["trio"].notna().any())


def has_activity(week: Week) -> bool:
    """Whether anything happened that the researcher digest reports: a prompt delivered, a
    meeting scheduled or anything written. A week with none (a holiday) sends nothing; any
    other week goes to researchers, its participation figures being news in themselves."""
    by_trio = week.compiled.figure("by_trio")
    happened = int(by_trio["delivered"].sum()) + int(by_trio["meetings_scheduled"].sum())
    return happened > 0 or not week.contributions.empty or not week.shared.empty
