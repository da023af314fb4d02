"""GET /metrics: what the bot is doing, in Prometheus's text format.

Each Application has its own registry (never prometheus-client's global one), so two bots in
one process — tests — never see each other's numbers. Three kinds of source:

- the update path, counted as it happens: `MeteredApplication` wraps PTB's `process_update`
  (every update, whichever way it came: polling, a webhook, the stand-in) and `process_error`;
- counters the sender, the rate limiter and the scheduler keep anyway, read at scrape time;
- the queues in the database (outbox, schedule, open flows), read once per scrape with a
  timeout: a database that does not answer in time leaves them out and says so in
  `triobot_metrics_db_up 0`, and everything kept in memory is still shown.

README "Health and metrics" lists every metric; tests/test_metrics.py checks that the list
and what is exposed are the same.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update
from telegram.ext import Application

from bot.telegram.context import App, Services
from bot.telegram.ratelimit import ChatRateLimiter
from storage.db import StorageUnavailable
from storage.health import Backlog, backlog

log = logging.getLogger(__name__)
# The `_created` series prometheus-client adds to each counter say only when the process
# started; without them the output is the documented metrics alone.
disable_created_metrics()  # type: ignore[no-untyped-call]

# The classic text format, which is what generate_latest writes for these names; every
# Prometheus reads it (2.x refuses the "version=1.0.0" newer clients announce).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# How long a scrape waits for the database; below a scraper's usual 10 s timeout.
DB_READ_TIMEOUT = 2.0
# A schedule row due longer ago than this many poll intervals is overdue (as in /readyz).
OVERDUE_POLLS = 3


def update_kind(update: object) -> str:
    """The kind of an update, as `triobot_updates_total` labels it."""
    if not isinstance(update, Update):
        return "other"
    if update.callback_query is not None:
        return "callback"
    if update.edited_message is not None:
        return "edited"
    message = update.message
    if message is not None:
        if message.text is not None and message.text.startswith("/"):
            return "command"
        return "voice" if message.voice is not None else "message"
    if update.my_chat_member is not None or update.chat_member is not None:
        return "membership"
    return "other"


class Metrics:
    """One Application's registry: the update path's own metrics, and a collector reading
    the rest when scraped."""

    def __init__(self, app: App, *, db_timeout: float = DB_READ_TIMEOUT) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.db_timeout = db_timeout
        self.updates = Counter(
            "triobot_updates",
            "Updates handled, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "triobot_handler_seconds",
            "Seconds from an update's arrival to the end of its handling, by kind.",
            ["kind"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )
        self.handler_errors = Counter(
            "triobot_handler_errors",
            "Updates whose handler raised (the person was told to try again).",
            registry=self.registry,
        )
        self.live = _Live(app)
        self._by_kind: dict[str, tuple[Any, Any]] = {}
        self.registry.register(self.live)

    def handled(self, kind: str, seconds: float) -> None:
        # Each kind's two children looked up once (`labels` takes a lock and builds a key).
        children = self._by_kind.get(kind)
        if children is None:
            children = self._by_kind[kind] = (
                self.updates.labels(kind),
                self.handler_seconds.labels(kind),
            )
        children[0].inc()
        children[1].observe(seconds)

    async def render(self) -> bytes:
        """The text a scrape answers: the database read first (bounded), then everything."""
        await self.live.read_database(self.db_timeout)
        return generate_latest(self.registry)


class MeteredApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, counting each update it processes and each handler error."""

    _metrics: Metrics | None = None

    @property
    def metrics(self) -> Metrics:
        if self._metrics is None:
            self._metrics = Metrics(self)
        return self._metrics

    async def process_update(self, update: object) -> None:
        kind = update_kind(update)
        started = time.perf_counter()
        try:
            await super().process_update(update)
        finally:
            self.metrics.handled(kind, time.perf_counter() - started)

    async def process_error(
        self, update: object | None, error: Exception, job: Any = None, coroutine: Any = None
    ) -> bool:
        if update is not None:  # a handler's failure, not a job's
            self.metrics.handler_errors.inc()
        return await super().process_error(update, error, job, coroutine)


def metrics_of(app: App) -> Metrics:
    if not isinstance(app, MeteredApplication):
        raise TypeError("the Application was not built by build_application")
    return app.metrics


def metrics_routes(app: App) -> list[web.RouteDef]:
    """GET /metrics for `app` (built by build_application)."""
    metrics = metrics_of(app)

    async def scrape(request: web.Request) -> web.Response:
        del request
        return web.Response(body=await metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    return [web.get("/metrics", scrape)]


class _Live(Collector):
    """What the rest of the bot keeps, read when scraped."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.backlog: Backlog | None = None
        self.db_up = False

    def _services(self) -> Services | None:
        services: Services = self.app.bot_data
        return services if hasattr(services, "db") else None  # None until post_init

    async def read_database(self, patience: float) -> None:
        services = self._services()
        self.backlog, self.db_up = None, False
        if services is None:
            return
        now = services.clock()
        overdue = now - timedelta(seconds=OVERDUE_POLLS * services.settings.schedule_poll_seconds)
        try:
            self.backlog = await asyncio.wait_for(backlog(services.db, now, overdue), patience)
        except (TimeoutError, StorageUnavailable, sqlite3.Error) as exc:
            log.warning("metrics: the database did not answer (%s)", exc or "timed out")
            return
        except Exception as exc:  # closed while stopping, …: the scrape still answers
            log.warning("metrics: the database could not be read (%r)", exc)
            return
        self.db_up = True

    def describe(self) -> Iterator[Metric]:
        return iter(())  # names are known only once collected; none clash with the others

    def collect(self) -> Iterator[Metric]:
        services = self._services()
        yield _gauge(
            "triobot_metrics_db_up", "1 if this scrape read the database in time.", self.db_up
        )
        yield from self._sending(services)
        yield from self._schedule(services)
        yield from self._queues(services)

    def _sending(self, services: Services | None) -> Iterator[Metric]:
        sent = _counter("triobot_messages_sent", "Messages Telegram accepted, by way.", "via")
        limited = _counter("triobot_telegram_429", "429 Too Many Requests met, by way.", "via")
        waited = _counter(
            "triobot_telegram_429_wait_seconds", "Seconds of waiting 429s asked for, by way.", "via"
        )
        failed = _counter(
            "triobot_deliveries_failed",
            "Outbox messages given up: refused by Telegram, or the person unreachable (403).",
            "reason",
        )
        paused = GaugeMetricFamily(
            "triobot_sender_paused_seconds",
            "Seconds until the outbox may send again (a 429's retry_after, an outage pause).",
        )
        sender = getattr(services, "sender", None)
        if sender is not None:
            stats = sender.stats
            sent.add_metric(["outbox"], stats.sent)
            limited.add_metric(["outbox"], stats.retry_after)
            waited.add_metric(["outbox"], stats.retry_after_seconds)
            failed.add_metric(["refused"], stats.failed)
            failed.add_metric(["unreachable"], stats.unreachable)
            paused.add_metric([], sender.pacer.overall_wait())
        limiter = self.app.bot.rate_limiter
        if isinstance(limiter, ChatRateLimiter):
            sent.add_metric(["reply"], limiter.sent)
            limited.add_metric(["reply"], limiter.limited)
            waited.add_metric(["reply"], limiter.limited_seconds)
        yield from (sent, limited, waited, failed, paused)

    def _schedule(self, services: Services | None) -> Iterator[Metric]:
        fired = _counter(
            "triobot_schedule_rows",
            "Schedule rows the scheduler settled, by outcome (fired, dropped, postponed, failed).",
            "outcome",
        )
        since = GaugeMetricFamily(
            "triobot_schedule_last_tick_seconds", "Seconds since the scheduler last ticked."
        )
        if services is not None:
            scheduler = services.scheduler
            for outcome in ("fired", "dropped", "postponed", "failed"):
                fired.add_metric([outcome], getattr(scheduler.totals, outcome))
            if scheduler.ticked_at is not None:
                since.add_metric([], (services.clock() - scheduler.ticked_at).total_seconds())
        yield from (fired, since)

    def _queues(self, services: Services | None) -> Iterator[Metric]:
        backlog = self.backlog
        depth = GaugeMetricFamily("triobot_outbox_depth", "Outbox rows waiting to be sent.")
        oldest = GaugeMetricFamily(
            "triobot_outbox_oldest_seconds",
            "How long the oldest outbox row that may go now has waited (0: none waits).",
        )
        due = GaugeMetricFamily("triobot_schedule_due", "Schedule rows due now, not yet fired.")
        overdue = GaugeMetricFamily(
            "triobot_schedule_overdue",
            f"Schedule rows due more than {OVERDUE_POLLS} poll intervals ago, not yet fired.",
        )
        flows = GaugeMetricFamily(
            "triobot_flows_open", "Conversations open, by flow.", labels=["flow"]
        )
        if backlog is not None and services is not None:
            depth.add_metric([], backlog.outbox_depth)
            waited = backlog.outbox_oldest_due
            oldest.add_metric(
                [], 0.0 if waited is None else (services.clock() - waited).total_seconds()
            )
            due.add_metric([], backlog.schedule_due)
            overdue.add_metric([], backlog.schedule_overdue)
            for flow, count in backlog.flows_open:
                flows.add_metric([flow], count)
        yield from (depth, oldest, due, overdue, flows)


def _counter(name: str, documentation: str, label: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=[label])


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
