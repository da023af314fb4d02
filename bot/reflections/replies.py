"""A message sent while a prompt waits is its answer: which prompt, and the one-tap undo.

People type under a prompt, send a voice note, or reply to it, rather than tap "Answer now"
first. A Telegram reply to a prompt (or its nudge) answers that prompt, found by the message
id the outbox recorded when it was sent; anything else answers the latest prompt still
waiting. If it was not meant as an answer, one tap moves it to a free reflection and the
prompt waits again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.reflections.service import Reflections
from storage.reflections import ReflectionRepo


@dataclass(frozen=True, slots=True)
class Waiting:
    """A prompt a message answers: the reflection row, and the question in their language."""

    reflection_id: int
    question: str


Undone = Literal["kept_free", "already", "not_yours"]


class PromptReplies:
    def __init__(self, reflections: Reflections) -> None:
        self.r = reflections

    async def waiting(
        self, person_id: int, chat_id: int, lang: str, reply_to: int | None
    ) -> Waiting | None:
        """The prompt this message answers, if one waits; a reply to a prompt already
        answered or skipped answers nothing (it is not quietly taken for another one)."""
        r = self.r
        if reply_to is not None:
            reflection_id = await ReflectionRepo.prompted_by(r.db, chat_id, reply_to)
            if reflection_id is not None:
                return await self._open(person_id, reflection_id, lang)
        found = await ReflectionRepo.latest_open(r.db, person_id)
        if found is None or found.prompt not in r.definitions:
            return None
        question = r.texts.render(lang, r.definitions[found.prompt].template)
        return Waiting(found.reflection_id, question)

    async def _open(self, person_id: int, reflection_id: int, lang: str) -> Waiting | None:
        row = await ReflectionRepo.get(self.r.db, reflection_id)
        if row is None or row.person_id != person_id or row.status not in ("due", "delivered"):
            return None
        definition = self.r.definitions.get(row.prompt)
        if definition is None:
            return None
        return Waiting(reflection_id, self.r.texts.render(lang, definition.template))

    async def keep_as_free(self, person_id: int, reflection_id: int) -> Undone:
        """Not an answer after all: it becomes a free reflection; the prompt waits again."""
        async with self.r.db.transaction() as tx:
            row = await ReflectionRepo.get(tx, reflection_id)
            if row is None or row.person_id != person_id:
                return "not_yours"
            if not await ReflectionRepo.as_free(tx, person_id, reflection_id, self.r.clock()):
                return "already"
        return "kept_free"
