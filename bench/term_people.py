"""Simulated people: what they type and tap, and the record the simulator keeps of it.

Every dialogue goes through the stand-in as real updates and waits for the bot's real reply;
an answer counts as acknowledged only when the bot's "saved" reply arrived. When the bot says
it could not keep what they sent (its database was unavailable), they send it again, as it
asks: that refusal is "not acknowledged", never "lost".
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.term_roster import Member
from bench.term_world import NOT_KEPT, RESENDS, WatchedTelegram
from bot.standin.api import SentMessage

PROMPT = "This week's reflection"
NUDGE = "A gentle reminder"
# The bot's question when a flow is asked for while another is open, and its way out.
CONFLICT = "in the middle of your"
DISCARD = "Discard it"
TRACE = bool(os.environ.get("TERM_TRACE"))  # print slow waits, API calls and clock steps
REPLY_WITHIN = 45.0  # real seconds: a restart, a timeout fault and a back-off all fit


Move = tuple[str, str | int]  # ("text", …), ("voice", seconds), ("tap" | "tapx" | "toggle", label)


def _has_button(message: SentMessage, label: str, exact: bool = False) -> bool:
    return any((b == label) if exact else (label in b) for row in message.buttons for b, _ in row)


def _says(message: SentMessage, needle: str) -> bool:
    """Whether `message` has `needle` in its text or a button (any message if empty)."""
    return needle in message.plain_text or _has_button(message, needle)


def button(message: SentMessage, label: str, exact: bool = False) -> str:
    """The callback data of the button labelled `label` (or containing it)."""
    found = next(
        (
            d
            for row in message.buttons
            for b, d in row
            if ((b == label or b == f"✓ {label}") if exact else label in b)
        ),
        None,
    )
    if found is None:  # the script's mistake: say what was there
        shown = [b for row in message.buttons for b, _ in row]
        raise LookupError(f"no button {label!r} on {message.plain_text[:80]!r}; buttons {shown}")
    return found


class NoReply(Exception):
    """The bot did not answer as expected in time (a finding, not a crash of the simulator)."""


@dataclass
class Silence:
    """A person who stopped waiting: what they sent last and what they waited for."""

    ref: str
    chat: int
    what: str  # e.g. "no 'Type your answer'"
    sim_at: float  # simulated epoch seconds when they stopped
    asked: float  # real seconds: when they sent the update they wanted answered
    waited: float  # real seconds they waited
    # Recognises the awaited answer among later messages; None when the bot did answer but
    # kept asking the same thing (a loop, not a silence).
    match: Callable[[SentMessage], bool] | None
    late: float | None = None  # real seconds from `asked` to the answer, once checked


@dataclass
class Acked:
    person: str  # roster ref
    week: str
    answer: str | int  # text, or a voice note's duration
    at: datetime


@dataclass
class Record:
    acked: list[Acked] = field(default_factory=list)
    unconfirmed: Counter[str] = field(default_factory=Counter)  # week -> answers sent, no ack
    snoozes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (ref, week)
    unanswered_weeks: set[tuple[str, str]] = field(default_factory=set)  # expect one nudge
    unsure_weeks: set[tuple[str, str]] = field(default_factory=set)  # a dialogue went wrong
    behaviour: Counter[str] = field(default_factory=Counter)
    updates: Counter[str] = field(default_factory=Counter)
    no_reply: list[Silence] = field(default_factory=list)
    meetings: list[tuple[str, datetime]] = field(default_factory=list)  # (trio, starts)
    held: dict[tuple[str, datetime], MeetingRec] = field(default_factory=dict)
    cycles: dict[str, CycleRec] = field(default_factory=dict)  # lesson-study trio -> cycle


@dataclass
class MeetingRec:
    """One trio meeting's after-cycle as the simulator saw it acknowledged."""

    trio: str
    starts: datetime
    present: set[str] = field(default_factory=set)  # attendance, once "attendance saved"
    attendance: bool = False
    reflections: dict[str, str | int] = field(default_factory=dict)  # ref -> take-back
    writing: bool = False  # the summary is in someone's hands (or done)
    focus: str | None = None  # set once "Sent to the trio for agreement" arrived
    levels: list[str] = field(default_factory=list)
    actions: int = 0
    revision: int = 1
    approvals: dict[int, set[str]] = field(default_factory=dict)  # revision -> refs
    suggested: bool = False
    unsure: bool = False  # an approval, suggestion or edit whose outcome is not known
    agreed_seen: set[str] = field(default_factory=set)  # who got "the summary is agreed"


@dataclass
class CycleRec:
    """One lesson-study trio's cycle as the simulator saw it acknowledged."""

    trio: str
    members: list[str]
    started: bool = False
    claims: set[str] = field(default_factory=set)  # steps someone is doing or has done
    voice: bool = False
    planned: dict[int, datetime] = field(default_factory=dict)  # round -> lesson starts
    teachers: dict[int, str] = field(default_factory=dict)  # round -> ref
    notes: list[tuple[int, str, Any]] = field(default_factory=list)  # (round, kind, body)
    observed: set[tuple[int, str]] = field(default_factory=set)
    interviewed: set[tuple[int, str]] = field(default_factory=set)
    discussed: set[int] = field(default_factory=set)
    author: str | None = None  # the account's, once "gone to the trio"
    revision: int = 1
    approvals: dict[int, set[str]] = field(default_factory=dict)
    suggested: bool = False
    unsure: bool = False
    agreed_seen: set[str] = field(default_factory=set)


TYPOS = ("teh", "recieve", "seperate", "definately", "wich", "acheive")


def answer_text(rng: random.Random, ref: str, week: str) -> str:
    words = ["We", "tried", "talk", "partners", "and", "the", "quiet", "ones", "spoke", "first"]
    rng.shuffle(words)
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(TYPOS))
    return f"{' '.join(words)} ({ref} {week})"


class Person:
    def __init__(self, member: Member, telegram_id: int, api: WatchedTelegram, rec: Record) -> None:
        self.m = member
        self.id = telegram_id
        self.api = api
        self.rec = rec
        self.zone = "Europe/London"
        self.joined: datetime | None = None
        self.blocked_at: datetime | None = None
        self.seen = 0  # messages in their chat already reacted to
        self.busy = False
        self.within = REPLY_WITHIN
        self.display = f"T{telegram_id}"  # the name they gave when joining
        self.handled: set[int] = set()  # notices already acted on (or ignored on purpose)

    # -- primitives ---------------------------------------------------------------------
    def _count(self) -> int:
        return len(self.api.messages_in(self.id))

    async def _expect(
        self,
        since: int,
        needle: str,
        within: float | None = None,
        again: Callable[[], None] = lambda: None,
    ) -> SentMessage:
        """Wait for a message from `since` on containing `needle` (any text if empty); after
        each "not kept", `again()` sends the same update again, in a moment."""

        def hit() -> SentMessage | None:
            messages = self.api.messages_in(self.id)[since:]
            wanted = (m for m in messages if _says(m, needle) and NOT_KEPT not in m.plain_text)
            return next(wanted, None)

        began = time.monotonic()
        ok = await self.api.see(
            self.id, lambda: hit() is not None, since, again, within or self.within
        )
        if TRACE and time.monotonic() - began > 2:
            print(f"  {self.m.ref} waited {time.monotonic() - began:.1f} s for {needle!r}"
                  f" ({'got it' if ok else 'gave up'})", flush=True)  # fmt: skip
        found = hit()
        if found is None:
            # An empty needle waited for any reply at all: say so, not "no ''".
            self._silence(f"no {needle!r}" if needle else "no reply", lambda m: _says(m, needle))
            raise NoReply(needle)
        return found

    def _silence(self, what: str, match: Callable[[SentMessage], bool] | None) -> None:
        asked = self.api.last_spoke.get(self.id, time.monotonic())
        now = self.api.wall_clock()
        silence = Silence(self.m.ref, self.id, what, now, asked, time.monotonic() - asked, match)
        self.rec.no_reply.append(silence)

    def _sender(self, kind: str, update: Callable[[], dict[str, Any]]) -> Callable[[], None]:
        """Sends a fresh copy of one update (each push is a new update, as a resend is)."""

        def send() -> None:
            self.api.push_update(update())
            self.rec.updates[kind] += 1

        return send

    async def says(self, text: str, expect: str = "", resend: bool = False) -> SentMessage:
        since = self._count()
        send = self._sender("text", lambda: self.api.text(self.id, text))
        send()
        if resend:
            # As anyone would: silence for a while (a reply Telegram failed to deliver), so
            # send it again.
            try:
                return await self._expect(since, expect, within=self.within / 4, again=send)
            except NoReply:
                self.rec.no_reply.pop()
                self.rec.behaviour["resent after silence"] += 1
                return await self.says(text, expect)
        return await self._expect(since, expect, again=send)

    async def voice(self, seconds: int, expect: str) -> SentMessage:
        since = self._count()
        send = self._sender("voice", lambda: self.api.voice(self.id, duration=seconds))
        send()
        return await self._expect(since, expect, again=send)

    async def sends_sticker(self) -> SentMessage:
        since = self._count()
        send = self._sender("sticker", lambda: self.api.sticker(self.id))
        send()
        return await self._expect(since, "", again=send)

    async def edits_last(self, text: str) -> SentMessage:
        """Edit the last message they sent (Telegram's edited_message update)."""
        since = self._count()
        mine = max(mid for (chat, mid) in self.api._user_messages if chat == self.id)
        send = self._sender("edited", lambda: self.api.edited_text(self.id, mine, text))
        send()
        return await self._expect(since, "edited", again=send)

    async def taps(
        self, label: str, expect: str, on: SentMessage | None = None, again: bool = False
    ) -> SentMessage:
        message = on or next(
            (
                m
                for m in reversed(self.api.messages_in(self.id))
                if any(label in b for row in m.buttons for b, _ in row)
            ),
            None,
        )
        if message is None:  # the script's mistake: say so
            raise LookupError(f"no message with a button {label!r}")
        data = button(message, label)
        since = self._count()
        tap = self._sender("callback", lambda: self.api.callback(self.id, message.message_id, data))
        tap()
        if again and _has_button(message, label):
            # As anyone would when nothing happens (a reply lost in a crash): tap it again.
            try:
                return await self._expect(since, expect, within=self.within / 4, again=tap)
            except NoReply:
                self.rec.no_reply.pop()
                if not _has_button(message, label):
                    return await self._expect(since, expect, again=tap)
                self.rec.behaviour["tapped again after silence"] += 1
                tap()
        if expect.startswith("button:"):
            # The tapped message itself changes (e.g. its buttons say what will happen).
            needle = expect.removeprefix("button:")
            seen = await self.api.see(
                self.id, lambda: _has_button(message, needle), since, tap, self.within
            )
            if not seen:
                self._silence(
                    f"tapped {label!r}, no {needle!r}",
                    lambda m: m is message and _has_button(m, needle),
                )
                raise NoReply(needle)
            return message
        return await self._expect(since, expect, again=tap)

    def push(self, move: Move, on: SentMessage | None) -> None:
        """Send one text, voice note or tap (on `on`'s buttons), without waiting."""
        kind, value = move
        if kind == "text":
            self.api.push_update(self.api.text(self.id, str(value)))
        elif kind == "voice":
            self.api.push_update(self.api.voice(self.id, duration=int(value)))
        else:
            assert on is not None, move
            data = button(on, str(value), exact=kind in ("toggle", "tapx"))
            self.api.push_update(self.api.callback(self.id, on.message_id, data))
        self.rec.updates[{"text": "text", "voice": "voice"}.get(kind, "callback")] += 1

    async def converse(
        self,
        opening: Move,
        answer: Callable[[SentMessage], Move | None],
        done: str,
        on: SentMessage | None = None,
        steps: int = 90,
    ) -> SentMessage:
        """A whole flow: send `opening`, then answer each question the bot asks (`answer`
        recognises a question and says what to do; pure, so asking again gets the same answer)
        until a message containing `done` arrives. When the bot falls silent (a crash, a lost
        reply), do what a person would: /start, and tap Continue on the unfinished flow; when
        it says it could not keep what they sent, send the same again."""
        began = since = self._count()
        last: tuple[Move, SentMessage | None] = (opening, on)
        self.push(*last)
        resumes = refusals = 0
        asked: Counter[str] = Counter()
        got: SentMessage | None = None
        again = False  # answer `got` again: a pick edited it in place
        while steps > 0:
            steps -= 1
            if not again:
                got = await self._next_question(since, answer, done)
            again = False
            if got is None:
                late = self._find(began, done)
                if late is not None:
                    return late
                if resumes >= 3 or not await self._resume():
                    return await self._give_up(done, f"no {done!r}")
                resumes += 1
                self.rec.behaviour["flow: carried on after silence (/start, Continue)"] += 1
                since = self._count()
                continue
            if self.api.is_refusal(got):
                refusals += 1
                if refusals > RESENDS:
                    return await self._give_up(done, "'not kept' again and again")
                await self.api.met(got)
                since = self._count()
                self.push(*last)
                continue
            if done in got.plain_text:
                return got
            if CONFLICT in got.plain_text and _has_button(got, DISCARD):
                # Something else was left open (a prompt they walked away from, a dialogue a
                # crash cut short): they want what they just asked for, so discard the other.
                self.rec.behaviour["flow: discarded an unfinished one to start another"] += 1
                asked[got.plain_text] += 1
                if asked[got.plain_text] > 3:
                    return await self._give_up(done, "asked to discard again and again")
                since = self._count()
                last = (("tap", DISCARD), got)
                self.push(*last)
                continue
            move = answer(got)
            assert move is not None
            asked[f"{got.plain_text}|{move}"] += 1
            if asked[f"{got.plain_text}|{move}"] > 3:  # the same question over and over
                return await self._give_up(done, f"asked {got.plain_text[:40]!r} again and again")
            since = self._count()
            last = (move, got)
            self.push(*last)
            if move[0] == "toggle":
                # A pick edits the question's buttons in place; no new message comes.
                question, mark = got, f"✓ {move[1]}"

                def picked(q: SentMessage = question, mark: str = mark) -> bool:
                    return _has_button(q, mark, exact=True)

                def pick(move: Move = move, q: SentMessage = question) -> None:
                    self.push(move, q)

                ok = await self.api.see(self.id, picked, since, pick, self.within)
                got, again = (question if ok else None), True
        return await self._give_up(done, f"ran out of steps before {done!r}")

    async def _next_question(
        self, since: int, answer: Callable[[SentMessage], Move | None], done: str
    ) -> SentMessage | None:
        """The newest message from `since` that is a question `answer` knows, or `done`."""

        def known(m: SentMessage) -> bool:
            return (
                done in m.plain_text
                or CONFLICT in m.plain_text
                or self.api.is_refusal(m)
                or answer(m) is not None
            )

        ok = await self.api.wait_for(
            self.id, lambda ms: any(known(m) for m in ms[since:]), self.within
        )
        if not ok:
            return None
        await asyncio.sleep(0.15)  # a second part (reason, then the question) may follow
        return [m for m in self.api.messages_in(self.id)[since:] if known(m)][-1]

    def _find(self, since: int, needle: str) -> SentMessage | None:
        found = [m for m in self.api.messages_in(self.id)[since:] if needle in m.plain_text]
        return found[-1] if found else None

    async def _resume(self) -> bool:
        """/start, then Continue on "You have an unfinished …"; False if nothing is open."""
        since = self._count()
        self.push(("text", "/start"), None)
        ok = await self.api.wait_for(
            self.id, lambda ms: any("unfinished" in m.plain_text for m in ms[since:]), self.within
        )
        offer = self._find(since, "unfinished")
        if not ok or offer is None or not _has_button(offer, "Continue"):
            return False
        self.push(("tap", "Continue"), offer)
        return True

    async def _give_up(self, done: str, why: str) -> SentMessage:
        """Leave a flow that cannot be finished (so the next one is not blocked), unsure."""
        silent = why == f"no {done!r}"
        shown = self.api.messages_in(self.id)
        if silent and shown:  # what was on their screen: a question the script does not know?
            why = f"{why}; last shown {shown[-1].plain_text[-90:]!r}"
        self._silence(why, (lambda m: _says(m, done)) if silent else None)
        since = self._count()
        self.push(("text", "/cancel"), None)
        await self.api.wait_for(self.id, lambda ms: len(ms) > since, self.within / 3)
        raise NoReply(done)

    async def tap_and_see(self, message: SentMessage, label: str, needle: str) -> bool:
        """Tap a button on a notice whose answer is the notice's own buttons changing
        (Approve → "Approved"); tapped again once after silence, and after each "not kept".
        True when seen."""
        data = button(message, label)
        tap = self._sender("callback", lambda: self.api.callback(self.id, message.message_id, data))

        def changed() -> bool:
            return _has_button(message, needle)

        for attempt in range(2):
            since = self._count()
            tap()
            if await self.api.see(self.id, changed, since, tap, self.within / (2 - attempt)):
                return True
            if not _has_button(message, label):
                return False  # the buttons went, with no word: outcome unknown
            self.rec.behaviour["tapped again after silence"] += 1
        self._silence(
            f"tapped {label!r}, no {needle!r}", lambda m: m is message and _has_button(m, needle)
        )
        return False

    # -- dialogues ----------------------------------------------------------------------
    async def join(self, rng: random.Random, now: datetime) -> None:
        if rng.random() < 0.08:  # a typo in the code first
            self.rec.behaviour["join: mistyped code first"] += 1
            await self.says(f"/start {self.m.code[:-1]}Q")
        await self.says(f"/start {self.m.code}", "What I keep", resend=True)
        await self.taps("Yes", "Which language", again=True)
        await self.taps("English", "What name", again=True)
        if rng.random() < 0.05:
            self.rec.behaviour["join: sticker mid-flow"] += 1
            await self.sends_sticker()
        if rng.random() < 0.1:
            self.rec.behaviour["join: typed a name"] += 1
            await self.says(self.m.name, "time zone")
            self.display = self.m.name
        else:
            await self.taps(f"T{self.id}", "time zone", again=True)
        self.zone = (
            "Europe/London"
            if rng.random() < 0.85
            else rng.choice(("Europe/Dublin", "Europe/Madrid", "Europe/Lisbon"))
        )
        await self.taps(self.zone.replace("_", " "), "You're in", again=True)
        self.joined = now

    async def on_prompt(
        self, rng: random.Random, prompt: SentMessage, week: str, now: datetime, resumed: bool
    ) -> None:
        """A weekly prompt (or its return after a snooze) arrived: answer, snooze, skip…"""
        try:
            await self._on_prompt(rng, prompt, week, now, resumed)
        except NoReply:
            self.rec.unsure_weeks.add((self.m.ref, week))
            raise

    async def _on_prompt(
        self, rng: random.Random, prompt: SentMessage, week: str, now: datetime, resumed: bool
    ) -> None:
        key = (self.m.ref, week)
        roll = rng.random()
        if resumed or roll < 0.40:
            self.rec.behaviour["prompt: answered by text"] += 1
            await self.taps("Answer now", "Type your answer", on=prompt)
            if rng.random() < 0.05:
                self.rec.behaviour["prompt: mistyped a command"] += 1
                await self.says("/reflct")
            await self._answer_text(rng, week, now, edit=rng.random() < 0.1)
        elif roll < 0.50:
            self.rec.behaviour["prompt: answered by voice"] += 1
            await self.taps("Answer now", "Type your answer", on=prompt)
            await self._answer_voice(rng, week, now)
        elif roll < 0.58:
            self.rec.behaviour["prompt: answered via /reflect"] += 1
            await self.says("/reflect", PROMPT)
            await self._answer_text(rng, week, now, edit=False)
        elif roll < 0.70:
            self.rec.behaviour["prompt: snoozed an hour"] += 1
            await self.taps("In an hour", "button:ask again", on=prompt)
            self.rec.snoozes[key] += 1
        elif roll < 0.78:
            self.rec.behaviour["prompt: skipped"] += 1
            await self.taps("Skip this one", "button:Skipped", on=prompt)
        elif roll < 0.84:
            self.rec.behaviour["prompt: started, then /cancel"] += 1
            await self.taps("Answer now", "Type your answer", on=prompt)
            await self.says("/cancel")
            self.rec.unanswered_weeks.add(key)
        else:
            self.rec.behaviour["prompt: ignored"] += 1
            self.rec.unanswered_weeks.add(key)

    async def _answer_text(self, rng: random.Random, week: str, now: datetime, edit: bool) -> None:
        text = answer_text(rng, self.m.ref, week)
        try:
            await self.says(text, "saved")
        except NoReply:
            self.rec.unconfirmed[week] += 1
            raise
        self.rec.acked.append(Acked(self.m.ref, week, text, now))
        if edit:
            self.rec.behaviour["answer: edited afterwards"] += 1
            await self.edits_last(text + " (edited)")

    async def _answer_voice(self, rng: random.Random, week: str, now: datetime) -> None:
        seconds = rng.randint(5, 90)
        try:
            await self.voice(seconds, "saved")
        except NoReply:
            self.rec.unconfirmed[week] += 1
            raise
        self.rec.acked.append(Acked(self.m.ref, week, seconds, now))

    async def schedule_meeting(self, starts_local: datetime, starts_utc: datetime) -> None:
        """The lead: /meeting → New meeting → date, time, link, focus → send invitations."""
        await self.says("/meeting", "New meeting")
        await self.taps("New meeting", "On what date")
        await self.says(starts_local.strftime("%d/%m/%Y"), "time")
        await self.says(starts_local.strftime("%H:%M"), "")
        await self.says(f"https://meet.example/{self.m.trio}", "")
        await self.says("Feedback that moves learning on", "Ready to invite")
        await self.taps("Send the invitations", "Invitations are on their way")
        self.rec.meetings.append((self.m.trio or "", starts_utc))
