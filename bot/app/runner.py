"""`triobot run`: long polling against TELEGRAM_API_URL (or, with TRIOBOT_WEBHOOK_URL,
Telegram posting updates to our HTTP server: README "Webhook mode"), started safely,
stopped in seconds.

Start: one instance per database (a lease; a second process refuses, naming the holder);
the Bot API is asked who we are until it answers, each wait logged with the URL (never the
token); a wrong URL (404) or a rejected token (401) ends with one line. Stop: the first
SIGTERM or SIGINT stops polling, lets the update and the message in flight finish, leaves
the rest queued and closes the database, within STOP_BOUND; a second signal exits at once.
In webhook mode the HTTP server closes first (Telegram keeps what it could not post, and
the webhook stays set), then what was already accepted is handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.request import HTTPXRequest

from bot.app.factory import build_application
from bot.app.health import health_routes
from bot.app.http import HttpServer
from bot.app.metrics import metrics_routes
from bot.app.webhook import WebhookRefused, WebhookRoute, set_webhook
from bot.clock import Clock
from bot.config import Settings
from bot.programme.demo import withdraw_demo_invites
from bot.scheduling.supervision import Backoff, pause, unless_stopped
from bot.telegram.context import App
from storage.db import StorageUnavailable, unavailable
from storage.lease import LeaseHeld, check_free
from storage.store import check_target, is_url, open_store

log = logging.getLogger(__name__)
TELEGRAM = "https://api.telegram.org"
# From the stop signal to the process ending, besides one Bot API request in flight.
STOP_BOUND = 5.0
# If stopping still has not finished by then, the process ends anyway: everything acknowledged
# is committed, and SQLite rolls back what was not.
STOP_DEADLINE = 12.0
# What the bot asks Telegram for, polled or posted: every kind (handlers pick theirs).
ALLOWED_UPDATES = list(Update.ALL_TYPES)


class StartRefused(Exception):
    """A reason not to start that the operator must fix, said in one line."""


async def close_demo_door(settings: Settings, clock: Clock) -> int:
    """On real Telegram strangers can type the demo's well-known codes (the console seeds
    them into the same default database): withdraw them first. A stand-in or a test Bot API
    server keeps them, for simulations."""
    if settings.telegram_api_url != TELEGRAM:
        return 0
    db = await open_store(settings.db_path, clock=clock)
    try:
        withdrawn = await withdraw_demo_invites(db)
    finally:
        await db.close()
    if withdrawn:
        log.warning("withdrew %d demo invite(s): their codes are public", withdrawn)
    return withdrawn


class StopSignals:
    """The first SIGTERM/SIGINT asks for a stop; a second one ends the process at once."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.received: float | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stop.is_set():
            log.warning("second %s: exiting now", sig.name)
            logging.shutdown()
            os._exit(130)
        self.received = time.monotonic()
        log.info("%s: stopping (a second signal exits at once)", sig.name)
        self.stop.set()


async def wait_for_bot_api(settings: Settings, stop: asyncio.Event) -> bool:
    """Ask getMe until the Bot API answers; False if told to stop first.

    Raises StartRefused for the answers no wait can change: 404 (the URL is not a Bot API;
    Telegram itself answers 404 only to a token of the wrong shape, and settings checked its
    shape) and 401 (the token was revoked or mistyped).
    """
    token = settings.telegram_bot_token
    assert token is not None
    shown = f"{settings.telegram_api_url}/bot<token>/getMe"
    url = f"{settings.telegram_api_url}/bot{token.get_secret_value()}/getMe"
    backoff = Backoff(first=1.0, most=60.0)
    request = HTTPXRequest(connect_timeout=5.0, read_timeout=10.0)
    await request.initialize()
    try:
        while not stop.is_set():
            try:
                code, _ = await request.do_request(url, "POST")
            except (TimedOut, NetworkError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                problem = problem.replace(token.get_secret_value(), "<token>")
            else:
                if code == 200:
                    return True
                if code == 401:
                    raise StartRefused(
                        f"The token was rejected by the server ({shown} answered 401"
                        " Unauthorized): check TELEGRAM_BOT_TOKEN against @BotFather"
                    )
                if code == 404:
                    raise StartRefused(
                        f"TELEGRAM_API_URL looks wrong: {shown} answered 404 Not Found"
                        " (it should be the Bot API server's root, like https://api.telegram.org)"
                    )
                problem = f"HTTP {code}"
            wait = backoff.next()
            log.warning(
                "Bot API at %s not answering (%s); trying again in %.0f s", shown, problem, wait
            )
            if await pause(stop, wait):
                return False
        return False
    finally:
        await request.shutdown()


def run_polling(settings: Settings, clock: Clock, early: Sequence[int] = ()) -> int:
    """Run until stopped (polling, or webhook mode when TRIOBOT_WEBHOOK_URL is set); the
    exit code. `early`: stop signals that came while starting."""
    try:
        return asyncio.run(_serve(settings, clock, early))
    except StartRefused as exc:
        print(exc, file=sys.stderr)
        return 2


def service_routes(app: App) -> list[web.RouteDef]:
    """The routes every HTTP server of ours serves besides the webhook (health, metrics)."""
    return health_routes(app) + metrics_routes(app)


async def _serve(settings: Settings, clock: Clock, early: Sequence[int] = ()) -> int:
    problem = settings.webhook_problem()
    if problem is not None:
        raise StartRefused(problem)
    signals = StopSignals()
    signals.install()
    if early:
        log.info("a stop signal came while starting: stopping")
        return 0
    try:
        # Before anything opens the database (and migrates it): one bot per database.
        check_target(settings.db_path)
        if not is_url(settings.db_path):  # PostgreSQL: a lease per worker (storage/lease.py)
            check_free(Path(settings.db_path))
        await close_demo_door(settings, clock)
    except LeaseHeld as exc:
        raise StartRefused(f"Not starting: {exc}") from None
    except (StorageUnavailable, sqlite3.Error) as exc:
        raise StartRefused(f"Not starting: the database is unavailable ({exc})") from None
    if not await wait_for_bot_api(settings, signals.stop):
        return 0
    app = await _started(settings, clock, signals.stop)
    if app is None:
        return 0
    server = _http_server(settings, app)
    try:
        if settings.webhook:
            await _run_webhook(app, settings, server, signals.stop)
        elif await unless_stopped(_start_polling(app), signals.stop):
            await app.start()
            if server is not None:
                await _listen(server)
            log.info("running: polling %s", settings.telegram_api_url)
            await signals.stop.wait()
    finally:
        await _stop_within_bound(app, signals, server)
    return 0


def _http_server(settings: Settings, app: App) -> HttpServer | None:
    """Polling: a server only when TRIOBOT_HTTP_LISTEN is set; webhook mode: always."""
    if settings.http_listen is None:
        return None
    server = HttpServer(settings.http_listen)
    server.add_routes(service_routes(app))
    if settings.webhook:
        assert settings.webhook_secret is not None
        route = WebhookRoute(app, settings.webhook_secret.get_secret_value())
        server.add_routes(route.routes(settings.webhook_path))
    return server


async def _listen(server: HttpServer) -> None:
    try:
        await server.start()
    except OSError as exc:
        raise StartRefused(
            f"Not starting: cannot listen on TRIOBOT_HTTP_LISTEN {server.host}:{server.port}"
            f" ({exc.strerror or exc})"
        ) from None


async def _run_webhook(
    app: App, settings: Settings, server: HttpServer | None, stop: asyncio.Event
) -> None:
    """Handle updates as they are posted: the queue's reader first, then the server, then
    Telegram told where to post (it starts at once)."""
    assert server is not None  # webhook_problem() said so
    await app.start()
    await _listen(server)
    try:
        # A stop signal cancels a setWebhook in flight too (as it does polling's start).
        told = await unless_stopped(set_webhook(app, settings, ALLOWED_UPDATES, stop), stop)
    except WebhookRefused as exc:
        raise StartRefused(f"Not starting: {exc}") from None
    if told and not stop.is_set():
        log.info(
            "running: webhook %s (served on %s:%d, path %s)",
            settings.webhook_url,
            server.host,
            server.port,
            settings.webhook_path,
        )
        await stop.wait()


async def _started(settings: Settings, clock: Clock, stop: asyncio.Event) -> App | None:
    """The Application, initialised; a database locked or full at start is waited out
    (logged, backed off) as at any other time. None if told to stop first."""
    backoff = Backoff(first=2.0, most=60.0)
    while not stop.is_set():
        app = build_application(
            settings, clock=clock, instance_lease=True, polling=not settings.webhook
        )
        try:
            await app.initialize()
            assert app.post_init is not None
            await app.post_init(app)
            return app
        except BaseException as exc:
            await _shutdown(app)
            if unavailable(exc):
                wait = backoff.next()
                log.warning("database unavailable at start (%s); trying again in %.0f s", exc, wait)
                await pause(stop, wait)
                continue
            refusal = _refusal(exc)
            if refusal is exc:
                raise
            raise refusal from None
    return None


def _refusal(exc: BaseException) -> BaseException:
    """What stopped start-up, as one line for the operator where it is their situation."""
    if isinstance(exc, LeaseHeld):
        return StartRefused(f"Not starting: {exc}")
    if isinstance(exc, sqlite3.Error):
        return StartRefused(f"Not starting: the database cannot be used ({exc})")
    if isinstance(exc, InvalidToken | NetworkError):
        # It answered a moment ago: say what changed, in one line, for the supervisor's log.
        return StartRefused(f"Not starting: the Bot API failed during start-up ({exc})")
    return exc


async def _start_polling(app: App) -> None:
    updater = app.updater
    assert updater is not None
    # bootstrap_retries=-1: a 5xx or a dropped connection at deleteWebhook is retried (the
    # stop signal still ends it: see unless_stopped).
    # PTB's start_polling calls deleteWebhook first (Updater._bootstrap), so a bot switched
    # back from webhook mode is polled again (tests/test_webhook.py checks it).
    await updater.start_polling(
        allowed_updates=ALLOWED_UPDATES,
        drop_pending_updates=False,
        bootstrap_retries=-1,
        error_callback=_polling_failed,
    )


def _polling_failed(exc: TelegramError) -> None:
    """PTB retries getUpdates by itself, with a growing pause; say why, once a try."""
    if isinstance(exc, Conflict):
        log.error(
            "getUpdates failed: 409 Conflict — another process is polling with this bot's"
            " token (a second deployment, or a webhook set elsewhere); retrying"
        )
    elif isinstance(exc, NetworkError):
        log.warning("getUpdates failed (%s: %s); retrying", type(exc).__name__, exc)
    else:
        log.error("getUpdates failed; retrying", exc_info=exc)


async def _stop_within_bound(
    app: App,
    signals: StopSignals,
    server: HttpServer | None = None,
) -> None:
    started = signals.received or time.monotonic()
    stopping = asyncio.ensure_future(_stop(app, server))
    done, _ = await asyncio.wait({stopping}, timeout=STOP_DEADLINE)
    took = time.monotonic() - started
    if not done:
        log.error("stopping took more than %.0f s: exiting with work in flight", STOP_DEADLINE)
        logging.shutdown()
        os._exit(1)
    if stopping.exception() is not None:
        log.error("error while stopping", exc_info=stopping.exception())
    (log.info if took <= STOP_BOUND else log.warning)("stopped in %.1f s", took)


async def _stop(app: App, server: HttpServer | None = None) -> None:
    # Webhook mode: nothing more is accepted (Telegram keeps it and posts it again later);
    # what was accepted is on the update queue, which app.stop() works off.
    if server is not None:
        with contextlib.suppress(Exception):
            await server.stop()
    # The outbox and the background loops are told first, so they wind down while polling
    # stops and the update in hand finishes.
    services = app.bot_data
    if hasattr(services, "stopping"):
        services.stopping.set()
        # Nothing waits out a locked database any more: what could not be written stays as
        # it was (an update not acknowledged is fetched again; a message stays queued).
        services.db.stopping = True
    updater = app.updater
    if updater is not None and updater.running:
        with contextlib.suppress(Exception):
            await updater.stop()
    if app.running:
        await app.stop()
    await _shutdown(app)


async def _shutdown(app: App) -> None:
    try:
        if app._initialized:  # PTB has no public flag for this
            await app.shutdown()
    finally:
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
