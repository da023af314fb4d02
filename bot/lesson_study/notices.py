"""Messages to a cycle's members through the outbox, with signed buttons and quiet hours."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from bot.flows.answers import Label
from bot.flows.buttons import ButtonSigner
from bot.scheduling.timing import Calendar, deferred, preferences
from bot.texts import Texts, split_message
from storage.db import Transaction
from storage.lesson_study import Member
from storage.outbox import OutboxRepo

# A button on a notice: its label and the fields signed into its callback data.
NoticeButton = tuple[Label, tuple[str | int, ...]]
CalendarSource = Callable[[Transaction], Awaitable[Calendar]]


class Notices:
    def __init__(
        self, texts: Texts, signer: ButtonSigner, calendar: CalendarSource, zone: str
    ) -> None:
        self.texts = texts
        self.signer = signer
        self.calendar = calendar
        self.zone = zone

    def keyboard(self, lang: str, buttons: Sequence[NoticeButton]) -> dict[str, Any] | None:
        if not buttons:
            return None
        rows = [
            [{"text": self.texts.label(lang, label), "callback_data": self.signer.sign(*fields)}]
            for label, fields in buttons
        ]
        return {"inline_keyboard": rows}

    async def send(
        self,
        tx: Transaction,
        member: Member,
        template: str,
        values: dict[str, Any],
        *,
        now: datetime,
        key: str,
        buttons: Sequence[NoticeButton] = (),
        defer: bool = True,
        latest: datetime | None = None,
    ) -> bool:
        """Queue `template` for `member`, once per `key`. With `defer`, outside their quiet
        hours, weekends, holidays and time away — but never later than `latest`."""
        if member.chat_id is None or member.status != "active":
            return False
        not_before = now
        if defer:
            prefs = preferences(member.row, self.zone)
            not_before = deferred(now, prefs, await self.calendar(tx), latest)
        text = self.texts.render(member.language, template, values)
        parts = split_message(text)
        for index, part in enumerate(parts):
            payload: dict[str, Any] = {"text": part}
            markup = self.keyboard(member.language, buttons) if index == len(parts) - 1 else None
            if markup is not None:
                payload["reply_markup"] = markup
            await OutboxRepo.enqueue(
                tx,
                member.chat_id,
                "lesson_study",
                payload,
                now=now,
                person_id=member.person_id,
                not_before=not_before,
                dedupe_key=f"{key}:{member.person_id}:{index}",
            )
        return True
