"""Messages for later: rendered in the reader's language, queued in the outbox with buttons.

Meetings, summaries and actions all tell people things outside a reply (invitations,
reminders, drafts to approve); this is the one way they put such a message in the outbox.
A message to a person waits for their next allowed moment (outside quiet hours, weekends,
the calendar's closures and time away) unless the caller says it cannot wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons import ButtonSigner, Tap
from bot.clock import Clock
from bot.scheduling.timing import Calendar, deferred, preferences
from bot.texts import Label, Texts, split_message
from storage.db import Transaction
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo

CalendarSource = Callable[[Transaction], Awaitable[Calendar]]

# Rows of (label, declared button) — signed here, so callers never build data by hand.
ButtonRows = Sequence[Sequence[tuple[Label, Tap]]]
# A template's values, or a function giving them for the instant the message will reach its
# reader: a reminder deferred out of a weekend says "today", not the "tomorrow" it was made as.
Values = Mapping[str, Any] | Callable[[datetime], Mapping[str, Any]]


def moment(utc: datetime, zone: str) -> dict[str, Any]:
    """A UTC instant as the pieces the `when` label shows, on the wall clock of `zone`.

    Plain values, so a flow may keep one in its context; the `when` filter (bot.texts) writes
    them in the reader's language when the message is rendered. The zone travels with them:
    a time shown to someone else is always shown with it (`when_zoned`, or "({{ when.zone }})").
    """
    local = utc.astimezone(ZoneInfo(zone))
    return {
        "wd": local.weekday(),
        "d": local.day,
        "m": local.month,
        "y": local.year,
        "hm": local.strftime("%H:%M"),
        "zone": zone,
    }


class Notices:
    def __init__(
        self,
        texts: Texts,
        signer: ButtonSigner,
        clock: Clock,
        *,
        calendar: CalendarSource | None = None,
        zone: str = "Europe/London",
    ) -> None:
        self.texts = texts
        self.signer = signer
        # The bot's clock, not the machine's: "send from now" must mean the same instant the
        # scheduler and the sender use.
        self.clock = clock
        self.calendar = calendar  # None: send at once (no calendar to respect)
        self.zone = zone

    async def when_allowed(
        self, tx: Transaction, person_id: int, earliest: datetime, latest: datetime | None
    ) -> datetime:
        """`earliest`, or the person's next allowed moment after it — unless that is later
        than `latest` (a reminder must come before its meeting, even in quiet hours)."""
        if self.calendar is None:
            return earliest
        person = await PeopleRepo.get_in(tx, person_id)
        if person is None:
            return earliest
        return await self.when_allowed_for(tx, asdict(person), earliest, latest)

    async def when_allowed_for(
        self, tx: Transaction, row: Any, earliest: datetime, latest: datetime | None
    ) -> datetime:
        """The same, for a person whose `person` row (or its columns) the caller holds."""
        if self.calendar is None:
            return earliest
        return deferred(earliest, preferences(row, self.zone), await self.calendar(tx), latest)

    def keyboard(self, lang: str, rows: ButtonRows) -> dict[str, Any] | None:
        if not rows:
            return None
        encode = self.signer.encode
        return {
            "inline_keyboard": [
                [
                    {"text": self.texts.label(lang, label), "callback_data": encode(tap)}
                    for label, tap in row
                ]
                for row in rows
            ]
        }

    async def send(
        self,
        tx: Transaction,
        chat_id: int,
        lang: str,
        template: str,
        values: Values,
        *,
        dedupe: str,
        person_id: int | None = None,
        buttons: ButtonRows = (),
        kind: str = "meeting",
        not_before: datetime | None = None,
        defer: bool = True,
        latest: datetime | None = None,
    ) -> None:
        """Queue a message (split to fit Telegram, buttons on the last part). A message to a
        person waits for a moment they may be reached (`defer`), but not past `latest`;
        values given as a function are computed for that moment."""
        now = self.clock()
        if defer and person_id is not None:
            earliest = max(not_before, now) if not_before is not None else now
            chosen = await self.when_allowed(tx, person_id, earliest, latest)
            not_before = chosen if chosen > now else not_before
        if callable(values):
            values = values(max(not_before, now) if not_before is not None else now)
        await self.queue(
            tx,
            chat_id,
            lang,
            template,
            values,
            dedupe=lambda index: dedupe if index == 0 else f"{dedupe}:{index}",
            person_id=person_id,
            buttons=buttons,
            kind=kind,
            now=now,
            not_before=not_before,
        )

    async def queue(
        self,
        tx: Transaction,
        chat_id: int,
        lang: str,
        template: str,
        values: Mapping[str, Any],
        *,
        dedupe: Callable[[int], str],
        person_id: int | None,
        buttons: ButtonRows,
        kind: str,
        now: datetime,
        not_before: datetime | None,
    ) -> None:
        """Render and queue as it stands (no deferral): split to fit Telegram, the buttons on
        the last part, each part under its own dedupe key, `dedupe(index)`."""
        text = self.texts.render(lang, template, values)
        parts = split_message(text)
        markup = self.keyboard(lang, buttons)
        for index, part in enumerate(parts):
            payload: dict[str, Any] = {"text": part}
            if markup is not None and index == len(parts) - 1:
                payload["reply_markup"] = markup
            await OutboxRepo.enqueue(
                tx,
                chat_id,
                kind,
                payload,
                now=now,
                person_id=person_id,
                not_before=not_before,
                dedupe_key=dedupe(index),
            )

    async def send_voice(
        self,
        tx: Transaction,
        chat_id: int,
        file_id: str,
        duration: int,
        *,
        dedupe: str,
        person_id: int | None = None,
        kind: str = "meeting",
    ) -> None:
        """Queue a voice note by its Telegram file id (a researcher's spoken answer), at the
        person's next allowed moment like `send`: queued after its notice, it follows it."""
        now = self.clock()
        not_before = None
        if person_id is not None:
            chosen = await self.when_allowed(tx, person_id, now, None)
            not_before = chosen if chosen > now else None
        payload = {"voice": file_id, "duration": duration}
        await OutboxRepo.enqueue(
            tx, chat_id, kind, payload, now=now, person_id=person_id, not_before=not_before,
            dedupe_key=dedupe,
        )  # fmt: skip

    async def send_file(
        self,
        tx: Transaction,
        chat_id: int,
        lang: str,
        caption_template: str,
        values: Mapping[str, Any],
        *,
        filename: str,
        content: bytes,
        dedupe: str,
        person_id: int | None = None,
    ) -> None:
        caption = self.texts.render(lang, caption_template, values)
        payload = {"text": caption, "document": {"hex": content.hex(), "filename": filename}}
        await OutboxRepo.enqueue(
            tx,
            chat_id,
            "meeting_file",
            payload,
            person_id=person_id,
            now=self.clock(),
            dedupe_key=dedupe,
        )
