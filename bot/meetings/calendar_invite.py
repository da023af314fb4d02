"""The .ics file sent with a meeting invitation, so the meeting lands in people's calendars.

One UID per meeting and SEQUENCE = the meeting's version: a calendar that imported the first
file updates the event when the meeting moves, and removes it when it is cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event

PRODID = "-//triobot//trio meetings//EN"


def meeting_ics(
    *,
    meeting_id: int,
    version: int,
    title: str,
    description: str,
    starts_at: datetime,
    minutes: int,
    link: str | None,
    stamp: datetime,
    cancelled: bool = False,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"meeting-{meeting_id}@triobot")
    event.add("sequence", version)
    event.add("dtstamp", stamp)
    event.add("dtstart", starts_at)
    event.add("dtend", starts_at + timedelta(minutes=minutes))
    event.add("summary", title)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if link:
        event.add("location", link)
        if link.startswith(("http://", "https://")):
            event.add("url", link)
    calendar.add_component(event)
    content: bytes = calendar.to_ical()
    return content
