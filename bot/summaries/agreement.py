"""A summary's way to agreement: drafted, circulated, approved or changed, then agreed.

Agreed when every member (as the trio stands at that moment) approved the current revision,
or — once the deadline has passed — when the trio's lead confirms it with the approvals so far.
A suggestion goes to the author; an edit re-circulates a new revision and approvals start
again. Every decision is checked against the stored summary, its revision and the permission
table inside one transaction; button data only says which summary was meant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from bot.buttons import SummaryTap
from bot.clock import Clock
from bot.meetings.service import action_view
from bot.people.permissions import may
from bot.scheduling.notices import Notices
from bot.scheduling.scheduler import Fired, Kind
from bot.summaries.actions import ActionFollowUp
from bot.summaries.attribution import action_school, barrier_school
from bot.summaries.revision import Marks, Revision, edit_context, ordered
from bot.texts import Label
from storage.db import Database, Reader, Transaction
from storage.meetings import MeetingRepo
from storage.questions import QuestionRepo
from storage.schedule import Due, ScheduleRepo
from storage.summaries import ACTION_STATUSES, Summary, SummaryRepo
from storage.trio_membership import RECHECK_KIND

Decision = Literal["approved", "agreed", "stale", "not_yours", "gone", "too_early"]
NO_ACTIONS = "__none__"
MORE_DONE = "__done__"
WHOLE_TRIO = "trio"


class Agreement:
    def __init__(
        self,
        db: Database,
        notices: Notices,
        follow_up: ActionFollowUp,
        *,
        agree_within: timedelta,
        clock: Clock,
    ) -> None:
        self.db = db
        self.notices = notices
        self.follow_up = follow_up
        self.agree_within = agree_within
        self.clock = clock
        self.revision = Revision(follow_up)

    def kinds(self) -> dict[str, Kind]:
        return {"summary_deadline": Kind(self._deadline), RECHECK_KIND: Kind(self._recheck)}

    # --- writing ---------------------------------------------------------------------------
    async def save_draft(
        self, tx: Transaction, author_id: int, ctx: dict[str, Any], answers: dict[str, Any]
    ) -> int:
        """Store what the summary flow collected and circulate it for agreement."""
        now = self.clock()
        meeting_id, trio_id = int(ctx["meeting_id"]), int(ctx["trio_id"])
        no_actions = answers.get("action_0_what") == NO_ACTIONS
        previous = await SummaryRepo.for_meeting(tx, meeting_id)
        if previous is not None:  # written again: the old actions and their reminders go
            await ActionFollowUp.disarm(tx, previous.id)
        summary_id = await SummaryRepo.create(
            tx,
            meeting_id=meeting_id,
            trio_id=trio_id,
            author_id=author_id,
            focus=answers["focus"],
            no_actions=no_actions,
            agree_by=now + self.agree_within,
            now=now,
        )
        trio_schools = [int(school_id) for school_id, _ in ctx.get("schools", [])]
        schools_of = {m.person_id: m.school_id for m in await MeetingRepo.members(tx, trio_id)}
        writer_school = schools_of.get(author_id)
        for i, school_id in enumerate(trio_schools):
            if answers.get(f"shared_{i}") is not None:
                body = answers[f"shared_{i}"]
                await SummaryRepo.add_item(tx, summary_id, "shared", body, school_id=school_id)
        for kind, key in (("evidence", "evidence"), ("question", "questions"), ("other", "other")):
            if answers.get(key) is not None:
                await SummaryRepo.add_item(
                    tx, summary_id, kind, answers[key], school_id=writer_school
                )
        i = 0
        while answers.get(f"barrier_{i}") is not None and answers.get(f"level_{i}"):
            await SummaryRepo.add_item(
                tx,
                summary_id,
                "barrier",
                answers[f"barrier_{i}"],
                position=i,
                level=answers[f"level_{i}"],
                school_id=barrier_school(
                    answers.get(f"barrier_school_{i}"), writer_school, trio_schools
                ),
            )
            i += 1
        i = 0
        while answers.get(f"action_{i}_what") not in (None, NO_ACTIONS, MORE_DONE):
            who = answers.get(f"action_{i}_who")
            owner = None if who in (None, WHOLE_TRIO) else int(who)
            due_on = str(answers[f"action_{i}_due"])
            action_id = await SummaryRepo.add_action(
                tx,
                trio_id=trio_id,
                summary_id=summary_id,
                what=answers[f"action_{i}_what"],
                owner_id=owner,
                due_on=due_on,
                position=i,
                school_id=action_school(owner, author_id, schools_of),
            )
            await self.follow_up.arm(tx, action_id, owner, due_on)
            i += 1
        for i, previous in enumerate(ctx.get("prev_actions", [])):
            status = answers.get(f"prev_{i}")
            if status in ACTION_STATUSES:
                await SummaryRepo.set_action_status(
                    tx, int(previous[0]), status, by=author_id, how="reviewed"
                )
                if status in ("done", "dropped"):
                    await ScheduleRepo.cancel(tx, f"action:{previous[0]}:due", status)
        await self._circulate(tx, summary_id, author_id, revised=False)
        return summary_id

    async def edit(
        self, tx: Transaction, author_id: int, summary_id: int, edits: list[dict[str, Any]]
    ) -> bool:
        """The author's changes after a suggestion (see bot/summaries/revision.py); a new
        revision goes round, marking what changed."""
        summary = await SummaryRepo.get(tx, summary_id)
        if summary is None or summary.status != "draft":
            return False
        if not await self.may_edit(tx, author_id, summary):
            return False
        marks = await self.revision.apply(tx, summary, edits)
        await SummaryRepo.recirculate(tx, summary_id, self.clock())
        await self._circulate(tx, summary_id, author_id, revised=True, marks=marks)
        return True

    async def edit_context(self, q: Reader, summary: Summary) -> dict[str, Any]:
        """What the flow that edits this draft starts from: the menu and what each part says."""
        return await edit_context(q, summary)

    async def may_edit(self, q: Reader, person_id: int, summary: Summary) -> bool:
        if not await may(q, person_id, "summary.approve", summary.trio_id):
            return False
        return summary.author_id == person_id or await may(
            q, person_id, "summary.run", summary.trio_id
        )

    async def _circulate(
        self,
        tx: Transaction,
        summary_id: int,
        author_id: int,
        *,
        revised: bool,
        marks: Marks | None = None,
    ) -> None:
        summary = await SummaryRepo.get(tx, summary_id)
        assert summary is not None
        # The author wrote it: their approval of what they wrote goes without asking.
        await SummaryRepo.decide(tx, summary_id, author_id, summary.revision, "approved")
        values = {**await self.draft_values(tx, summary, marks), "revised": revised}
        rev = summary.revision
        for member in await MeetingRepo.members(tx, summary.trio_id):
            buttons = (
                []
                if member.person_id == author_id
                else [
                    [
                        (Label("approve"), SummaryTap(summary_id, rev, "a")),
                        (Label("suggest_change"), SummaryTap(summary_id, rev, "s")),
                    ]
                ]
            )
            await self.notices.send(
                tx,
                member.chat_id,
                member.language,
                "summary/draft",
                {**values, "mine": member.person_id == author_id},
                person_id=member.person_id,
                buttons=buttons,
                kind="summary",
                dedupe=f"out:summary:{summary_id}:r{rev}:{member.person_id}",
            )
        await ScheduleRepo.add(
            tx,
            "summary_deadline",
            summary.agree_by,
            trio_id=summary.trio_id,
            payload={"summary": summary_id},
            dedupe_key=f"summary:{summary_id}:deadline",
        )
        await self._maybe_agreed(tx, summary)

    async def draft_values(
        self, q: Reader, summary: Summary, marks: Marks | None = None
    ) -> dict[str, Any]:
        """Everything the draft template shows, in reading order; with `marks`, each part a
        revision changed or added is marked, and what it removed is shown struck through."""
        marks = marks or Marks()
        meeting = await MeetingRepo.get(q, summary.meeting_id)
        schools = dict(await MeetingRepo.schools(q, summary.trio_id))
        items = ordered(await SummaryRepo.items(q, summary.id))
        removed = marks.removed

        def parts(kind: str) -> list[dict[str, Any]]:
            here = [
                {"body": i.body, "level": i.level, "mark": marks.of(f"item:{i.id}"),
                 "school": schools.get(i.school_id or 0, "?" if kind == "shared" else "")}
                for i in items
                if i.kind == kind
            ]  # fmt: skip
            gone = [{**r, "mark": "removed"} for r in removed if r["kind"] == kind]
            return here + gone

        actions = [
            {**action_view(a), "mark": marks.of(f"action:{a.id}")}
            for a in await SummaryRepo.actions(q, summary.id)
        ]
        return {
            "trio": meeting.trio_name if meeting else "",
            "focus": summary.focus,
            "focus_mark": marks.of("focus"),
            "revision": summary.revision,
            "many_schools": len(schools) > 1,
            "shared": parts("shared"),
            "evidence": parts("evidence"),
            "barriers": parts("barrier"),
            "actions": actions,
            "removed_actions": [r for r in removed if r["kind"] == "action"],
            "no_actions": summary.no_actions,
            "questions": parts("question"),
            "other": parts("other"),
        }

    # --- the trio's decisions --------------------------------------------------------------
    async def approve(self, person_id: int, summary_id: int, revision: int) -> Decision:
        async with self.db.transaction() as tx:
            summary = await SummaryRepo.get(tx, summary_id)
            if summary is None:
                return "gone"
            if not await may(tx, person_id, "summary.approve", summary.trio_id):
                return "not_yours"
            if summary.status != "draft" or summary.revision != revision:
                return "stale"
            await SummaryRepo.decide(tx, summary_id, person_id, revision, "approved")
            return "agreed" if await self._maybe_agreed(tx, summary) else "approved"

    async def check_suggest(self, person_id: int, summary_id: int, revision: int) -> Decision:
        """May this person suggest a change to this revision now? (Before the flow opens.)"""
        summary = await SummaryRepo.get(self.db, summary_id)
        if summary is None:
            return "gone"
        if not await may(self.db, person_id, "summary.approve", summary.trio_id):
            return "not_yours"
        if summary.status != "draft" or summary.revision != revision:
            return "stale"
        return "approved"

    async def suggest(
        self, tx: Transaction, person_id: int, summary_id: int, revision: int, comment: Any
    ) -> bool:
        summary = await SummaryRepo.get(tx, summary_id)
        if summary is None or summary.status != "draft" or summary.revision != revision:
            return False
        if not await may(tx, person_id, "summary.approve", summary.trio_id):
            return False
        await SummaryRepo.decide(tx, summary_id, person_id, revision, "suggested", comment)
        members = {m.person_id: m for m in await MeetingRepo.members(tx, summary.trio_id)}
        author = members.get(summary.author_id or 0)
        who = members.get(person_id)
        if author is not None:
            await self.notices.send(
                tx,
                author.chat_id,
                author.language,
                "summary/suggestion",
                {"name": who.name if who else "?", "comment": comment},
                person_id=author.person_id,
                kind="summary",
                dedupe=f"out:summary:{summary_id}:r{revision}:suggest:{person_id}",
                buttons=[[(Label("edit_summary"), SummaryTap(summary_id, revision, "e"))]],
            )
        return True

    async def confirm(self, person_id: int, summary_id: int) -> Decision:
        """The lead agrees it with the approvals so far — only once the deadline has passed."""
        async with self.db.transaction() as tx:
            summary = await SummaryRepo.get(tx, summary_id)
            if summary is None:
                return "gone"
            if not await may(tx, person_id, "summary.run", summary.trio_id):
                return "not_yours"
            if summary.status != "draft":
                return "stale"
            if self.clock() < summary.agree_by:
                return "too_early"
            await self._agreed(tx, summary, "lead")
            return "agreed"

    async def _maybe_agreed(self, tx: Transaction, summary: Summary) -> bool:
        members = {m.person_id for m in await MeetingRepo.members(tx, summary.trio_id)}
        approved = await SummaryRepo.approvals(tx, summary.id, summary.revision)
        if not members or not members <= approved:
            return False
        await self._agreed(tx, summary, "all")
        return True

    async def _agreed(self, tx: Transaction, summary: Summary, how: Literal["all", "lead"]) -> None:
        await SummaryRepo.mark_agreed(tx, summary.id, how, self.clock())
        # Its questions for the researchers are open from now on (/questions).
        await QuestionRepo.from_summary(tx, summary.id, self.clock())
        await ScheduleRepo.cancel(tx, f"summary:{summary.id}:deadline", "agreed")
        meeting = await MeetingRepo.get(tx, summary.meeting_id)
        values = {"trio": meeting.trio_name if meeting else "", "how": how}
        for member in await MeetingRepo.members(tx, summary.trio_id):
            await self.notices.send(
                tx,
                member.chat_id,
                member.language,
                "summary/agreed",
                values,
                person_id=member.person_id,
                kind="summary",
                dedupe=f"out:summary:{summary.id}:agreed:{member.person_id}",
            )
        group = await MeetingRepo.group_of(tx, summary.trio_id)
        if group is not None:
            await self.notices.send(
                tx,
                group[0],
                group[1],
                "summary/agreed",
                values,
                kind="summary",
                dedupe=f"out:summary:{summary.id}:agreed:group",
            )

    async def _recheck(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        """Someone left the trio (storage/trio_membership.py): a draft that waited only for
        them is agreed now, by everyone who is still in the trio."""
        summary = await SummaryRepo.get(tx, int(due.payload["summary"]))
        if summary is None or summary.status != "draft":
            return Fired(note="agreed or gone")
        agreed = await self._maybe_agreed(tx, summary)
        return Fired(note="agreed without them" if agreed else "still waiting")

    async def _deadline(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        summary = await SummaryRepo.get(tx, int(due.payload["summary"]))
        if summary is None or summary.status != "draft":
            return Fired(note="agreed or gone")
        members = await MeetingRepo.members(tx, summary.trio_id)
        approved = await SummaryRepo.approvals(tx, summary.id, summary.revision)
        values = {
            "approved": len(approved & {m.person_id for m in members}),
            "total": len(members),
            "waiting": [m.name for m in members if m.person_id not in approved],
        }
        for lead in (m for m in members if m.is_lead):
            await self.notices.send(
                tx,
                lead.chat_id,
                lead.language,
                "summary/deadline",
                values,
                person_id=lead.person_id,
                kind="summary",
                dedupe=f"out:{due.dedupe_key}:{lead.person_id}",
                buttons=[[(Label("confirm_agreed"), SummaryTap(summary.id, 0, "c"))]],
            )
        return Fired()
