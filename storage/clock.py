"""Where "now" comes from: one clock type, passed down from whoever starts the process.

The bot, the command line and the tests each decide the clock once (real time, the
simulated clock of bench/term.py, a test's fake clock) and hand it to the database and to
every service, so a fake clock moves everything that reads the time, storage included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)
