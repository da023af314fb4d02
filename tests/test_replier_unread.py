"""Replies are sent without building PTB's `Message` from Telegram's answer (bot/telegram/
replier.py `post_unread`): the request is the one `send_message` makes, it passes the rate
limiter as before, and Telegram's refusals are the same exceptions."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

import bot.telegram.ratelimit as ratelimit
from bot.standin.driver import SimPerson
from bot.telegram.replier import NO_PREVIEW, post_unread
from tests.harness import BotUnderTest, join


def _recording(bot: BotUnderTest) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    handle = bot.api.handle

    async def recorded(method: str, params: dict[str, Any], files: Any = None) -> Any:
        seen.append((method, dict(params)))
        return await handle(method, params, files)

    bot.api.handle = recorded  # type: ignore[method-assign]
    return seen


class _Context:
    def __init__(self, bot: BotUnderTest) -> None:
        self.bot = bot.app.bot


async def test_the_request_is_the_one_send_message_makes(bot: BotUnderTest) -> None:
    bruno = bot.person(611, "Bruno")
    await join(bruno, "DEMOBRUNO")
    seen = _recording(bot)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="x:1")]])
    chat = bruno.user_id
    await bot.app.bot.send_message(
        chat, "<b>Hi</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )  # fmt: skip
    params = {"chat_id": chat, "text": "<b>Hi</b>", "parse_mode": ParseMode.HTML,
              "link_preview_options": NO_PREVIEW, "reply_markup": keyboard,
              "reply_parameters": None}  # fmt: skip
    await post_unread(_Context(bot), "sendMessage", params)  # type: ignore[arg-type]
    (typed_method, typed), (unread_method, unread) = seen
    assert typed_method == unread_method == "sendMessage"
    assert typed == unread  # the same fields, None left out, as the stand-in received them
    assert unread["parse_mode"] == "HTML" and "reply_parameters" not in unread
    assert params["reply_parameters"] is None  # the caller's values are not changed
    assert [m.text for m in bruno.inbox[-2:]] == ["<b>Hi</b>", "<b>Hi</b>"]


async def test_every_reply_of_a_conversation_still_passes_the_rate_limiter(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited: list[str] = []
    note = ratelimit.note_request

    def noted(endpoint: str) -> None:
        limited.append(endpoint)
        note(endpoint)

    monkeypatch.setattr(ratelimit, "note_request", noted)
    bruno = bot.person(611, "Bruno")
    seen = _recording(bot)
    await join(bruno, "DEMOBRUNO")
    sent = [method for method, _ in seen if method == "sendMessage"]
    assert sent and limited.count("sendMessage") == len(sent)


async def _joined(bot: BotUnderTest) -> SimPerson:
    bruno = bot.person(611, "Bruno")
    await join(bruno, "DEMOBRUNO")
    bot.conversation.fail_on_refusal = False  # the refusals below are the point
    return bruno


def _message(bruno: SimPerson, text: str = "Hi") -> dict[str, Any]:
    return {"chat_id": bruno.user_id, "text": text, "parse_mode": ParseMode.HTML}


@pytest.mark.parametrize(
    ("status", "description", "raised"),
    [
        (400, "Bad Request: can't parse entities", BadRequest),
        (403, "Forbidden: bot was blocked by the user", Forbidden),
        (502, "Bad Gateway", NetworkError),
        (429, "Too Many Requests: retry after 1", RetryAfter),  # still, after every retry
    ],
)
async def test_telegrams_refusals_are_the_exceptions_they_were(
    bot: BotUnderTest, status: int, description: str, raised: type[Exception]
) -> None:
    bruno = await _joined(bot)
    retry_after = 1 if status == 429 else None
    bot.api.fail_next("sendMessage", status, description, retry_after, times=10)
    with pytest.raises(raised):
        await post_unread(_Context(bot), "sendMessage", _message(bruno))  # type: ignore[arg-type]


async def test_a_429_reaches_the_rate_limiter_which_waits_and_sends_again(
    bot: BotUnderTest,
) -> None:
    bruno = await _joined(bot)
    limiter = bot.app.bot.rate_limiter
    before = limiter.limited  # type: ignore[union-attr]
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", 1)
    again = _message(bruno, "Hi again")
    await post_unread(_Context(bot), "sendMessage", again)  # type: ignore[arg-type]
    assert limiter.limited == before + 1  # type: ignore[union-attr]
    assert bruno.inbox[-1].text == "Hi again"


async def test_a_tap_on_a_message_telegram_no_longer_has_still_counts(
    bot: BotUnderTest,
) -> None:
    bruno = bot.person(611, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    consent = bruno.last
    assert consent is not None and consent.reply_markup is not None
    yes = consent.reply_markup["inline_keyboard"][0][0]["callback_data"]
    bot.conversation.fail_on_refusal = False  # the edit's refusal is the point
    await bruno.taps_data(yes, message_id=99_999)  # arrives as an inaccessible message
    # The edit is tried, as PTB tried it, and Telegram's "not found" is taken calmly.
    (method, params, status, description), *_ = bot.api.refusals
    assert (method, status) == ("editMessageReplyMarkup", 400) and "not found" in description
    assert params["message_id"] == 99_999
    assert "language" in bruno.last_text  # the answer counted: on to the next question


async def test_the_application_sets_nothing_these_requests_would_leave_out(
    bot: BotUnderTest,
) -> None:
    """post_unread sends what it is given: PTB's Defaults and its callback-data cache act
    only inside the typed methods, so the Application must set neither (bot/app/factory.py)."""
    assert bot.app.bot.defaults is None
    assert bot.app.bot.callback_data_cache is None
