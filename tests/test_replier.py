"""Files and group questions go the one way replies go (bot/telegram/replier.py): tried again
after a 5xx, and handed to the outbox when Telegram still says "too many requests"."""

from __future__ import annotations

import json

import pytest

import bot.telegram.replier as replier
from tests.harness import BotUnderTest, join


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replier, "REPLY_RETRY_PAUSES", (0.0, 0.0, 0.0))


async def test_a_privacy_download_telegram_still_limits_goes_through_the_outbox(
    bot: BotUnderTest,
) -> None:
    bruno = bot.person(611, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await bruno.says("/privacy")
    bot.conversation.fail_on_refusal = False  # the 429s are the point
    bot.api.fail_next("sendDocument", 429, "Too Many Requests: retry after 1", 1, times=4)
    await bruno.taps("Download my data")
    assert not any(m.document for m in bruno.inbox)  # not yet: it waits in the outbox
    assert await bot.tick() == 0  # Telegram said to wait a second
    bot.clock.advance(1)
    assert await bot.tick() == 1
    name, content = next(m.document for m in bruno.inbox if m.document is not None)
    assert name.startswith("triobot-my-data-") and json.loads(content)["roles"] == ["teacher"]


async def test_a_file_refused_with_a_5xx_is_sent_again(bot: BotUnderTest) -> None:
    bruno = bot.person(611, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await bruno.says("/privacy")
    bot.conversation.fail_on_refusal = False
    bot.api.fail_next("sendDocument", 502, "Bad Gateway", times=2)
    await bruno.taps("Download my data")
    assert [m.document[0][:16] for m in bruno.inbox if m.document] == ["triobot-my-data-"]
    assert [r[2] for r in bot.api.refusals[-2:]] == [502, 502]
