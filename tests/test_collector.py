"""The garbage collector as the running bot sets it (bot/collector.py), and as it was
again once the bot stops."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot import collector
from tests.harness import BotUnderTest


async def test_a_running_bot_collects_young_objects_and_leaves_full_sweeps_to_its_loop(
    bot: BotUnderTest,
) -> None:
    young, _middle, old = gc.get_threshold()
    assert young == collector.YOUNG
    assert old == collector.NEVER
    assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's walk


async def test_a_sweep_frees_garbage_in_cycles(bot: BotUnderTest) -> None:
    class Node:
        pass

    held = []
    for _ in range(1000):
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        held.append(a)
    gc.collect(1)  # alive still: they move on to the oldest generation
    held.clear()  # now garbage, in cycles refcounting cannot free
    del a, b
    gc.collect(1)  # young and middle collections do not look there
    assert sum(isinstance(o, Node) for o in gc.get_objects()) == 2000
    collector.sweep()
    assert sum(isinstance(o, Node) for o in gc.get_objects()) == 0


async def test_a_stopped_bot_leaves_the_collector_as_python_set_it(bot: BotUnderTest) -> None:
    await bot.stop()
    assert gc.get_threshold() == collector.DEFAULT
    assert gc.get_freeze_count() == 0
    await bot.start()  # for the fixture's own stop


async def test_the_sweeping_loop_sweeps_until_the_bot_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    swept = []
    thrice = asyncio.Event()

    def sweep() -> float:
        swept.append(1)
        if len(swept) == 3:
            thrice.set()
        return 0.0

    monkeypatch.setattr(collector, "SWEEP_EVERY", 0.01)
    monkeypatch.setattr(collector, "sweep", sweep)
    stop = asyncio.Event()
    loop = asyncio.create_task(collector.keep_sweeping(stop))
    await asyncio.wait_for(thrice.wait(), timeout=2)
    stop.set()
    await asyncio.wait_for(loop, timeout=1)
