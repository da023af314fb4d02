"""What the console prints: everything the bot does in any chat, in the order it happened.

Each send, edit, deletion and toast is labelled with who sees it (`[bot → Bruno]`, a group
by its title). Callback buttons are numbered; the view remembers which messages it showed
with buttons, so a number typed taps a button the person typing has actually seen.
"""

from __future__ import annotations

import mimetypes
from datetime import date, datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from icalendar import Calendar

from bot.standin.api import FakeTelegram
from bot.standin.world import JSON, Happened, SentMessage

_KINDS = {
    ".xlsx": "spreadsheet",
    ".csv": "CSV table",
    ".html": "web page",
    ".json": "JSON data",
    ".pdf": "PDF",
    ".png": "image",
    ".zip": "ZIP archive",
    ".txt": "text",
    ".ics": "calendar file",
}


def size(content: bytes) -> str:
    count = len(content)
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / (1024 * 1024):.1f} MB"


def when(moment: datetime | date, zone: ZoneInfo) -> str:
    """`Tue 8 Dec 15:30`, in the programme's zone (a date alone: `Tue 8 Dec`)."""
    if not isinstance(moment, datetime):
        return f"{moment:%a} {moment.day} {moment:%b}"
    local = moment.astimezone(zone) if moment.tzinfo is not None else moment
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def calendar_summary(content: bytes, zone: ZoneInfo) -> str | None:
    """`calendar invite: Tue 8 Dec 15:30` for an .ics file; None if it is not one."""
    try:
        calendar = Calendar.from_ical(content)
    except ValueError:
        return None
    events = [part for part in calendar.walk("VEVENT")]
    if not events:
        return None
    start = events[0].decoded("dtstart", None)
    cancelled = str(calendar.get("method", "")).upper() == "CANCEL"
    what = "calendar cancellation" if cancelled else "calendar invite"
    return f"{what}: {when(start, zone)}" if start is not None else what


def document_line(name: str, content: bytes, zone: ZoneInfo) -> str:
    """`📎 meeting.ics — calendar invite: Tue 8 Dec 15:30`, or the file's kind and size."""
    extension = "." + name.rsplit(".", 1)[-1].casefold() if "." in name else ""
    summary = calendar_summary(content, zone) if extension == ".ics" else None
    if summary is None:
        kind = _KINDS.get(extension) or mimetypes.guess_type(name)[0] or "file"
        summary = f"{kind}, {size(content)}"
    return f"📎 {name} — {summary}"


def keyboard_lines(keyboard: tuple[tuple[JSON, ...], ...]) -> list[str]:
    """One line per row: callback buttons numbered in reading order, links shown as links."""
    lines = []
    number = 0
    for row in keyboard:
        cells = []
        for button in row:
            label = button.get("text", "")
            if button.get("callback_data") is not None:
                number += 1
                cells.append(f"[{number}] {label}")
            elif button.get("url"):
                cells.append(f"[{label} ↗ {button['url']}]")
            else:
                cells.append(f"[{label}]")
        lines.append("   ".join(cells))
    return lines


def callback_data(message: SentMessage) -> list[str]:
    """The callback buttons' data in the order `keyboard_lines` numbers them."""
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return [b["callback_data"] for row in rows for b in row if b.get("callback_data") is not None]


class View:
    def __init__(self, api: FakeTelegram, out: TextIO, zone: ZoneInfo) -> None:
        self.api = api
        self.out = out
        self.zone = zone
        self.pending: list[Happened] = []
        self._texts: dict[tuple[int, int], str] = {}  # what was last printed of each message
        self._order: dict[tuple[int, int], int] = {}  # when each was first printed
        api.watchers.append(self.pending.append)

    def recipient(self, chat_id: int) -> str:
        group = self.api.groups.get(chat_id)
        if group is not None:
            return group[0]
        user = self.api.users.get(chat_id)
        return user["first_name"] if user is not None else f"chat {chat_id}"

    def flush(self, heading: str | None = None) -> bool:
        """Print what happened since the last flush (after `heading`, if anything did)."""
        happened, self.pending[:] = list(self.pending), []
        lines: list[str] = []
        for item in happened:
            lines.extend(self._lines(item))
        if lines and heading:
            self.out.write(f"\n── {heading} ──\n")
        for line in lines:
            self.out.write(line + "\n")
        self.out.flush()
        return bool(lines)

    def _lines(self, item: Happened) -> list[str]:
        to = f"[bot → {self.recipient(item.chat_id)}]"
        if item.kind == "answered":
            if not item.text:
                return []  # a tap acknowledged without a word: Telegram shows nothing
            return [f"{to} ({'alert' if item.alert else 'toast'}) {item.text}"]
        message = item.message
        assert message is not None
        key = (message.chat_id, message.message_id)
        if item.kind == "deleted":
            first = self._texts.get(key, item.text).split("\n", 1)[0][:60]
            return [f"{to} (deleted its message “{first}”)"]
        buttons = keyboard_lines(item.keyboard)
        if item.keyboard and any(b.get("callback_data") for row in item.keyboard for b in row):
            self._order.setdefault(key, len(self._order))
        if item.kind == "edited" and self._texts.get(key) == item.text:
            # An edit after a tap that changes only the buttons: show just those.
            self._texts[key] = item.text
            return ["  ↳ " + ("   ".join(buttons) if buttons else "(buttons removed)")]
        lines = ["", to + (" ✎ edited its message:" if item.kind == "edited" else "")]
        if message.document is not None and message.method != "sendVoice":
            lines.append(document_line(message.document[0], message.document[1], self.zone))
        if item.text:
            lines.append(item.text)
        lines.extend(buttons)
        self._texts[key] = item.text
        return lines

    def tappable(self, chats: set[int]) -> SentMessage | None:
        """The newest message shown in one of `chats` that still has callback buttons."""
        best: tuple[int, SentMessage] | None = None
        for (chat_id, message_id), order in self._order.items():
            if chat_id not in chats:
                continue
            message = self.api.bot_message(chat_id, message_id)
            if message is None or not callback_data(message):
                continue
            if best is None or order > best[0]:
                best = (order, message)
        return None if best is None else best[1]
