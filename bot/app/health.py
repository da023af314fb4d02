"""GET /healthz and GET /readyz: is the process alive, and is it doing its work.

/healthz answers from the event loop and nothing else: 200 means the loop runs (a supervisor
restarts the process when it stops answering). /readyz answers 200 only while all of:

- database: a real write goes through (one meta row, in its own short transaction) within
  `WRITE_TIMEOUT`; a database locked by another connection, or full, answers 503 in about
  that time and never holds the probe up longer;
- schedule: the scheduler ticked within three poll intervals (TRIOBOT_SCHEDULE_POLL_SECONDS),
  on the bot's clock;
- sender: the outbox loop runs and has shown a sign of life within `STUCK_AFTER` seconds
  beyond the wait it announced. A sender waiting out a 429's retry_after, or an outage of
  the Bot API, has announced that wait: it is alive and the bot is ready (a restart would not
  make Telegram answer sooner, and replies still go); the body says it is paused, and
  `triobot_sender_paused_seconds` shows it.

Otherwise 503, with a JSON body naming each check that failed and why.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.telegram.context import App, Services
from storage.db import StorageUnavailable
from storage.health import heartbeat

# Below the 1 s a probe is usually given (Kubernetes' default timeoutSeconds).
WRITE_TIMEOUT = 0.8
# Poll intervals the schedule may miss before the bot is not ready.
TICKS_MISSED = 3
# Seconds the sender may go without a sign of life beyond the wait it announced: longer than
# any one Bot API request (an upload of a digest file included) may take.
STUCK_AFTER = 120.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class Readiness:
    """The checks behind /readyz, on the running bot `app`."""

    def __init__(
        self, app: App, *, write_timeout: float = WRITE_TIMEOUT, stuck_after: float = STUCK_AFTER
    ) -> None:
        self.app = app
        self.write_timeout = write_timeout
        self.stuck_after = stuck_after

    async def checks(self) -> list[Check]:
        services: Services = self.app.bot_data
        if not hasattr(services, "db"):
            return [Check("bot", False, "starting: the services are not up yet")]
        if services.stopping.is_set():
            return [Check("bot", False, "stopping")]
        return [await self.database(services), self.schedule(services), self.sender(services)]

    async def database(self, services: Services) -> Check:
        try:
            await asyncio.wait_for(heartbeat(services.db, services.clock()), self.write_timeout)
        except TimeoutError:
            return Check(
                "database",
                False,
                f"no write went through within {self.write_timeout:g} s (locked?)",
            )
        except (StorageUnavailable, sqlite3.Error) as exc:
            return Check("database", False, f"cannot write: {exc}")
        except Exception as exc:  # closed while stopping, …: a probe answers, never a 500
            return Check("database", False, f"cannot write: {exc!r}")
        return Check("database", True, "writable")

    def schedule(self, services: Services) -> Check:
        poll = services.settings.schedule_poll_seconds
        ticked = services.scheduler.ticked_at
        if ticked is None:
            return Check("schedule", False, "the scheduler has not ticked yet")
        late = services.clock() - ticked
        if late > timedelta(seconds=TICKS_MISSED * poll):
            return Check(
                "schedule",
                False,
                f"last tick {late.total_seconds():.0f} s ago"
                f" (more than {TICKS_MISSED} poll intervals of {poll:g} s)",
            )
        return Check("schedule", True, f"ticked {late.total_seconds():.0f} s ago")

    def sender(self, services: Services) -> Check:
        sender = getattr(services, "sender", None)
        if sender is None or not sender.heartbeat.running:
            return Check("sender", False, "the outbox sender is not running")
        silent = sender.heartbeat.silent_for()
        if silent > self.stuck_after:
            return Check("sender", False, f"stuck: no sign of life for {silent:.0f} s")
        paused = sender.pacer.overall_wait()
        if paused >= 1.0:
            return Check("sender", True, f"alive, paused {paused:.0f} s more by Telegram")
        return Check("sender", True, "alive")


def health_routes(app: App, *, readiness: Readiness | None = None) -> list[web.RouteDef]:
    """GET /healthz and GET /readyz for `app` (HEAD too: aiohttp adds it to each GET)."""
    ready = readiness or Readiness(app)

    async def healthz(request: web.Request) -> web.Response:
        del request
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        del request
        checks = await ready.checks()
        failing = [check.name for check in checks if not check.ok]
        body = {
            "status": "not ready" if failing else "ready",
            "failing": failing,
            "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
        }
        return web.json_response(body, status=503 if failing else 200)

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
