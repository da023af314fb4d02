"""A message sent while a prompt waits is its answer: which prompt, and the one-tap undo.

People type under a prompt, send a voice note, or reply to it, rather than tap "Answer now"
first. The prompts that wait for an answer are the weekly reflection prompt (and its nudge),
the reflection asked of each attendee after a meeting, and a lesson's observation notes. A
Telegram reply to one of them answers that one, found by the message id the outbox recorded
when it was sent (or, for lesson notes, by the button on it); anything else answers the one
asked last. Either can be undone with one tap: a weekly prompt's answer becomes a free
reflection and the prompt waits again; a flow the message opened (the questions after a
meeting, a lesson's notes) closes, and what it said is kept as a free reflection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.buttons import LessonStudyTap
from bot.reflections.service import Reflections
from storage.flow_states import TAKEN, FlowStateRepo
from storage.meetings import MeetingRepo
from storage.outbox import OutboxRepo
from storage.reflections import ReflectionRepo

# How long after a meeting a message still counts as its reflection, unasked.
MEETING_REFLECTION_WAITS = timedelta(days=7)
# The outbox key of the question an attendee is asked after a meeting (bot/meetings/service.py).
_MEETING_ASK = re.compile(r"^out:meeting:(\d+):reflect:")
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A prompt a message answers: the flow that takes it, its context, and (for a weekly
    prompt, which can be undone) the reflection row."""

    flow: str
    context: dict[str, Any] = field(default_factory=dict)
    reflection_id: int | None = None
    question: str = ""
    asked_at: datetime | None = None


Undone = Literal["kept_free", "already", "not_yours"]


def _asks_notes(tap: object) -> bool:
    """Whether a button on the message replied to opens a lesson's observation notes."""
    return isinstance(tap, LessonStudyTap) and tap.task == "o"


# Prompts other domains ask (a lesson's observation notes): the one waiting for this person.
OtherPrompt = Callable[[int], Awaitable["Waiting | None"]]


class PromptReplies:
    def __init__(self, reflections: Reflections, notes: OtherPrompt | None = None) -> None:
        self.r = reflections
        self.notes = notes  # observation notes, from lesson study (which sits above us)

    async def waiting(
        self,
        person_id: int,
        chat_id: int,
        lang: str,
        reply_to: int | None,
        replied_buttons: Sequence[str] = (),
    ) -> Waiting | None:
        """The prompt this message answers, if one waits. A reply to one of our prompts
        answers that prompt, or nothing if it is already answered (never quietly another);
        `replied_buttons` are the callback data on the message replied to."""
        notes = None if self.notes is None else await self.notes(person_id)
        if reply_to is not None:
            asks_notes = any(_asks_notes(self.r.signer.decode(b)) for b in replied_buttons)
            if notes is not None and asks_notes:
                return notes
            reflection_id = await ReflectionRepo.prompted_by(self.r.db, chat_id, reply_to)
            if reflection_id is not None:
                return await self._weekly(person_id, reflection_id, lang)
            key = await OutboxRepo.sent_as(self.r.db, chat_id, reply_to)
            meeting = _MEETING_ASK.match(key or "")
            if meeting is not None:
                return await self._meeting(person_id, int(meeting.group(1)))
        latest = [
            w
            for w in (
                await self._latest_weekly(person_id, lang),
                await self._meeting(person_id),
                notes,
            )
            if w is not None
        ]
        latest.sort(key=lambda w: w.asked_at or _LONG_AGO)
        return latest[-1] if latest else None

    async def _latest_weekly(self, person_id: int, lang: str) -> Waiting | None:
        found = await ReflectionRepo.latest_open(self.r.db, person_id)
        if found is None:
            return None
        return await self._weekly(person_id, found.reflection_id, lang)

    async def _weekly(self, person_id: int, reflection_id: int, lang: str) -> Waiting | None:
        row = await ReflectionRepo.get(self.r.db, reflection_id)
        if row is None or row.person_id != person_id or row.status not in ("due", "delivered"):
            return None
        definition = self.r.definitions.get(row.prompt)
        if definition is None:
            return None
        question = self.r.texts.render(lang, definition.template)
        context = {"reflection_id": reflection_id, "question": question}
        return Waiting("reflection", context, reflection_id, question, row.delivered_at)

    async def _meeting(self, person_id: int, meeting_id: int | None = None) -> Waiting | None:
        # Replied to, the question is answered however long ago it was asked.
        since = _LONG_AGO if meeting_id is not None else self.r.clock() - MEETING_REFLECTION_WAITS
        found = await MeetingRepo.reflection_waiting(self.r.db, person_id, since, meeting_id)
        if found is None:
            return None
        context = {"meeting_id": found.meeting_id, "trio": found.trio_name}
        return Waiting("meeting_reflection", context, asked_at=found.asked_at)

    async def keep_opened_as_free(self, person_id: int, state_id: int) -> Undone:
        """Not an answer after all, for a flow a message opened (the questions after a
        meeting, a lesson's notes): that flow closes, and what the message said is kept as
        a free reflection. The prompt waits again, as it did before the message."""
        async with self.r.db.transaction() as tx:
            state = await FlowStateRepo.get(tx, state_id)
            if state is None or state.person_id != person_id:
                return "not_yours"
            said = state.context.get(TAKEN)
            if state.status != "open" or said is None:
                return "already"
            now = self.r.clock()
            await FlowStateRepo.close(tx, state, "discarded", now)
            await ReflectionRepo.save_free(tx, person_id, json.dumps(said, ensure_ascii=False), now)
        return "kept_free"

    async def keep_as_free(self, person_id: int, reflection_id: int) -> Undone:
        """Not an answer after all: it becomes a free reflection; the prompt waits again."""
        async with self.r.db.transaction() as tx:
            row = await ReflectionRepo.get(tx, reflection_id)
            if row is None or row.person_id != person_id:
                return "not_yours"
            if not await ReflectionRepo.as_free(tx, person_id, reflection_id, self.r.clock()):
                return "already"
        return "kept_free"
