"""The researchers' replies a trio has not discussed yet, as its next meeting invitation lists
them and its next summary starts with them (README "The partnership loop: what the trio and
the digests show"). The replies themselves reached the members when they were sent (a voice
answer as the voice note itself): these are reminders, so texts are cut short."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.people.permissions import may
from storage.db import Reader, Transaction
from storage.questions import ReplyRepo, comment_subjects

MAX_LISTED = 3  # in an invitation; "…and N more" after them
MAX_CHARS = 200  # each question, answer or comment, cut with "…"


def short(value: Any, limit: int = MAX_CHARS) -> Any:
    """A text cut to `limit` characters; a voice note (JSON) as it is: templates say its length."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1].rstrip() + "…"
    return value


async def undiscussed(q: Reader, trio_id: int) -> list[dict[str, Any]]:
    """The trio's undiscussed replies, oldest first, as templates and the summary flow's
    context take them: `kind`, `body`, `on` (the question answered, or the focus of the work
    commented on) and `author` (None once the researcher was erased)."""
    replies = await ReplyRepo.undiscussed(q, trio_id)
    comments = any(r.kind == "comment" for r in replies)
    subjects = await comment_subjects(q, trio_id) if comments else {}
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "body": short(r.body),
            "on": short(r.question if r.kind == "answer" else subjects.get(r.id)),
            "author": r.author_name,
        }
        for r in replies
    ]


async def researcher_answers(q: Reader, trio_id: int) -> dict[str, Any]:
    """The invitation's "Answers from the researchers": the first few, and how many more."""
    items = await undiscussed(q, trio_id)
    return {"replies": items[:MAX_LISTED], "replies_more": max(0, len(items) - MAX_LISTED)}


MAX_ASKED = 5  # how many the next summary asks about; the rest wait for the one after


async def to_discuss(q: Reader, trio_id: int, writer_id: int) -> list[dict[str, Any]]:
    """The replies the summary flow asks its writer about ("Did you discuss this at the
    meeting?"): none unless the writer may see their trio's replies and mark them."""
    if not (
        await may(q, writer_id, "questions.view_answers", trio_id)
        and await may(q, writer_id, "questions.discuss", trio_id)
    ):
        return []
    return (await undiscussed(q, trio_id))[:MAX_ASKED]


async def mark_discussed(
    tx: Transaction,
    person_id: int,
    trio_id: int,
    summary_id: int,
    reply_ids: Sequence[int],
    now: datetime,
) -> list[int]:
    """The replies the writer said were discussed, marked so in the summary they wrote: only
    their own trio's, and only while they may mark them. Returns the ids marked now (one
    already marked, in another summary, stays as it was)."""
    if not await may(tx, person_id, "questions.discuss", trio_id):
        return []
    marked = []
    for reply_id in reply_ids:
        reply = await ReplyRepo.get(tx, reply_id)
        if reply is None or reply.trio_id != trio_id:
            continue
        if await ReplyRepo.mark_discussed(tx, reply_id, person_id, summary_id, now):
            marked.append(reply_id)
    return marked
