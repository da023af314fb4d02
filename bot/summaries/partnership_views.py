"""What /questions and /comment show a researcher: pages of open questions or recently agreed
work, filtered by a trio or a local authority, and what tapping one opens.

Plain values come out, for the templates under prompts/<lang>/partnership/; a filter travels
on the paging buttons as `t<trio id>` or `a<authority id>`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.people.permissions import Action, may
from storage.db import Database, Reader
from storage.partnership import AgreedWork, PartnershipRepo, Scope
from storage.people import PeopleRepo
from storage.questions import Question, QuestionRepo, ReplyRepo
from storage.summaries import Summary, SummaryRepo

PAGE = 5  # questions or pieces of work per message: each is cut to CUT characters, so a
CUT = 500  # page stays well inside Telegram's 4096 (the whole text is shown when opened)
RECENT = timedelta(weeks=4)  # /comment offers work agreed this recently
TAPPED = 8  # filters offered as buttons when a typed one matched nothing
NotAllowed = Literal["not_allowed"]
SummaryValues = Callable[[Reader, Summary], Awaitable[dict[str, Any]]]
WorkKind = Literal["summary", "account"]


@dataclass(frozen=True, slots=True)
class Listing:
    """One page: `items` for the template, `ids` in the same order for the buttons."""

    items: list[dict[str, Any]]
    ids: list[int]
    kinds: list[WorkKind]  # where each came from: a summary or a lesson-study account
    page: int
    more: bool  # there is a next page
    scope: str  # the filter, as the buttons carry it
    scope_name: str | None
    answered: int = 0  # /questions with nothing open: how many were answered


@dataclass(frozen=True, slots=True)
class NoMatch:
    """A filter that named no trio or local authority: what there is instead (names to
    read, and (name, filter) pairs to tap)."""

    given: str
    trios: list[str]
    authorities: list[str]
    choices: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Opening:
    """The flow a tap opens, its context, and what to show first: a message (the agreed
    text a comment is on) and the trio's voice note, played by its file id."""

    flow: str
    context: dict[str, Any]
    shown: tuple[str, dict[str, Any]] | None = None
    voice: str | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    """A stale button: the question was answered (`others`), or it or the work is gone."""

    why: Literal["answered", "gone"]
    others: list[dict[str, Any]] = field(default_factory=list)


def _cut(body: Any) -> Any:
    if isinstance(body, str) and len(body) > CUT:
        return body[: CUT - 1].rstrip() + "…"
    return body


def scope_code(scope: Scope | None) -> str:
    return "" if scope is None else f"{'t' if scope.kind == 'trio' else 'a'}{scope.id}"


class PartnershipViews:
    def __init__(
        self, db: Database, summary_values: SummaryValues, *, zone: str, clock: Clock
    ) -> None:
        self.db = db
        self.summary_values = summary_values  # the agreed summary, as the trio read it
        self.zone = ZoneInfo(zone)
        self.clock = clock

    async def _asked(
        self, person_id: int, action: Action, given: str | None, code: str
    ) -> Scope | NoMatch | NotAllowed | None:
        """May they, and which trio or authority the typed (or tapped) filter names."""
        if not await may(self.db, person_id, action):
            return "not_allowed"
        return await self._scope(given, code)

    async def _scope(self, given: str | None, code: str) -> Scope | NoMatch | None:
        if given:
            found = await PartnershipRepo.find_scope(self.db, given)
            if found is None:
                trios, authorities = await PartnershipRepo.scopes_with_open(self.db)
                choices = [(s.name, scope_code(s)) for s in [*trios, *authorities]][:TAPPED]
                return NoMatch(
                    given, [f"{t.name} ({t.ref})" for t in trios], [a.name for a in authorities],
                    choices,
                )  # fmt: skip
            return found
        if code[:1] in ("t", "a") and code[1:].isdigit():
            kind: Literal["trio", "authority"] = "trio" if code[0] == "t" else "authority"
            return await PartnershipRepo.scope_by_id(self.db, kind, int(code[1:]))
        return None

    @staticmethod
    def _filters(scope: Scope | None) -> dict[str, int | None]:
        return {
            "trio_id": scope.id if scope and scope.kind == "trio" else None,
            "local_authority_id": scope.id if scope and scope.kind == "authority" else None,
        }

    def _day(self, question: Question | AgreedWork) -> str:
        moment = question.asked_at if isinstance(question, Question) else question.agreed_at
        return moment.astimezone(self.zone).date().isoformat()

    async def questions(
        self, person_id: int, given: str | None = None, page: int = 0, code: str = ""
    ) -> Listing | NoMatch | NotAllowed:
        """Open questions this person may take, oldest first, a page at a time."""
        scope = await self._asked(person_id, "questions.answer", given, code)
        if not isinstance(scope, Scope | None):
            return scope
        page = max(page, 0)
        found = await QuestionRepo.open_for(
            self.db, person_id, **self._filters(scope), limit=(page + 1) * PAGE + 1
        )
        shown = found[page * PAGE : (page + 1) * PAGE]
        seen: set[int] = set()
        items = []
        for number, q in enumerate(shown, start=page * PAGE + 1):
            origin = "summary" if q.summary_id is not None else "account"
            items.append({"number": number, "trio": q.trio_name, "ref": q.trio_ref,
                          "show_ref": q.trio_id not in seen or not q.trio_name,
                          "on": self._day(q), "body": _cut(q.body), "focus": _cut(q.focus),
                          "from": origin})  # fmt: skip
            seen.add(q.trio_id)
        answered = 0 if items else await PartnershipRepo.answered_count(self.db)
        kinds: list[WorkKind] = [
            "summary" if q.summary_id is not None else "account" for q in shown
        ]
        return Listing(
            items, [q.id for q in shown], kinds, page, len(found) > (page + 1) * PAGE,
            scope_code(scope), scope.name if scope else None, answered,
        )  # fmt: skip

    async def agreed(
        self, person_id: int, given: str | None = None, page: int = 0, code: str = ""
    ) -> Listing | NoMatch | NotAllowed:
        """Summaries and accounts agreed in the last four weeks, newest first."""
        scope = await self._asked(person_id, "questions.comment", given, code)
        if not isinstance(scope, Scope | None):
            return scope
        page = max(page, 0)
        found = await PartnershipRepo.agreed_since(
            self.db, self.clock() - RECENT, **self._filters(scope), limit=(page + 1) * PAGE + 1
        )
        shown = found[page * PAGE : (page + 1) * PAGE]
        items = [
            {"number": number, "trio": w.trio_name, "ref": w.trio_ref, "show_ref": True,
             "on": self._day(w), "focus": _cut(w.focus), "from": w.kind}
            for number, w in enumerate(shown, start=page * PAGE + 1)
        ]  # fmt: skip
        return Listing(
            items, [w.id for w in shown], [w.kind for w in shown], page,
            len(found) > (page + 1) * PAGE, scope_code(scope), scope.name if scope else None,
        )  # fmt: skip

    async def open_question(
        self, person_id: int, question_id: int
    ) -> Opening | Closed | NotAllowed:
        """The answer flow for one question, unless it was answered or went meanwhile."""
        if not await may(self.db, person_id, "questions.answer"):
            return "not_allowed"
        question = await QuestionRepo.get(self.db, question_id)
        if question is None:
            return Closed("gone")
        if question.status != "open":
            replies = await ReplyRepo.for_question(self.db, question_id)
            return Closed(
                "answered", [{"by": r.author_name or "?", "body": r.body} for r in replies]
            )
        me = await PeopleRepo(self.db).get(person_id)
        context = {
            "question_id": question.id, "trio": question.trio_name, "ref": question.trio_ref,
            "question": question.body, "focus": question.focus, "on": self._day(question),
            "from": "summary" if question.summary_id is not None else "account",
            "author": (me.display_name if me else None) or "?",
        }  # fmt: skip
        body = question.body
        voice = str(body["voice"]) if isinstance(body, dict) and "voice" in body else None
        return Opening("partnership_answer", context, voice=voice)

    async def open_work(
        self, person_id: int, kind: WorkKind, work_id: int
    ) -> Opening | Closed | NotAllowed:
        """The comment flow on one agreed summary or account, its agreed text shown first."""
        if not await may(self.db, person_id, "questions.comment"):
            return "not_allowed"
        work = await PartnershipRepo.agreed(self.db, kind, work_id)
        if work is None:
            return Closed("gone")
        me = await PeopleRepo(self.db).get(person_id)
        values: dict[str, Any] = {"work": {"kind": kind, "trio": work.trio_name,
                                           "on": self._day(work), "focus": work.focus,
                                           "account": work.account}}  # fmt: skip
        if kind == "summary":
            summary = await SummaryRepo.get(self.db, work_id)
            if summary is None:
                return Closed("gone")
            values.update(await self.summary_values(self.db, summary))
        context = {
            "kind": kind, "work_id": work.id, "trio": work.trio_name, "on": self._day(work),
            "focus": work.focus, "author": (me.display_name if me else None) or "?",
        }  # fmt: skip
        return Opening("partnership_comment", context, shown=("partnership/comment_agreed", values))
