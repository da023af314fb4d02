"""A reply Telegram fails to take (5xx, a broken connection) is tried again; the answer it
acknowledges was stored before the first try, so nothing depends on the reply arriving."""

from __future__ import annotations

import pytest

import bot.telegram.replier as replier
from tests.harness import BotUnderTest, bruno_at_the_name_step, brunos_stored_name


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replier, "REPLY_RETRY_PAUSES", (0.0, 0.0, 0.0))


async def _at_name_step(bot: BotUnderTest) -> object:
    bruno = await bruno_at_the_name_step(bot)
    bot.conversation.fail_on_refusal = False  # the refusals below are the point
    return bruno


_name = brunos_stored_name


async def test_a_reply_refused_with_a_5xx_is_sent_again(bot: BotUnderTest) -> None:
    bruno = await _at_name_step(bot)
    bot.api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    await bruno.says("Bruno B.")  # type: ignore[attr-defined]
    assert "time zone" in bruno.last_text  # type: ignore[attr-defined]
    assert await _name(bot) == "Bruno B."
    assert [r[2] for r in bot.api.refusals[-2:]] == [502, 502]


async def test_after_three_failures_the_answer_is_kept_and_the_next_message_carries_on(
    bot: BotUnderTest,
) -> None:
    bruno = await _at_name_step(bot)
    sent = len(bruno.inbox)  # type: ignore[attr-defined]
    bot.api.fail_next("sendMessage", 500, "Internal Server Error", times=3)
    await bruno.says("Bruno B.")  # type: ignore[attr-defined]
    # The reply never got through; the error notice after it did.
    assert len(bruno.inbox) == sent + 1  # type: ignore[attr-defined]
    assert "went wrong" in bruno.last_text  # type: ignore[attr-defined]
    assert await _name(bot) == "Bruno B."  # but the answer was stored first
    await bruno.says("/start")  # type: ignore[attr-defined]  # they ask again
    assert "time zone" in bruno.last_text  # type: ignore[attr-defined]


async def test_a_refused_request_is_not_retried(bot: BotUnderTest) -> None:
    bruno = await _at_name_step(bot)
    bot.api.fail_next("sendMessage", 400, "Bad Request: can't parse entities", times=1)
    calls = bot.api.calls["sendMessage"]
    await bruno.says("Bruno B.")  # type: ignore[attr-defined]
    # The refused reply once (no retry), then the error notice.
    assert bot.api.calls["sendMessage"] == calls + 2
    assert [r[2] for r in bot.api.refusals] == [400]
