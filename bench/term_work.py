"""The term's trio work, as dialogues through the real bot: after a trio meeting, and lesson study.

After a meeting the lead records attendance, attendees reflect (or ignore the ask), the lead
writes the summary and sends it round; members approve it, or one suggests a change, the lead
edits it and it goes round again until everyone has approved. Lesson-study trios start a
cycle, record student voice, plan three research lessons with predictions, observe and
interview the case pupils, discuss, and agree the closing account.

Everything here reacts to what arrives in a person's chat (`react`), so time moves on between
the steps just as it would for real people. A step counts as done in the record only when the
bot's own "saved" or "sent" reply arrived; invariants in term_checks.py hold the database to it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from datetime import time as wall
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bench.term_people import CycleRec, MeetingRec, Move, NoReply, Person, _has_button
from bot.scheduling.timing import local_instant
from bot.standin.api import SentMessage

if TYPE_CHECKING:
    from bench.term import Simulation

Job = Coroutine[Any, Any, None]
LESSON_HOURS = (10, 13)  # local, for the planner
STATUS_LABELS = ("done", "in progress", "dropped")


def lesson_day(sim: Simulation, today: date, at_least: int) -> date | None:
    """A school day `at_least` days on whose eve is a school day too (so the day-before
    reminder, which cannot wait, never falls on a weekend or closure), within the term."""
    day = today + timedelta(days=at_least)
    while day <= sim.term.last_day:
        if sim.term.is_school_day(day) and sim.term.is_school_day(day - timedelta(days=1)):
            return day
        day += timedelta(days=1)
    return None


def _round(text: str) -> int:
    found = re.search(r"research lesson (\d)", text, re.IGNORECASE)
    return int(found.group(1)) if found else 0


class Work:
    """Who does what when a notice arrives; the record of what the bot acknowledged."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.rec = sim.rec
        self.rng: random.Random = sim.rng
        self.by_ref = {p.m.ref: p for p in sim.people}
        self.by_name: dict[str, Person] = {}
        for p in sim.people:
            if p.m.ref.endswith("1") and p.m.trio and p.m.role != "researcher":
                trio = f"LS{p.m.trio}"
                cycle = self.rec.cycles.setdefault(trio, CycleRec(trio, []))
                cycle.members.append(p.m.ref)

    # -- who is where ---------------------------------------------------------------------
    def present(self, p: Person) -> bool:
        return p.joined is not None and p.blocked_at is None

    def trio_members(self, trio: str) -> list[Person]:
        return [p for p in self.sim.people if p.m.trio == trio and self.present(p)]

    def meeting(self, trio: str) -> MeetingRec | None:
        """The trio's latest meeting that has started."""
        now = self.sim.clock.now
        held = [s for t, s in self.rec.meetings if t == trio and s <= now]
        if not held:
            return None
        key = (trio, max(held))
        return self.rec.held.setdefault(key, MeetingRec(trio, key[1]))

    def cycle_of(self, p: Person) -> CycleRec | None:
        return self.rec.cycles.get(f"LS{p.m.trio}") if p.m.ref.endswith("1") else None

    def name_of(self, display: str, among: list[Person]) -> Person | None:
        return next((p for p in among if p.display == display), None)

    # -- what a notice sets off -------------------------------------------------------------
    def react(self, p: Person, m: SentMessage) -> Job | None:
        text = m.plain_text
        if "Who took part?" in text and _has_button(m, "Record attendance"):
            meeting = self.meeting(p.m.trio or "")
            return self.attendance(p, m, meeting) if meeting and not meeting.attendance else None
        if "After the trio meeting" in text and _has_button(m, "Answer now"):
            meeting = self.meeting(p.m.trio or "")
            if meeting is None or self.rng.random() < 0.25:
                self.rec.behaviour["meeting reflection: ignored"] += 1
                return None
            return self.reflect(p, m, meeting)
        if "who will write up the summary" in text and _has_button(m, "write it now"):
            meeting = self.meeting(p.m.trio or "")
            if meeting is None or meeting.writing or not self.sim.opts.summaries:
                return None
            meeting.writing = True
            return self.summary(p, m, meeting)
        if ("Draft summary for your agreement" in text or "Revised draft" in text) and (
            _has_button(m, "Approve")
        ):
            meeting = self.meeting(p.m.trio or "")
            return self.decide(p, m, meeting) if meeting else None
        if "suggests a change to the summary" in text and _has_button(m, "Edit the summary"):
            meeting = self.meeting(p.m.trio or "")
            return self.edit(p, m, meeting) if meeting else None
        if "the summary is agreed" in text:
            meeting = self.meeting(p.m.trio or "")
            if meeting:
                meeting.agreed_seen.add(p.m.ref)
            return None
        cycle = self.cycle_of(p)
        if cycle is None or not text.startswith("Lesson study"):
            return None
        return self.lesson_study(p, m, cycle)

    def lesson_study(self, p: Person, m: SentMessage, c: CycleRec) -> Job | None:
        text, ref = m.plain_text, p.m.ref
        if "The account is agreed" in text:
            c.agreed_seen.add(ref)
            return None
        if _has_button(m, "Record student voice") and "voice" not in c.claims:
            c.claims.add("voice")
            return self.voice(p, m, c)
        r = next((r for r in (1, 2, 3) if _has_button(m, f"Plan research lesson {r}")), 0)
        if r and f"plan{r}" not in c.claims:
            today = self.sim.clock.now.astimezone(ZoneInfo(p.zone)).date()
            day = lesson_day(self.sim, today, self.rng.randint(2, 6))
            if day is None:
                return None  # too late in the term for another lesson
            c.claims.add(f"plan{r}")
            return self.plan(p, m, c, r, day)
        if _has_button(m, "My notes on the case pupils"):
            r = _round(text) or max(c.planned, default=0)
            if f"observe{r}:{ref}" not in c.claims:
                c.claims.add(f"observe{r}:{ref}")
                return self.observe(p, m, c, r)
        if _has_button(m, "Interview notes"):
            r = max(c.planned, default=0)
            if f"interview{r}:{ref}" not in c.claims:
                c.claims.add(f"interview{r}:{ref}")
                return self.interview(p, m, c, r)
        if _has_button(m, "Post-lesson discussion"):
            r = _round(text) or max(c.planned, default=0)
            if f"discuss{r}" not in c.claims:
                c.claims.add(f"discuss{r}")
                return self.discuss(p, m, c, r)
        if _has_button(m, "Write the account") and "account" not in c.claims:
            c.claims.add("account")
            return self.account(p, m, c, revising=False)
        if "The account" in text and _has_button(m, "Approve"):
            return self.decide_account(p, m, c)
        if "suggests a change to the account" in text and _has_button(m, "Revise the account"):
            return self.account(p, m, c, revising=True)
        return None

    async def start_cycle(self, p: Person, c: CycleRec) -> None:
        """/lessonstudy and the questions that start a cycle, with three case pupils."""
        what, who = "fractions as numbers on a line", "pupils new to English"
        real_first = self.rng.random() < 0.3

        def answer(m: SentMessage) -> Move | None:
            t = m.plain_text
            if "which subject" in t:
                return ("text", "Maths")
            if "class or year group" in t:
                return ("text", "Year 5")
            if "What is the X" in t:
                return ("text", what)
            if "And the Y" in t:
                return ("text", who)
            if "looks like it could be a real name" in t:
                return ("tap", "Use “")
            if found := re.search(r"Case pupil (\d)", t):
                n = int(found.group(1))
                return ("text", "Maria" if n == 1 and real_first else f"P{n}")
            if "Which group of learners is" in t:
                return ("text", "quiet, working below expectations")
            if found := re.search(r"is case pupil (\d)\. Add another", t):
                return ("tap", "Add another" if int(found.group(1)) < 3 else "Done")
            return None

        c.claims.add("start")
        try:
            await p.converse(("text", "/lessonstudy"), answer, "lesson-study cycle has started")
        except NoReply:
            c.unsure = True
            raise
        c.started = True
        self.rec.behaviour["lesson study: cycle started"] += 1
        if real_first:
            self.rec.behaviour["lesson study: a real-looking name, pseudonym taken"] += 1

    async def voice(self, p: Person, m: SentMessage, c: CycleRec) -> None:
        said = f"They like drawing it; they hate being asked first ({c.trio})"
        ideas = None if self.rng.random() < 0.4 else f"Draw the line first ({c.trio})"

        def answer(q: SentMessage) -> Move | None:
            if "What did they say?" in q.plain_text:
                return ("text", said)
            if "What does that suggest for planning" in q.plain_text:
                return ("text", ideas) if ideas else ("tap", "Skip")
            return None

        await self._done(c, p.converse(("tap", "Record student voice"), answer,
                                       "student voice saved", on=m))  # fmt: skip
        c.voice = True
        c.notes.append((0, "student_voice", {"said": said, "ideas": ideas}))

    async def plan(self, p: Person, m: SentMessage, c: CycleRec, r: int, day: date) -> None:
        hour = self.rng.choice(LESSON_HOURS)
        outline = f"Lesson {r}: fractions on a number line, then pair talk ({c.trio})"
        moments = "Placing 1/2 on the line\nPair talk: which is bigger?\nPlenary"
        chosen: dict[str, str] = {}

        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if "Outline the lesson" in t or "How does the lesson go now" in t:
                return ("text", outline)
            if "The key moments" in t:
                return ("tap", "Keep the same") if "Last time they were" in t else ("text", moments)
            if found := re.search(r"Prediction — key moment (\d).*How do you expect (.+?) \(", t,
                                  re.DOTALL):  # fmt: skip
                return ("text", f"R{r} predict m{found.group(1)} {found.group(2)} ({c.trio})")
            if "Who teaches research lesson" in t and q.buttons:
                chosen["teacher"] = q.buttons[0][0][0]
                return ("tapx", q.buttons[0][0][0])  # whose turn it is
            if "On which date is research lesson" in t:
                return ("text", day.isoformat())
            if "At what time does it start" in t:
                return ("text", f"{hour}:00")
            return None

        await self._done(c, p.converse(("tap", f"Plan research lesson {r}"), answer,
                                       "research lesson scheduled", on=m))  # fmt: skip
        c.planned[r] = local_instant(day, wall(hour), ZoneInfo(p.zone))
        label = chosen.get("teacher", "").replace(" (whose turn it is)", "")
        members = [self.by_ref[ref] for ref in c.members]
        teacher = self.name_of(label, members)
        c.teachers[r] = teacher.m.ref if teacher else ""
        self.rec.behaviour["lesson study: research lesson planned"] += 1

    async def observe(self, p: Person, m: SentMessage, c: CycleRec, r: int) -> None:
        notes: list[tuple[int, str, str]] = []
        rolls: dict[str, float] = {}

        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if found := re.search(r"key moment (\d).*What did (.+?) do at this moment", t,
                                  re.DOTALL):  # fmt: skip
                key = f"m{found.group(1)} {found.group(2)}"
                roll = rolls.setdefault(key, self.rng.random())
                if roll < 0.12:
                    return ("tap", "Skip")
                if roll < 0.22:
                    return ("voice", 10 + int(roll * 100))
                return ("text", f"R{r} {p.m.ref} saw {key} ({c.trio})")
            if "Anything else" in t and "did during the lesson" in t:
                return ("tap", "Skip")
            return None

        await self._done(c, p.converse(("tap", "My notes on the case pupils"), answer,
                                       "observation notes are saved", on=m))  # fmt: skip
        for key, roll in rolls.items():
            if roll >= 0.22:
                notes.append((r, "observation", f"R{r} {p.m.ref} saw {key} ({c.trio})"))
        c.notes += notes
        c.observed.add((r, p.m.ref))

    async def interview(self, p: Person, m: SentMessage, c: CycleRec, r: int) -> None:
        said: dict[str, str] = {}

        def answer(q: SentMessage) -> Move | None:
            if found := re.search(r"what did (.+?) say about the lesson", q.plain_text):
                said[found.group(1)] = f"R{r} {found.group(1)} told {p.m.ref}: the line helped"
                return ("text", said[found.group(1)])
            return None

        await self._done(c, p.converse(("tap", "Interview notes"), answer,
                                       "interview notes saved", on=m))  # fmt: skip
        c.notes += [(r, "interview", text) for text in said.values()]
        c.interviewed.add((r, p.m.ref))

    async def discuss(self, p: Person, m: SentMessage, c: CycleRec, r: int) -> None:
        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if "Post-lesson discussion — research lesson" in t:
                return ("text", f"Round {r}: Pupil 1 did better than predicted ({c.trio})")
            if "One change per line" in t:
                return ("text", f"- Give each pupil a line (round {r})\n- Pre-teach the words")
            return None

        await self._done(c, p.converse(("tap", "Post-lesson discussion"), answer,
                                       "Discussion saved", on=m))  # fmt: skip
        c.discussed.add(r)

    async def account(self, p: Person, m: SentMessage, c: CycleRec, revising: bool) -> None:
        texts = {
            "learned": f"A shared number line lets new arrivals show what they know ({c.trio})",
            "changed": "We moved the plenary question to the start"
            + (" and pre-taught the words" if revising else ""),
            "advice": "Draw before you talk.",
        }

        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if "questions for the researchers?" in t:  # none from this trio's account
                return ("tap", "No questions")
            for field, needle in (("learned", "What did you learn about how to teach"),
                                  ("changed", "changed between the lessons"),
                                  ("advice", "tell colleagues")):  # fmt: skip
                if needle in t:
                    if "Now:" in t and field != "changed":
                        return ("tap", "Keep it as it is")
                    return ("text", texts[field])
            return None

        label = "Revise the account" if revising else "Write the account"
        try:
            await p.converse(("tap", label), answer, "the account has gone to the trio", on=m)
        except NoReply:
            c.unsure = True
            raise
        c.author = p.m.ref
        if revising:
            c.revision += 1
            self.rec.behaviour["lesson study: account revised after a suggestion"] += 1
        c.approvals.setdefault(c.revision, set()).add(p.m.ref)

    async def decide_account(self, p: Person, m: SentMessage, c: CycleRec) -> None:
        revision = 2 if "(revised)" in m.plain_text else 1
        if revision == 1 and not c.suggested and self.rng.random() < 0.3:
            c.suggested = True

            def answer(q: SentMessage) -> Move | None:
                if "What would you change in the account" in q.plain_text:
                    return ("text", "Say that we pre-taught the words too.")
                return None

            self.rec.behaviour["lesson study: suggested a change to the account"] += 1
            done = "your suggestion has gone to the author"
            await self._done(c, p.converse(("tap", "Suggest a change"), answer, done, on=m))
            return
        if await p.tap_and_see(m, "Approve", "Approved"):
            c.approvals.setdefault(revision, set()).add(p.m.ref)
        else:
            c.unsure = True

    async def _done(self, c: CycleRec, dialogue: Coroutine[Any, Any, SentMessage]) -> None:
        try:
            await dialogue
        except NoReply:
            c.unsure = True
            raise

    # -- after a trio meeting ----------------------------------------------------------------
    async def attendance(self, p: Person, m: SentMessage, meeting: MeetingRec) -> None:
        members = self.trio_members(meeting.trio)
        there = [q for q in members if q is p or self.rng.random() < 0.85]
        names = [q.display for q in there]

        def answer(q: SentMessage) -> Move | None:
            if "Who took part in the meeting" not in q.plain_text:
                return None
            for name in names:
                if not _has_button(q, f"✓ {name}", exact=True):
                    return ("toggle", name)
            return ("tap", "Done")

        meeting.attendance = True  # in hand: one go at it
        try:
            await p.converse(("tap", "Record attendance"), answer, "attendance saved", on=m)
        except NoReply:
            meeting.unsure = True
            raise
        meeting.present = {q.m.ref for q in there}
        self.rec.behaviour["meeting: attendance recorded"] += 1

    async def reflect(self, p: Person, m: SentMessage, meeting: MeetingRec) -> None:
        by_voice = self.rng.random() < 0.2
        take_back: str | int = (
            self.rng.randint(8, 60) if by_voice else f"A feedback protocol to try ({p.m.ref})"
        )
        surprise = None if self.rng.random() < 0.3 else "How little pupils used the comments"

        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if "What will you take back" in t:
                return ("voice", take_back) if by_voice else ("text", take_back)
            if "surprised you" in t:
                return ("text", surprise) if surprise else ("tap", "Skip")
            return None

        await p.converse(("tap", "Answer now"), answer, "Thank you — saved", on=m)
        meeting.reflections[p.m.ref] = take_back
        how = "voice" if by_voice else "text"
        self.rec.behaviour[f"meeting reflection: answered by {how}"] += 1

    async def summary(self, p: Person, m: SentMessage, meeting: MeetingRec) -> None:
        rng, trio = self.rng, meeting.trio
        members = self.trio_members(trio)
        keep_focus = rng.random() < 0.7
        focus = "Feedback that moves learning on" if keep_focus else f"Feedback sheets ({trio})"
        shared = {s: rng.choice(("text", "text", "voice", "skip")) for s in range(3)}
        barriers = [
            (f"No cover to release teachers ({trio})", "within school"),
            (f"Buses between our sites stop at 4pm ({trio})", "between schools"),
            (f"Families work late shifts ({trio})", "beyond schools"),
        ][: rng.choice((0, 1, 2, 2, 3))]
        today = self.sim.clock.now.date()
        actions = []
        for n in range(rng.choice((1, 2, 2))):
            owner = rng.choice(members).display
            due = lesson_day(self.sim, today, 7 + 3 * n) or self.sim.term.last_day
            actions.append((f"Try the feedback sheets, step {n + 1} ({trio})", owner, due))
        question = None if rng.random() < 0.4 else "Is there research on whole-class feedback?"
        state = {"barrier": 0, "action": 0}

        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if "What was the focus" in t:
                return ("tap", "Keep the planned focus") if keep_focus else ("text", focus)
            if found := re.search(r"Action (\d) of \d from last time", t):
                return ("tapx", STATUS_LABELS[(int(found.group(1)) - 1) % len(STATUS_LABELS)])
            if found := re.search(r"What did School S\d+(\d) share or try", t):
                how = shared[int(found.group(1))]
                if how == "voice":
                    return ("voice", 35)
                return ("text", f"Whole-class feedback sheets ({trio})") if how == "text" else (
                    "tap", "Skip")  # fmt: skip
            if "What evidence did you look at" in t:
                return ("text", f"Book looks from Year 5 ({trio})")
            if found := re.search(r"Barrier (\d): what is getting in the way", t):
                state["barrier"] = n = int(found.group(1))
                return ("text", barriers[n - 1][0]) if n <= len(barriers) else ("tap", "Skip")
            if "Where does that barrier sit" in t:
                return ("tapx", barriers[state["barrier"] - 1][1])
            if "Which school does it belong to" in t:
                return ("text", "1")  # the first button: the writer's own school
            if found := re.search(r"Action (\d): what will be done", t):
                state["action"] = n = int(found.group(1))
                return ("text", actions[n - 1][0]) if n <= len(actions) else ("tap", "That's all")
            if "Who will do it?" in t:
                return ("tapx", actions[state["action"] - 1][1])
            if "By when" in t:  # "By when will it be done?" (naming the action) or "By when?"
                return ("text", actions[state["action"] - 1][2].isoformat())
            if "questions for the research team" in t:
                return ("text", question) if question else ("tap", "Skip")
            if "Anything else to record" in t:
                return ("tap", "Skip")
            if "Here is the draft" in t:
                return ("tap", "Send to the trio")
            return None

        try:
            done = "Sent to the trio for agreement"
            await p.converse(("tap", "write it now"), answer, done, on=m)
        except NoReply:
            meeting.unsure = True
            raise
        meeting.focus = focus
        meeting.levels = [level.split()[0] for _, level in barriers]
        meeting.actions = len(actions)
        meeting.approvals.setdefault(1, set()).add(p.m.ref)
        self.rec.behaviour["meeting: summary sent for agreement"] += 1

    async def decide(self, p: Person, m: SentMessage, meeting: MeetingRec) -> None:
        revision = 2 if "Revised draft" in m.plain_text else 1
        if revision == 1 and not meeting.suggested and self.rng.random() < 0.2:
            meeting.suggested = True

            def answer(q: SentMessage) -> Move | None:
                if "What would you change?" in q.plain_text:
                    return ("text", f"Please name the survey: Pupil Voice ({meeting.trio})")
                return None

            self.rec.behaviour["meeting: suggested a change to the summary"] += 1
            try:
                await p.converse(("tap", "Suggest a change"), answer,
                                 "gone to the summary's author", on=m)  # fmt: skip
            except NoReply:
                meeting.unsure = True
                raise
            return
        if await p.tap_and_see(m, "Approve", "Approved"):
            meeting.approvals.setdefault(revision, set()).add(p.m.ref)
        else:
            meeting.unsure = True

    async def edit(self, p: Person, m: SentMessage, meeting: MeetingRec) -> None:
        focus = f"Feedback sheets and the Pupil Voice survey ({meeting.trio})"

        def answer(q: SentMessage) -> Move | None:
            t = q.plain_text
            if "Which part do you want to change" in t:
                return ("tap", "1. Focus")  # the parts are numbered: "1. Focus: …"
            if "Send the new text for it" in t:
                return ("text", focus)
            if "Change something else" in t:
                return ("tap", "Done")  # "➕ Add another" / "Done ✓", the edits' Repeat
            return None

        try:
            await p.converse(("tap", "Edit the summary"), answer, "revised summary has gone", on=m)
        except NoReply:
            meeting.unsure = True
            raise
        meeting.focus = focus
        meeting.revision += 1
        meeting.approvals.setdefault(meeting.revision, set()).add(p.m.ref)
        self.rec.behaviour["meeting: summary edited and sent round again"] += 1


def starters(sim: Simulation) -> list[tuple[Person, CycleRec]]:
    """Each lesson-study trio's first member, who starts the cycle."""
    out = []
    for cycle in sim.rec.cycles.values():
        first = next((p for p in sim.people if p.m.ref == cycle.members[0]), None)
        if first is not None:
            out.append((first, cycle))
    return out


def ready(work: Work, cycle: CycleRec) -> bool:
    """All three joined and none gone, and nobody has started (or tried to start) yet."""
    people = [work.by_ref[ref] for ref in cycle.members]
    return (
        len(people) == 3 and all(work.present(q) for q in people) and "start" not in (cycle.claims)
    )


__all__ = ["Callable", "Work", "datetime", "ready", "starters"]
