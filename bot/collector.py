"""Python's cyclic garbage collector, set for a long-running bot (issue 22).

Refcounting frees almost everything a handled update allocates; the cyclic collector only
finds cycles. By default it runs a young collection every 700 new container objects and,
every hundred of those, a full one walking every tracked object: at 10,000 people some
600 MB of them, nearly all alive since start-up or holding the programme. Measured with
`bench/flow_throughput.py` (GC on and off, one after the other): the collector took about
a tenth of each update's time, most of it in those full walks.

So, once the bot is wired and started (`settle_startup`):
- `gc.freeze()` moves every object alive then out of the collector's view (they stay
  refcounted, and are freed as ever when nothing refers to them);
- young collections run every YOUNG objects instead of 700, and the full ones no longer
  by allocation count but every SWEEP_EVERY seconds, from the bot's own supervised loop
  (`keep_sweeping`): one pause of a few hundred milliseconds at most every five minutes,
  rather than one every few thousand updates. Garbage in cycles that outlives the young
  collections waits for the next sweep: at most five minutes' worth, which the sweep frees.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

log = logging.getLogger(__name__)

YOUNG = 10_000
# Full collections by allocation count: never (gc's third threshold, in middle collections).
NEVER = 1_000_000_000
SWEEP_EVERY = 300.0
DEFAULT = gc.get_threshold()  # as Python set it, before anything here changed it


def freeze_startup() -> None:
    """Move what is alive now out of the collector's view (safe to call again: each call
    freezes what is alive by then). A short command (a digest, an export) needs no more."""
    gc.freeze()


def settle_startup() -> None:
    """The running bot: freeze what start-up made and space the collections out, the full
    ones left to `keep_sweeping`."""
    freeze_startup()
    _young, middle, _old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, NEVER)


def restore() -> None:
    """At the bot's stop, the collector as Python sets it (a test run, the console and a
    benchmark start many bots in one process, and must not go on without full collections)."""
    gc.unfreeze()
    gc.set_threshold(*DEFAULT)


def sweep() -> float:
    """A full collection now; the seconds it took."""
    began = time.perf_counter()
    found = gc.collect()
    took = time.perf_counter() - began
    log.debug("full collection: %d unreachable objects in %.3f s", found, took)
    return took


async def keep_sweeping(stop: asyncio.Event) -> None:
    """The full collections, every SWEEP_EVERY seconds while the bot runs."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=SWEEP_EVERY)
        if stop.is_set():
            return
        sweep()
