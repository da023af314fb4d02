"""Background work that never dies silently: each loop logs, backs off and carries on.

`supervise` runs a loop for as long as the bot runs; if the loop raises, or returns before
it was told to stop, the failure is logged and the loop is started again after a backoff
that grows while it keeps failing and resets once it runs for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from storage.db import StorageUnavailable

log = logging.getLogger(__name__)


class Backoff:
    """Waits that double from `first` to `most`, with a little jitter so two processes
    retrying against one database do not keep colliding."""

    def __init__(self, first: float = 1.0, most: float = 60.0) -> None:
        self.first = first
        self.most = most
        self._next = first

    def next(self) -> float:
        wait = self._next
        self._next = min(self.most, self._next * 2)
        return wait * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret

    def reset(self) -> None:
        self._next = self.first


async def pause(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set meanwhile; True when stopping."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    return stop.is_set()


async def unless_stopped(work: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Run `work` unless `stop` is set first (then it is cancelled); True if it finished."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return False
    task.result()
    return True


class Heartbeat:
    """A loop's sign of life, for /readyz: whether it runs, when it last beat (`clock`
    seconds) and how long it then said it would be quiet (a pause, an idle wait)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.running = False
        self._at, self._quiet = clock(), 0.0

    @contextmanager
    def loop(self) -> Iterator[None]:
        """Around the loop's body: `running` while inside."""
        self.running = True
        self.beat()
        try:
            yield
        finally:
            self.running = False

    def beat(self, quiet: float = 0.0) -> None:
        self._at, self._quiet = self.clock(), quiet

    def silent_for(self) -> float:
        """Seconds without a beat beyond the quiet announced: 0 while the loop keeps its word."""
        return max(0.0, self.clock() - self._at - self._quiet)


# A loop that ran this long before it failed counts as recovered: its backoff starts again.
HEALTHY_AFTER = 60.0


async def supervise(
    name: str,
    loop: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    *,
    backoff: Backoff | None = None,
    finite: bool = False,
) -> None:
    """Run `loop()` until `stop` is set, restarting it whenever it fails or ends early.

    A `finite` job (registering the command menu) is done when it returns; only its failures
    start it again."""
    backoff = backoff or Backoff()
    restarts = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            if time.monotonic() - started > HEALTHY_AFTER:
                backoff.reset()
            wait = backoff.next()
            restarts += 1
            log.exception("%s failed; restarting it in %.1f s (restart %d)", name, wait, restarts)
        else:
            if stop.is_set() or finite:
                return
            wait = backoff.next()
            restarts += 1
            log.error(
                "%s ended by itself; restarting it in %.1f s (restart %d)", name, wait, restarts
            )
        if await pause(stop, wait):
            return
        log.info("%s restarted", name)


Job = Callable[[Any], Coroutine[Any, Any, None]]


def guarded_job(name: str, *, first: float = 15.0, most: float = 300.0) -> Callable[[Job], Job]:
    """A periodic job (PTB's JobQueue) that logs its failures and backs off: after a failure
    the following runs are skipped for a growing pause, then it is tried again. A database
    that is locked or full is a warning; anything else is logged with its traceback."""

    def wrap(body: Job) -> Job:
        backoff = Backoff(first=first, most=most)
        retry_at = 0.0

        async def job(context: object) -> None:
            nonlocal retry_at
            if time.monotonic() < retry_at:
                return
            try:
                await body(context)
            except (StorageUnavailable, sqlite3.Error) as exc:
                wait = backoff.next()
                retry_at = time.monotonic() + wait
                log.warning(
                    "%s paused: database unavailable (%s); next try in %.0f s", name, exc, wait
                )
            except Exception:
                wait = backoff.next()
                retry_at = time.monotonic() + wait
                log.exception("%s failed; next try in %.0f s", name, wait)
            else:
                if retry_at:
                    log.info("%s running again", name)
                    retry_at = 0.0
                backoff.reset()

        job.__name__ = body.__name__
        job.__doc__ = body.__doc__
        return job

    return wrap
