"""Recurring reflection prompts: rounds that fan out, deliveries, one nudge, snooze and skip."""

from __future__ import annotations

import json
import time as wallclock
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.buttons import ButtonSigner, ReflectionAction, ReflectionTap
from bot.clock import Clock
from bot.reflections.prompts import PromptDefinition
from bot.scheduling.scheduler import Fired, Kind
from bot.scheduling.timing import (
    Calendar,
    Preferences,
    allowed,
    evening,
    iso_week,
    local_instant,
    next_allowed,
    preferences,
    week_start,
)
from bot.texts import Label, Texts
from storage.calendar import CalendarRepo
from storage.db import Database, Transaction, to_db_time
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.reflections import ReflectionRepo, deliver_key, nudge_key
from storage.schedule import Due, ScheduleRepo

SNOOZES = ("h", "e", "t")  # an hour, this evening, tomorrow


def snoozed_until(action: str, now: datetime, prefs: Preferences, calendar: Calendar) -> datetime:
    """When a snoozed prompt is asked again: in an hour, or tomorrow at their reminder time
    (each moved out of quiet hours), or their evening — never minutes from now."""
    if action == "e":
        return evening(now, prefs, calendar)
    local = now.astimezone(prefs.zone)
    wanted = (
        now + timedelta(hours=1)
        if action == "h"
        else local_instant(local.date() + timedelta(days=1), prefs.reminder, prefs.zone)
    )
    return next_allowed(max(wanted, now + timedelta(minutes=5)), prefs, calendar)


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    chat_id: int
    language: str
    prefs: Preferences


class Reflections:
    """The scheduler kinds for reflections, and what a person's taps on a prompt do."""

    def __init__(
        self,
        db: Database,
        texts: Texts,
        signer: ButtonSigner,
        *,
        programme_zone: str,
        definitions: tuple[PromptDefinition, ...],
        clock: Clock,
    ) -> None:
        self.db = db
        self.texts = texts
        self.signer = signer
        self.zone_name = programme_zone
        self.zone = ZoneInfo(programme_zone)
        self.definitions = {d.key: d for d in definitions}
        self.clock = clock
        self.calendars = CalendarRepo(db)
        self._calendar: tuple[float, Calendar] | None = None

    def kinds(self) -> dict[str, Kind]:
        return {
            "reflection_round": Kind(self._round),
            "reflection_deliver": Kind(self._deliver),
            "reflection_nudge": Kind(self._nudge),
        }

    async def calendar(self, tx: Transaction | None = None) -> Calendar:
        # Re-read at most once a minute: a fan-out of 10,000 rows must not read it 10,000 times,
        # and a calendar imported from the command line is picked up soon after.
        cached = self._calendar
        if cached is None or wallclock.monotonic() - cached[0] > 60:
            terms, closures = await self.calendars.spans(tx)
            cached = (wallclock.monotonic(), Calendar(terms, closures))
            self._calendar = cached
        return cached[1]

    def forget_calendar(self) -> None:
        self._calendar = None

    # --- periods --------------------------------------------------------------------------
    def period_of(self, definition: PromptDefinition, moment: datetime) -> tuple[str, datetime]:
        """(period name, when it opens, UTC) for the period containing `moment`."""
        if definition.cadence == "cron":
            trigger = CronTrigger.from_crontab(definition.cron or "", timezone=self.zone)
            start = moment - timedelta(days=400)
            opened = trigger.get_next_fire_time(None, start)
            last = opened
            while opened is not None and opened <= moment:
                last = opened
                opened = trigger.get_next_fire_time(opened, opened + timedelta(seconds=1))
            assert last is not None
            return last.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M"), last.astimezone(
                ZoneInfo("UTC")
            )
        week = iso_week(moment, self.zone)
        if definition.cadence == "fortnightly":
            _, number = week.split("-W")
            if int(number) % 2 == 0:  # fortnights open on odd ISO weeks
                week = iso_week(moment - timedelta(days=7), self.zone)
        return week, week_start(week, self.zone)

    def next_period(self, definition: PromptDefinition, opened: datetime) -> tuple[str, datetime]:
        step = {"weekly": 7, "fortnightly": 14}.get(definition.cadence)
        if step is None:
            trigger = CronTrigger.from_crontab(definition.cron or "", timezone=self.zone)
            nxt = trigger.get_next_fire_time(opened, opened + timedelta(seconds=1))
            assert nxt is not None
            return self.period_of(definition, nxt)
        return self.period_of(definition, opened + timedelta(days=step, hours=12))

    async def ensure_rounds(self) -> None:
        """Make sure each prompt's current round exists (start-up; idempotent)."""
        now = self.clock()
        async with self.db.transaction() as tx:
            for definition in self.definitions.values():
                period, opened = self.period_of(definition, now)
                await ScheduleRepo.add(
                    tx,
                    "reflection_round",
                    opened,
                    payload={"prompt": definition.key, "period": period},
                    dedupe_key=f"round:{definition.key}:{period}",
                )

    # --- the kinds ------------------------------------------------------------------------
    async def _round(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        definition = self.definitions.get(due.payload["prompt"])
        if definition is None:
            return Fired(note="prompt no longer defined")
        period = due.payload["period"]
        _, opened = self.period_of(definition, due.due_at)
        calendar = await self.calendar(tx)
        rows = []
        for person in await ReflectionRepo.eligible(tx, definition.roles, definition.trios):
            prefs = preferences(asdict(person), self.zone_name)
            day = opened.astimezone(self.zone).date() + timedelta(days=definition.weekday)
            wanted = max(now, local_instant(day, prefs.reminder, prefs.zone))
            try:
                when = next_allowed(wanted, prefs, calendar, at=prefs.reminder)
            except ValueError:
                continue
            payload = json.dumps({"prompt": definition.key, "period": period})
            key = deliver_key(definition.key, period, person.id)
            rows.append(("reflection_deliver", person.id, None, payload, to_db_time(when), key))
        await ScheduleRepo.add_many(tx, rows)
        next_name, next_opens = self.next_period(definition, opened)
        await ScheduleRepo.add(
            tx,
            "reflection_round",
            next_opens,
            payload={"prompt": definition.key, "period": next_name},
            dedupe_key=f"round:{definition.key}:{next_name}",
        )
        return Fired(note=f"{len(rows)} deliveries")

    async def _recipient(self, tx: Transaction, person_id: int | None) -> Recipient | None:
        person = None if person_id is None else await PeopleRepo.get_in(tx, person_id)
        if person is None or person.status != "active" or person.telegram_id is None:
            return None
        prefs = preferences(asdict(person), self.zone_name)
        return Recipient(person.id, person.telegram_id, person.language or "en", prefs)

    def _period_over(self, definition: PromptDefinition, period: str, now: datetime) -> bool:
        current, _ = self.period_of(definition, now)
        return current != period

    async def _deliver(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        definition = self.definitions.get(due.payload["prompt"])
        who = await self._recipient(tx, due.person_id)
        if definition is None or who is None:
            return Fired(note="no longer applies")
        period = due.payload["period"]
        existing = await ReflectionRepo.find(tx, who.person_id, definition.key, period)
        if existing is not None and existing.status in ("answered", "skipped"):
            return Fired(note=f"already {existing.status}")
        if self._period_over(definition, period, now):
            return Fired(note="period over before it could be delivered")
        calendar = await self.calendar(tx)
        if not allowed(now, who.prefs, calendar):
            # Caught up late, or snoozed into a bad moment: move to the next good one.
            return Fired(until=next_allowed(now, who.prefs, calendar), note="not now for them")
        reflection_id = await ReflectionRepo.delivered(
            tx,
            who.person_id,
            definition.key,
            period,
            now,
            None if existing is None else existing.id,
        )
        text = self.texts.render(who.language, definition.template)
        payload = self.message(who.language, "reflections/delivered", text, reflection_id)
        payload["reflection"] = reflection_id  # so a send that fails can undo "delivered"
        await OutboxRepo.enqueue(
            tx,
            who.chat_id,
            "reflection",
            payload,
            now=now,
            person_id=who.person_id,
            dedupe_key=f"out:{due.dedupe_key or due.id}:{due.id}",
        )
        try:
            nudge_at = next_allowed(
                now + definition.nudge_after, who.prefs, calendar, at=who.prefs.reminder
            )
        except ValueError:
            # No school day left in the calendar (the last days of its last term): the
            # prompt still goes; there is just no moment for a nudge.
            return Fired()
        await ScheduleRepo.add(
            tx,
            "reflection_nudge",
            nudge_at,
            person_id=who.person_id,
            payload={"prompt": definition.key, "period": period, "reflection": reflection_id},
            dedupe_key=nudge_key(definition.key, period, who.person_id),
        )
        return Fired()

    async def _nudge(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        definition = self.definitions.get(due.payload["prompt"])
        who = await self._recipient(tx, due.person_id)
        if definition is None or who is None:
            return Fired(note="no longer applies")
        found = await ReflectionRepo.get(tx, due.payload["reflection"])
        if (
            found is None
            or found.person_id != who.person_id
            or found.status != "delivered"
            or found.nudged_at is not None
        ):
            return Fired(note="answered, skipped or already nudged")
        if self._period_over(definition, due.payload["period"], now):
            return Fired(note="period over")
        calendar = await self.calendar(tx)
        if not allowed(now, who.prefs, calendar):
            return Fired(until=next_allowed(now, who.prefs, calendar), note="not now for them")
        await ReflectionRepo.nudged(tx, due.payload["reflection"], now)
        text = self.texts.render(who.language, definition.template)
        payload = self.message(who.language, "reflections/nudge", text, due.payload["reflection"])
        payload["reflection"] = due.payload["reflection"]  # so a reply to the nudge answers it
        await OutboxRepo.enqueue(
            tx,
            who.chat_id,
            "nudge",
            payload,
            now=now,
            person_id=who.person_id,
            dedupe_key=f"out:{due.dedupe_key}",
        )
        return Fired()

    def message(
        self, lang: str, template: str, question: str, reflection_id: int
    ) -> dict[str, Any]:
        """The outgoing message: text plus the one-tap buttons, signed."""
        text = self.texts.render(lang, template, {"question": question})

        def button(key: str, action: ReflectionAction) -> dict[str, str]:
            data = self.signer.encode(ReflectionTap(reflection_id, action))
            return {"text": self.texts.label(lang, Label(key)), "callback_data": data}

        rows = [
            [button("answer_now", "a")],
            [
                button("snooze_hour", "h"),
                button("snooze_evening", "e"),
                button("snooze_tomorrow", "t"),
            ],
            [button("skip_this_one", "k")],
        ]
        return {"text": text, "reply_markup": {"inline_keyboard": rows}}


@dataclass(frozen=True, slots=True)
class Tap:
    """What a tap on a prompt's button did, for the handler to say."""

    result: str  # answer | snoozed | skipped | already | not_yours | gone
    reflection_id: int = 0
    until: datetime | None = None
    question: str = ""


class ReflectionActions:
    """Snooze, skip and answer-now, checked against the stored reflection and its owner."""

    def __init__(self, reflections: Reflections) -> None:
        self.r = reflections

    async def tap(self, person_id: int, reflection_id: int, action: str) -> Tap:
        r = self.r
        now = r.clock()
        async with r.db.transaction() as tx:
            row = await ReflectionRepo.get(tx, reflection_id)
            if row is None:
                return Tap("gone")
            if row.person_id != person_id:
                return Tap("not_yours")
            if row.status in ("answered", "skipped"):
                return Tap("already", reflection_id)
            definition = r.definitions.get(row.prompt)
            who = await r._recipient(tx, person_id)
            if definition is None or who is None:
                return Tap("gone")
            nudge = nudge_key(row.prompt, row.period, person_id)
            if action == "k":
                await ReflectionRepo.skipped(tx, reflection_id, now)
                await ScheduleRepo.cancel(tx, nudge, "skipped")
                return Tap("skipped", reflection_id)
            if action == "a":
                question = r.texts.render(who.language, definition.template)
                return Tap("answer", reflection_id, question=question)
            if action in SNOOZES:
                calendar = await r.calendar(tx)
                until = snoozed_until(action, now, who.prefs, calendar)
                count = await ReflectionRepo.deliveries(tx, person_id, row.prompt, row.period)
                await ScheduleRepo.add(
                    tx,
                    "reflection_deliver",
                    until,
                    person_id=person_id,
                    payload={"prompt": row.prompt, "period": row.period},
                    dedupe_key=deliver_key(row.prompt, row.period, person_id) + f":s{count}",
                )
                # Still exactly one nudge, after the snoozed delivery rather than before it.
                await ScheduleRepo.move(tx, nudge, until + definition.nudge_after)
                await ReflectionRepo.snoozed(tx, reflection_id)
                return Tap("snoozed", reflection_id, until=until)
        return Tap("gone")

    async def save_answer(
        self, tx: Transaction, person_id: int, reflection_id: int | None, answer: Any
    ) -> None:
        """Store an answer (prompted or free); the nudge for it is no longer needed."""
        now = self.r.clock()
        text = json.dumps(answer, ensure_ascii=False)
        if reflection_id is None:
            await ReflectionRepo.save_free(tx, person_id, text, now)
            return
        answered = await ReflectionRepo.answered(tx, person_id, reflection_id, text, now)
        if answered is not None:
            nudge = nudge_key(answered.prompt, answered.period, person_id)
            await ScheduleRepo.cancel(tx, nudge, "answered")

    async def open_for(self, person_id: int) -> tuple[int, str] | None:
        """The most recent prompt this person has not answered or skipped, if any."""
        found = await ReflectionRepo.latest_open(self.r.db, person_id)
        if found is None or found.prompt not in self.r.definitions:
            return None
        definition = self.r.definitions[found.prompt]
        return found.reflection_id, self.r.texts.render(found.language or "en", definition.template)
