"""Messages to a cycle's members: the programme's notices, addressed by cycle membership."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.buttons import LessonStudyTap
from bot.scheduling.notices import Notices as ProgrammeNotices
from bot.scheduling.notices import Values
from bot.texts import Label
from storage.db import Transaction
from storage.lesson_study import Member

# A button on a notice: its label and what a tap means (signed into its callback data).
NoticeButton = tuple[Label, LessonStudyTap]


class Notices:
    def __init__(self, notices: ProgrammeNotices) -> None:
        self.notices = notices

    async def send(
        self,
        tx: Transaction,
        member: Member,
        template: str,
        values: Values,
        *,
        now: datetime,
        key: str,
        buttons: Sequence[NoticeButton] = (),
        defer: bool = True,
        latest: datetime | None = None,
    ) -> bool:
        """Queue `template` for `member`, once per `key`. With `defer`, outside their quiet
        hours, weekends, holidays and time away — but never later than `latest`. Values
        given as a function are computed for the moment it will be delivered."""
        chat_id = member.chat_id
        if chat_id is None or member.status != "active":
            return False
        not_before = now
        if defer:
            not_before = await self.notices.when_allowed_for(tx, member.row, now, latest)
        if callable(values):
            values = values(not_before)
        await self.notices.queue(
            tx,
            chat_id,
            member.language,
            template,
            values,
            dedupe=lambda index: f"{key}:{member.person_id}:{index}",
            person_id=member.person_id,
            buttons=[[button] for button in buttons],  # one button a row, as on the card
            kind="lesson_study",
            now=now,
            not_before=not_before,
        )
        return True
