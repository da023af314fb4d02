"""The partnership loop, researcher side: an answer or a critical-friend comment reaches the trio.

`send_reply` is the one way a researcher's words reach a trio: the reply is recorded and, in
the same transaction, queued to each current member at their next allowed moment and to the
trio's linked group. The answer and comment flows (bot/flows/partnership.py) finish here;
what /questions and /comment list is bot/summaries/partnership_views.py. "Not for me" hands a
question to the researcher or coordinator with the fewest questions routed to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.buttons import QuestionTap
from bot.clock import Clock
from bot.people.permissions import may
from bot.scheduling.notices import Notices
from bot.texts import Label
from storage.db import Database, Reader, Transaction
from storage.meetings import MeetingRepo
from storage.partnership import PartnershipRepo
from storage.people import PeopleRepo
from storage.questions import QuestionRepo, ReplyKind, ReplyRepo


@dataclass(frozen=True, slots=True)
class Sent:
    """Who a reply went to: the members it was queued for, and whether the group gets it."""

    reply_id: int
    kind: ReplyKind
    trio: str
    members: int
    group: bool


@dataclass(frozen=True, slots=True)
class Passed:
    """ "Not for me": the question went to `to` (None: back to everyone, no one else left)."""

    to: str | None


PassRefusal = Literal["not_allowed", "gone", "answered"]
JSON = Any


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a reply was not sent: the person may not, the question or work is gone (its trio
    was dissolved), or the question was answered meanwhile (`others`: those answers)."""

    why: Literal["not_allowed", "gone", "answered"]
    others: list[dict[str, Any]] | None = None


def answer_values(
    trio: str, author: str, kind: ReplyKind, body: JSON, question: JSON, about: JSON
) -> dict[str, Any]:
    """What answer_to_trio.j2 / comment_to_trio.j2 show: the preview renders the same."""
    return {"sent": {"trio": trio, "author": author, "kind": kind, "body": body,
                     "question": question, "about": about}}  # fmt: skip


class Partnership:
    def __init__(self, db: Database, notices: Notices, *, clock: Clock) -> None:
        self.db = db
        self.notices = notices
        self.clock = clock

    # --- the one way a reply reaches a trio -----------------------------------------------
    async def send_reply(
        self,
        tx: Transaction,
        *,
        kind: ReplyKind,
        author_id: int,
        trio_id: int,
        body: JSON,
        question_id: int | None = None,
        summary_id: int | None = None,
        account_id: int | None = None,
        shareable: bool = False,
    ) -> Sent:
        """Record the reply and queue it to each current member (at their allowed hours) and
        to the trio's linked group, all in `tx`."""
        now = self.clock()
        reply_id = await ReplyRepo.add(
            tx, kind=kind, trio_id=trio_id, author_id=author_id, body=body, now=now,
            question_id=question_id, summary_id=summary_id, account_id=account_id,
            shareable=shareable and kind == "answer",
        )  # fmt: skip
        reply = await ReplyRepo.get(tx, reply_id)
        assert reply is not None
        trio = await PartnershipRepo.trio_name(tx, trio_id)
        about = await self._about(tx, summary_id, account_id, question_id)
        values = answer_values(
            trio or "", reply.author_name or "?", kind, body, reply.question, about
        )
        template = f"partnership/{kind}_to_trio"
        members = await MeetingRepo.members(tx, trio_id)
        for member in members:
            key = f"out:reply:{reply_id}:{member.person_id}"
            await self.notices.send(
                tx, member.chat_id, member.language, template, values, dedupe=key,
                person_id=member.person_id, kind="partnership",
            )  # fmt: skip
            await self._voice(tx, member.chat_id, body, f"{key}:voice", member.person_id)
        group = await MeetingRepo.group_of(tx, trio_id)
        if group is not None:
            key = f"out:reply:{reply_id}:group"
            await self.notices.send(
                tx, group[0], group[1], template, values, dedupe=key, kind="partnership"
            )
            await self._voice(tx, group[0], body, f"{key}:voice", None)
        return Sent(reply_id, kind, trio or "", len(members), group is not None)

    async def _voice(
        self, tx: Transaction, chat_id: int, body: JSON, dedupe: str, person_id: int | None
    ) -> None:
        """A voice reply is sent as the voice note itself, right after its notice."""
        if isinstance(body, dict) and "voice" in body:
            await self.notices.send_voice(
                tx, chat_id, str(body["voice"]), int(body.get("duration") or 0),
                dedupe=dedupe, person_id=person_id, kind="partnership",
            )  # fmt: skip

    @staticmethod
    async def _about(
        q: Reader, summary_id: int | None, account_id: int | None, question_id: int | None
    ) -> JSON:
        """The focus of the work a reply is about, as the trio wrote it."""
        if question_id is not None:
            question = await QuestionRepo.get(q, question_id)
            return None if question is None else question.focus
        kind: Literal["summary", "account"] = "summary" if summary_id is not None else "account"
        work = await PartnershipRepo.agreed(q, kind, summary_id or account_id or 0)
        return None if work is None else work.focus

    async def last_sent(self, person_id: int) -> Sent | None:
        """What this person's latest reply went to (said once its flow finished)."""
        reply_id = await PartnershipRepo.last_reply_by(self.db, person_id)
        reply = None if reply_id is None else await ReplyRepo.get(self.db, reply_id)
        if reply is None:
            return None
        trio = await PartnershipRepo.trio_name(self.db, reply.trio_id)
        members = await MeetingRepo.members(self.db, reply.trio_id)
        group = await MeetingRepo.group_of(self.db, reply.trio_id)
        return Sent(reply.id, reply.kind, trio or "", len(members), group is not None)

    # --- the flows' ends (bot/flows/partnership.py) ------------------------------------------
    async def answer(
        self, tx: Transaction, person_id: int, question_id: int, body: JSON, *, shareable: bool
    ) -> Sent | Refused:
        """Send an answer, unless they may no longer answer, the question went with its
        trio, or someone answered it meanwhile (then their answers are shown)."""
        if not await may(tx, person_id, "questions.answer"):
            return Refused("not_allowed")
        question = await QuestionRepo.get(tx, question_id)
        if question is None:
            return Refused("gone")
        if question.status != "open":
            others = await ReplyRepo.for_question(tx, question.id)
            return Refused(
                "answered", [{"by": r.author_name or "?", "body": r.body} for r in others]
            )
        return await self.send_reply(
            tx, kind="answer", author_id=person_id, trio_id=question.trio_id, body=body,
            question_id=question.id, shareable=shareable,
        )  # fmt: skip

    async def comment(
        self,
        tx: Transaction,
        person_id: int,
        kind: Literal["summary", "account"],
        work_id: int,
        body: JSON,
    ) -> Sent | Refused:
        """Send a comment on agreed work, if it is still there (it is never changed)."""
        if not await may(tx, person_id, "questions.comment"):
            return Refused("not_allowed")
        work = await PartnershipRepo.agreed(tx, kind, work_id)
        if work is None:
            return Refused("gone")
        return await self.send_reply(
            tx, kind="comment", author_id=person_id, trio_id=work.trio_id, body=body,
            summary_id=work.id if kind == "summary" else None,
            account_id=work.id if kind == "account" else None,
        )  # fmt: skip

    # --- "Not for me" -------------------------------------------------------------------------
    async def pass_on(self, person_id: int, question_id: int) -> Passed | PassRefusal:
        """Hand the question to another researcher or coordinator, who is told (at their
        allowed hours) with an Open button; with no one left it goes back to everyone."""
        async with self.db.transaction() as tx:
            if not await may(tx, person_id, "questions.answer"):
                return "not_allowed"
            question = await QuestionRepo.get(tx, question_id)
            if question is None:
                return "gone"
            if question.status != "open":
                return "answered"
            takers = [
                t for t in await PartnershipRepo.takers(tx, question_id) if t.person_id != person_id
            ]
            taker = takers[0] if takers else None
            await QuestionRepo.pass_on(
                tx, question_id, person_id, taker.person_id if taker else None, self.clock()
            )
            if taker is None:
                return Passed(None)
            passer = await PeopleRepo.get_in(tx, person_id)
            values = {"q": {"trio": question.trio_name, "body": question.body,
                            "focus": question.focus,
                            "by": passer.display_name if passer else "?"}}  # fmt: skip
            await self.notices.send(
                tx, taker.chat_id, taker.language, "partnership/question_passed", values,
                dedupe=f"out:question:{question_id}:passed:{taker.person_id}",
                person_id=taker.person_id, kind="partnership",
                buttons=[[(Label("question_open"), QuestionTap("o", question_id))]],
            )  # fmt: skip
            return Passed(taker.name)
