"""An update whose transaction another worker's conflicted with (PostgreSQL's serialization
failure: nothing of it was kept) is handled again at once, instead of the person being told
"not kept, send it again" — unless its try had already sent something, which must never go
twice. The conflict is made here by failing the flow's transaction at its end, as
PostgreSQL does at commit, on either store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg.errors
import pytest

import storage.turns as turns
from bot.telegram.conflicts import note_request, retrying
from storage.db import StorageUnavailable, Transaction
from tests.harness import BotUnderTest, bruno_at_the_name_step, brunos_stored_name

pytestmark = pytest.mark.both_stores


def conflict() -> StorageUnavailable:
    exc = StorageUnavailable("could not serialize access due to concurrent update")
    exc.__cause__ = psycopg.errors.SerializationFailure()
    return exc


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns.random, "uniform", lambda low, high: 0.0)


def conflicting(bot: BotUnderTest, times: int) -> list[int]:
    """The next `times` person transactions conflict at their end (their work undone); the
    list counts the person transactions begun."""
    engine = bot.services.engine
    real: Callable[..., AbstractAsyncContextManager[Transaction]] = engine._turn
    begun = [0]

    @asynccontextmanager
    async def turn(actor: Any) -> AsyncIterator[Transaction]:
        begun[0] += 1
        async with real(actor) as tx:
            yield tx
            if begun[0] <= times:
                raise conflict()  # inside: the transaction rolls back, as PostgreSQL's did

    engine._turn = turn  # type: ignore[method-assign]
    return begun


async def test_an_answer_that_met_a_conflict_is_taken_on_the_next_try(bot: BotUnderTest) -> None:
    bruno = await bruno_at_the_name_step(bot)
    sent = len(bruno.inbox)
    begun = conflicting(bot, times=2)
    await bruno.says("Bruno B.")
    assert begun[0] == 3  # two undone, the third kept
    assert "time zone" in bruno.last_text
    assert len(bruno.inbox) == sent + 1  # one reply: the next question, no "not kept"
    assert await brunos_stored_name(bot) == "Bruno B."


async def test_an_answer_that_keeps_conflicting_is_said_not_kept_and_can_be_sent_again(
    bot: BotUnderTest,
) -> None:
    bruno = await bruno_at_the_name_step(bot)
    begun = conflicting(bot, times=turns.CONFLICT_TRIES)
    await bruno.says("Bruno B.")
    assert begun[0] == turns.CONFLICT_TRIES
    assert "not kept" in bruno.last_text
    assert await brunos_stored_name(bot) is None  # nothing half-kept
    await bruno.says("Bruno B.")  # as the notice asks
    assert "time zone" in bruno.last_text
    assert await brunos_stored_name(bot) == "Bruno B."


async def test_a_try_that_already_sent_something_is_not_repeated() -> None:
    calls = []

    async def replies_then_conflicts(update: Any, context: Any) -> None:
        calls.append(update)
        note_request("sendMessage")  # a message went: a second try would send it twice
        raise conflict()

    with pytest.raises(StorageUnavailable):
        await retrying(replies_then_conflicts)(object(), None)  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_reading_a_file_does_not_stop_a_try_from_being_repeated() -> None:
    calls = []

    async def reads_a_voice_note_then_conflicts(update: Any, context: Any) -> None:
        calls.append(update)
        note_request("getFile")
        if len(calls) == 1:
            raise conflict()

    await retrying(reads_a_voice_note_then_conflicts)(object(), None)  # type: ignore[arg-type]
    assert len(calls) == 2


async def test_other_storage_failures_are_not_repeated() -> None:
    calls = []

    async def locked(update: Any, context: Any) -> None:
        calls.append(update)
        raise StorageUnavailable("database is locked")

    with pytest.raises(StorageUnavailable):
        await retrying(locked)(object(), None)  # type: ignore[arg-type]
    assert len(calls) == 1
