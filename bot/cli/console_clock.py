"""The console's clock: the bot's "now", which `/clock` moves forward (never back).

The console hands this one clock to the bot (and to the stand-in, for message dates), so
moving it moves everything that reads the time. Between moves it runs on from the clock it
was given (the real one, or a test's fake clock): an interactive console keeps real time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock

_STEP = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MOST = timedelta(days=400)  # beyond a school year: surely a typo


class BadTime(ValueError):
    """A `/clock` argument that is not a time, or that would move time back."""


class MovableClock:
    """`base()` plus however far `/clock` has moved it."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self.base() + self.offset

    def timestamp(self) -> float:
        """Epoch seconds, for the stand-in's message dates."""
        return self().timestamp()

    def start_at(self, moment: datetime) -> None:
        """Run from `moment` on (`triobot console --at`): set once, before the bot starts."""
        self.offset = moment - self.base()

    def advance(self, step: timedelta) -> None:
        if step < timedelta(0):
            raise BadTime("time only moves forward")
        self.offset += step


def target(argument: str, now: datetime, zone: ZoneInfo) -> datetime:
    """Where `/clock ARGUMENT` moves to: `+2h`, `+3d`, `+1d 2h`, `+30m`, `+1w`, or a
    programme-local `2026-12-07 15:50` (or a date alone: its midnight). Raises BadTime."""
    text = argument.strip().casefold()
    if text.startswith(("+", "-")):
        sign, rest = text[0], text[1:].replace(" ", "")
        steps = _STEP.findall(rest)
        if not steps or "".join(n + u for n, u in steps) != rest:
            raise BadTime(f"I can't read {argument.strip()!r} as a step of time")
        step = sum(
            (timedelta(**{_UNITS[unit]: int(number)}) for number, unit in steps), timedelta(0)
        )
        if sign == "-":
            raise BadTime("time only moves forward")
        if step > _MOST:
            raise BadTime("that is more than a year ahead")
        return now + step
    moment = local_time(text, zone)
    if moment < now:
        raise BadTime("time only moves forward")
    if moment - now > _MOST:
        raise BadTime("that is more than a year ahead")
    return moment


def local_time(text: str, zone: ZoneInfo) -> datetime:
    """`2026-12-07 15:50` (or `2026-12-07`, its midnight) in `zone`; raises BadTime."""
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            local = datetime.strptime(" ".join(text.split()), pattern)
        except ValueError:
            continue
        return local.replace(tzinfo=zone)
    raise BadTime(f"I can't read {text.strip()!r} as a time")
