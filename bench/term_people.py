"""Simulated people: what they type and tap, and the record the simulator keeps of it.

Every dialogue goes through the stand-in as real updates and waits for the bot's real reply;
an answer counts as acknowledged only when the bot's "saved" reply arrived.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bench.term_roster import Member
from bench.term_world import WatchedTelegram
from bot.standin.api import SentMessage

PROMPT = "This week's reflection"
NUDGE = "A gentle reminder"
TRACE = bool(os.environ.get("TERM_TRACE"))  # print slow waits, API calls and clock steps
REPLY_WITHIN = 45.0  # real seconds: a restart, a timeout fault and a back-off all fit


class NoReply(Exception):
    """The bot did not answer as expected in time (a finding, not a crash of the simulator)."""


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
    no_reply: list[str] = field(default_factory=list)
    meetings: list[tuple[str, datetime]] = field(default_factory=list)  # (trio, starts)


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

    # -- primitives ---------------------------------------------------------------------
    def _count(self) -> int:
        return len(self.api.messages_in(self.id))

    async def _expect(self, since: int, needle: str, within: float | None = None) -> SentMessage:
        """Wait for a message from `since` on containing `needle` (any text if empty)."""
        hit: list[SentMessage] = []

        def found(messages: list[SentMessage]) -> bool:
            for m in messages[since:]:
                if needle in m.plain_text or any(needle in b for row in m.buttons for b, _ in row):
                    hit.append(m)
                    return True
            return False

        began = time.monotonic()
        ok = await self.api.wait_for(self.id, found, within or self.within)
        if TRACE and time.monotonic() - began > 2:
            print(f"  {self.m.ref} waited {time.monotonic() - began:.1f} s for {needle!r}"
                  f" ({'got it' if ok else 'gave up'})", flush=True)  # fmt: skip
        if not ok:
            self.rec.no_reply.append(f"{self.m.ref}: no {needle!r}")
            raise NoReply(needle)
        return hit[0]

    async def says(self, text: str, expect: str = "", resend: bool = False) -> SentMessage:
        since = self._count()
        self.api.push_update(self.api.text(self.id, text))
        self.rec.updates["text"] += 1
        if resend:
            # As anyone would: silence for a while (a reply Telegram failed to deliver), so
            # send it again.
            try:
                return await self._expect(since, expect, within=self.within / 4)
            except NoReply:
                self.rec.no_reply.pop()
                self.rec.behaviour["resent after silence"] += 1
                return await self.says(text, expect)
        return await self._expect(since, expect)

    async def voice(self, seconds: int, expect: str) -> SentMessage:
        since = self._count()
        self.api.push_update(self.api.voice(self.id, duration=seconds))
        self.rec.updates["voice"] += 1
        return await self._expect(since, expect)

    async def sends_sticker(self) -> SentMessage:
        since = self._count()
        self.api.push_update(self.api.sticker(self.id))
        self.rec.updates["sticker"] += 1
        return await self._expect(since, "")

    async def edits_last(self, text: str) -> SentMessage:
        """Edit the last message they sent (Telegram's edited_message update)."""
        since = self._count()
        mine = [mid for (chat, mid) in self.api._user_messages if chat == self.id]
        self.api.push_update(self.api.edited_text(self.id, max(mine), text))
        self.rec.updates["edited"] += 1
        return await self._expect(since, "edited")

    async def taps(self, label: str, expect: str, on: SentMessage | None = None) -> SentMessage:
        message = on or next(
            m
            for m in reversed(self.api.messages_in(self.id))
            if any(label in b for row in m.buttons for b, _ in row)
        )
        data = next(d for row in message.buttons for b, d in row if label in b)
        since = self._count()
        self.api.push_update(self.api.callback(self.id, message.message_id, data))
        self.rec.updates["callback"] += 1
        if expect.startswith("button:"):
            # The tapped message itself changes (e.g. its buttons say what will happen).
            needle = expect.removeprefix("button:")
            ok = await self.api.wait_for(
                self.id,
                lambda _: any(needle in b for row in message.buttons for b, _ in row),
                self.within,
            )
            if not ok:
                self.rec.no_reply.append(f"{self.m.ref}: tapped {label!r}, no {needle!r}")
                raise NoReply(needle)
            return message
        return await self._expect(since, expect)

    # -- dialogues ----------------------------------------------------------------------
    async def join(self, rng: random.Random, now: datetime) -> None:
        if rng.random() < 0.08:  # a typo in the code first
            self.rec.behaviour["join: mistyped code first"] += 1
            await self.says(f"/start {self.m.code[:-1]}Q")
        await self.says(f"/start {self.m.code}", "What I keep", resend=True)
        await self.taps("Yes", "Which language")
        await self.taps("English", "What name")
        if rng.random() < 0.05:
            self.rec.behaviour["join: sticker mid-flow"] += 1
            await self.sends_sticker()
        if rng.random() < 0.1:
            self.rec.behaviour["join: typed a name"] += 1
            await self.says(self.m.name, "time zone")
        else:
            await self.taps(f"T{self.id}", "time zone")
        self.zone = (
            "Europe/London"
            if rng.random() < 0.85
            else rng.choice(("Europe/Dublin", "Europe/Madrid", "Europe/Lisbon"))
        )
        await self.taps(self.zone.replace("_", " "), "You're in")
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
