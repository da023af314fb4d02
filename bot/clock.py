"""A simulated clock for whole-process simulations (bench/term.py); off unless asked for.

    TRIOBOT_SIM_CLOCK=/path/to/clock-file triobot run

With the variable set, every reading of "now" in this process (`storage.db.utcnow`, which
the scheduler, flows, outbox and storage all use) is the UTC instant, in epoch seconds,
written in that file by the simulator. The simulator moves time by rewriting the file
atomically; between rewrites time stands still. Without the variable nothing changes: the
bot reads the real clock. Production never sets it; start-up logs a warning when it is set.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from storage.db import use_clock

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


def install_from_env() -> FileClock | None:
    """Use the simulated clock if TRIOBOT_SIM_CLOCK names a file; otherwise do nothing."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    clock = FileClock(Path(value))
    clock()  # fail at start-up, naming the file, rather than at the first tick
    use_clock(clock)
    log.warning("%s is set: this process runs on the simulated clock in %s", ENV, value)
    return clock
