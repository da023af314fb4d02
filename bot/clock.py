"""The process's clock: real time, or a simulated clock for whole-process simulations.

    TRIOBOT_SIM_CLOCK=/path/to/clock-file triobot run

The command line decides the clock once (`from_env`) and passes it down: to the database,
whose repositories stamp rows with it, and to every service that reads "now". With the
variable set, that clock is the UTC instant, in epoch seconds, written in the file by the
simulator (bench/term.py). The simulator moves time by rewriting the file atomically;
between rewrites time stands still. Without the variable the bot reads the real clock.
Production never sets it; start-up logs a warning when it is set.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from storage.clock import Clock, utcnow

__all__ = ["ENV", "Clock", "FileClock", "from_env", "utcnow", "write"]

ENV = "TRIOBOT_SIM_CLOCK"
log = logging.getLogger(__name__)


class FileClock:
    """Reads the simulated instant from a file, re-reading only when the file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._now = datetime.now(UTC)

    def __call__(self) -> datetime:
        found = self.path.stat()
        stamp = (found.st_ino, found.st_mtime_ns)  # each write is a new file (os.replace)
        if stamp != self._stamp:
            self._now = datetime.fromtimestamp(float(self.path.read_text()), UTC)
            self._stamp = stamp
        return self._now


def write(path: Path, moment: datetime) -> None:
    """Set the simulated time (the simulator's side): write aside, then rename over."""
    aside = path.with_name(path.name + ".new")
    aside.write_text(repr(moment.timestamp()))
    os.replace(aside, path)


def from_env() -> Clock:
    """The simulated clock if TRIOBOT_SIM_CLOCK names a file; otherwise the real one."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return utcnow
    clock = FileClock(Path(value))
    clock()  # fail at start-up, naming the file, rather than at the first tick
    log.warning("%s is set: this process runs on the simulated clock in %s", ENV, value)
    return clock
