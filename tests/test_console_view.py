"""How the console prints what the bot does, one Bot API call at a time on the stand-in:
each as it stood when it happened, labelled with who sees it."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.console_view import View, document_line
from bot.meetings.calendar_invite import meeting_ics
from bot.standin.api import FakeTelegram
from bot.standin.limits import Limits

LONDON = ZoneInfo("Europe/London")
BRUNO = 100_002
GROUP = -100_001


def world() -> tuple[FakeTelegram, View, io.StringIO]:
    api = FakeTelegram(limits=Limits(enabled=False))  # the console's: no flood limits
    api.add_user(BRUNO, "Bruno")
    api.started.add(BRUNO)
    api.add_group(GROUP, "Oldham–Stockport–Wigan trio group", [BRUNO])
    out = io.StringIO()
    return api, View(api, out, LONDON), out


async def call(api: FakeTelegram, method: str, params: dict[str, object]) -> dict[str, Any]:
    status, body = await api.handle(method, params)
    assert status == 200, body
    result: dict[str, Any] = body["result"] if isinstance(body["result"], dict) else {}
    return result


def keyboard(*labels: str) -> str:
    return json.dumps(
        {"inline_keyboard": [[{"text": label, "callback_data": label} for label in labels]]}
    )


async def test_a_message_edited_after_it_was_sent_prints_as_it_was_then_and_as_it_is_now() -> None:
    api, view, out = world()
    sent = await call(
        api,
        "sendMessage",
        {"chat_id": BRUNO, "text": "Draft summary", "reply_markup": keyboard("Approve")},
    )
    edit = {"chat_id": BRUNO, "message_id": sent["message_id"], "text": "Summary agreed"}
    await call(api, "editMessageText", edit)  # before anything was printed: both still show
    view.flush()
    assert out.getvalue() == (
        "\n[bot → Bruno]\nDraft summary\n[1] Approve\n"
        "\n[bot → Bruno] ✎ edited its message:\nSummary agreed\n"
    )


async def test_an_edit_of_the_buttons_alone_shows_just_the_buttons() -> None:
    api, view, out = world()
    sent = await call(
        api,
        "sendMessage",
        {"chat_id": GROUP, "text": "Who took part?", "reply_markup": keyboard("Alice", "Done")},
    )
    view.flush()
    markup = {
        "chat_id": GROUP,
        "message_id": sent["message_id"],
        "reply_markup": keyboard("✓ Alice", "Done"),
    }
    await call(api, "editMessageReplyMarkup", markup)
    await call(api, "deleteMessage", {"chat_id": GROUP, "message_id": sent["message_id"]})
    view.flush()
    assert out.getvalue().endswith(
        "  ↳ [1] ✓ Alice   [2] Done\n"
        "[bot → Oldham–Stockport–Wigan trio group] (deleted its message “Who took part?”)\n"
    )
    assert view.tappable({GROUP}) is None  # deleted: nothing left to tap


async def test_the_newest_message_with_buttons_is_the_one_a_number_taps() -> None:
    api, view, _ = world()
    await call(
        api, "sendMessage", {"chat_id": BRUNO, "text": "Older", "reply_markup": keyboard("A")}
    )
    await call(api, "sendMessage", {"chat_id": BRUNO, "text": "No buttons"})
    newer = await call(
        api, "sendMessage", {"chat_id": BRUNO, "text": "Newer", "reply_markup": keyboard("B")}
    )
    await call(
        api,
        "sendMessage",
        {"chat_id": GROUP, "text": "In the group", "reply_markup": keyboard("C")},
    )
    view.flush()
    found = view.tappable({BRUNO})
    assert found is not None and found.message_id == newer["message_id"]
    # A link button is shown as a link, not numbered: there is nothing to tap.
    link = {"inline_keyboard": [[{"text": "Join", "url": "https://meet.example/t"}]]}
    await call(
        api, "sendMessage", {"chat_id": BRUNO, "text": "Link", "reply_markup": json.dumps(link)}
    )
    assert "[Join ↗ https://meet.example/t]" in _flushed(view)
    still = view.tappable({BRUNO})
    assert still is not None and still.message_id == newer["message_id"]


def _flushed(view: View) -> str:
    out = view.out
    assert isinstance(out, io.StringIO)
    before = len(out.getvalue())
    view.flush()
    return out.getvalue()[before:]


async def test_a_toast_and_an_alert_are_printed_for_the_person_who_tapped() -> None:
    api, view, out = world()
    for alert in (False, True):
        update = api.callback(BRUNO, 1, "x")
        query_id = update["callback_query"]["id"]
        await call(
            api,
            "answerCallbackQuery",
            {"callback_query_id": query_id, "text": "Choose one first", "show_alert": alert},
        )
    quiet = api.callback(BRUNO, 1, "x")["callback_query"]["id"]
    await call(api, "answerCallbackQuery", {"callback_query_id": quiet})  # no text: nothing shown
    view.flush()
    assert out.getvalue() == (
        "[bot → Bruno] (toast) Choose one first\n[bot → Bruno] (alert) Choose one first\n"
    )


def test_documents_are_summed_up_in_a_line() -> None:
    start = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)
    ics = dict(
        meeting_id=1,
        version=1,
        title="Trio meeting",
        description="",
        starts_at=start,
        minutes=60,
        link=None,
        stamp=start,
    )
    invite = meeting_ics(**ics)  # type: ignore[arg-type]
    cancel = meeting_ics(**ics, cancelled=True)  # type: ignore[arg-type]
    assert document_line("meeting.ics", invite, LONDON) == (
        "📎 meeting.ics — calendar invite: Tue 8 Dec 16:00"
    )
    assert document_line("meeting.ics", cancel, LONDON) == (
        "📎 meeting.ics — calendar cancellation: Tue 8 Dec 16:00"
    )
    assert document_line("digest.xlsx", b"x" * 3000, LONDON) == (
        "📎 digest.xlsx — spreadsheet, 2.9 KB"
    )
    assert document_line("notes", b"abc", LONDON) == "📎 notes — file, 3 bytes"
    assert document_line("broken.ics", b"not a calendar", LONDON) == (
        "📎 broken.ics — calendar file, 14 bytes"
    )
