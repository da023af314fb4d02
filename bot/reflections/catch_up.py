"""A newcomer's prompts: the current period's rounds they would have had, had they been there.

A round fans out to the people eligible when it opens (Monday 00:00 for a weekly prompt), so
someone who joins on the Monday — or on the Thursday — was not among them. Joining schedules
their delivery the way the round would have: on the prompt's weekday at their reminder time,
or, if that moment has passed, at their reminder time on their next school day in the period
(or the first moment they may be reached, if the period has no such day left), out of their
quiet hours, weekends and closures.
The dedupe key is the round's, so a round that opens later cannot deliver it twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta

from bot.reflections.service import Reflections
from bot.scheduling.timing import local_instant, next_allowed, preferences
from storage.db import Transaction, to_db_time
from storage.reflections import ReflectionRepo, deliver_key
from storage.schedule import ScheduleRepo


async def catch_up(reflections: Reflections, tx: Transaction, person_id: int) -> int:
    """Schedule this period's deliveries of every prompt this person is now asked; how many."""
    r = reflections
    now = r.clock()
    calendar = await r.calendar(tx)
    rows = []
    for definition in r.definitions.values():
        found = await ReflectionRepo.eligible(tx, definition.roles, definition.trios, person_id)
        if not found:
            continue
        person = found[0]
        period, opened = r.period_of(definition, now)
        if await ReflectionRepo.find(tx, person_id, definition.key, period) is not None:
            continue  # delivered (or answered) already
        prefs = preferences(asdict(person), r.zone_name)
        day = opened.astimezone(r.zone).date() + timedelta(days=definition.weekday)
        wanted = max(now, local_instant(day, prefs.reminder, prefs.zone))
        try:
            when = next_allowed(wanted, prefs, calendar, at=prefs.reminder)
            if r.period_of(definition, when)[0] != period:
                # Their reminder time has gone by on the period's last day: the first moment
                # they may be reached, rather than a delivery the new period would drop.
                when = next_allowed(now, prefs, calendar)
        except ValueError:  # no school day left in the calendar
            continue
        if r.period_of(definition, when)[0] != period:
            continue
        payload = json.dumps({"prompt": definition.key, "period": period})
        key = deliver_key(definition.key, period, person_id)
        rows.append(("reflection_deliver", person_id, None, payload, to_db_time(when), key))
    await ScheduleRepo.add_many(tx, rows)
    return len(rows)
