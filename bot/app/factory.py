"""The application factory: one PTB Application, its handlers in order, its services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from telegram import Bot, BotCommand, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes
from telegram.request import BaseRequest, HTTPXRequest

from bot import collector
from bot.app.metrics import MeteredApplication
from bot.buttons import (
    ActionTap,
    ChosenTap,
    LessonStudyTap,
    MeetingTap,
    PromptReplyTap,
    QuestionTap,
    ReflectionTap,
    SummaryTap,
    TakenTap,
    Tap,
    TrioTap,
    pattern,
)
from bot.clock import Clock
from bot.config import Settings
from bot.flows.model import Flow
from bot.scheduling.supervision import Backoff, guarded_job, pause, supervise
from bot.telegram import conflicts
from bot.telegram.context import App, Context, Services
from bot.telegram.handlers import (
    account,
    admin,
    common,
    digest,
    fallback,
    flood,
    flow_input,
    groups,
    lesson_study,
    log_context,
    meetings,
    questions,
    reflect,
    start,
    summaries,
)
from bot.telegram.ordering import PerChatOrder
from bot.telegram.ratelimit import ChatRateLimiter
from bot.texts import LANGUAGES, MENU, Label

log = logging.getLogger(__name__)

EXPIRY_SWEEP = timedelta(minutes=5)
# At stop, how long each background loop may take to notice; the bound of a stop as a whole
# is the runner's (bot/app/runner.py).
TASK_STOP_BOUND = 3.0


Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]

# Each family of buttons (bot/buttons.py) and the handler its taps go to. The route is chosen
# by the data's prefix alone; the handler verifies the signature and decodes the button.
BUTTON_ROUTES: tuple[tuple[type[Tap], Callback], ...] = (
    (ReflectionTap, reflect.on_button),
    (MeetingTap, meetings.on_button),
    (TrioTap, meetings.on_trio_button),
    (SummaryTap, summaries.on_button),
    (ActionTap, summaries.on_action_button),
    (LessonStudyTap, lesson_study.on_button),
    (ChosenTap, flow_input.chosen),
    (PromptReplyTap, flow_input.not_an_answer),
    (TakenTap, flow_input.not_an_answer_here),
    (QuestionTap, questions.on_button),
)


def register_handlers(app: App) -> None:
    # 0. The update's ids for every log line while it is handled (group -2, first of all).
    log_context.register(app)
    #    Flood control, in group -1 before everything: a flooding person's update is
    #    dropped before any handler reads the database for it.
    flood.register(app)
    # Order matters within a group: PTB runs the first handler whose filter matches.
    # 1. Edited messages first: CommandHandler and MessageHandler also match edits, and an
    #    edit must never run a command again or count as a new answer.
    flow_input.register_first(app)
    # 2. Commands, first those that must not be answered in a group (they show personal
    #    details), then the rest, so "/cancel" is never taken as the answer to a free-text step.
    groups.register(app)
    # Commands, so "/cancel" is never taken as the answer to a free-text step.
    start.register(app)
    account.register(app)
    admin.register(app)
    reflect.register(app)
    meetings.register(app)
    summaries.register(app)
    digest.register(app)
    lesson_study.register(app)
    questions.register(app)
    # 3. Buttons outside flows, by family; then flow input (a flow's buttons, and any data
    #    no route took, which the engine refuses unless it signed it), text, voice.
    for family, callback in BUTTON_ROUTES:
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern(family)))
    flow_input.register(app)
    # 4. Commands nobody claimed, then any other kind of message (stickers, photos…),
    #    then the error handler: last, so they only see what everything above passed over.
    fallback.register(app)
    flow_input.register_last(app)
    # Any of them is run again when another worker's transaction conflicted with its own.
    conflicts.retry_all(app)
    # What runs once a flow finishes, when it needs more than messages.
    common.AFTER_FLOW["privacy"] = account.after_privacy
    common.AFTER_FLOW["onboarding"] = start.after_onboarding  # the menu fits their roles
    # Who an answer or comment went to is known once it is stored: said after the flow's end.
    common.AFTER_FLOW["partnership_answer"] = questions.after_reply
    common.AFTER_FLOW["partnership_comment"] = questions.after_reply


async def register_menu(app: App) -> None:
    """The menu everyone sees until they join; once they have, their own chat's menu lists
    only what their roles may use (bot/telegram/handlers/start.py `person_menu`)."""
    services: Services = app.bot_data
    for lang in LANGUAGES:
        commands = [
            BotCommand(name, services.texts.label(lang, Label(f"cmd_{name}"))) for name in MENU
        ]
        await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)


async def keep_registering_menu(
    app: App,
    stop: asyncio.Event,
) -> None:
    """The command menu is cosmetic: a Bot API that refuses it now (5xx, a timeout, a 404
    from a server without the method) is a warning, and it is tried again with a growing
    pause until it takes, never a reason not to start."""
    backoff = Backoff(first=5.0, most=600.0)
    while not stop.is_set():
        try:
            await register_menu(app)
        except Exception as exc:
            wait = backoff.next()
            log.warning("command menu not registered (%s); trying again in %.0f s", exc, wait)
            if await pause(stop, wait):
                return
        else:
            log.info("command menu registered")
            return


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    clock: Clock,
    extra_flows: tuple[Flow, ...] = (),
    polling: bool = True,
    rate_limiter: bool = True,
    menu: bool = True,
    background: bool = True,
    instance_lease: bool = False,
) -> App:
    """Build the bot. Tests and the console pass a stand-in `request`; nothing else differs.

    `instance_lease`: take the database's one-instance lease at start (`triobot run` and
    the console do), so a second process on the same database refuses to start.
    """
    token = settings.telegram_bot_token
    builder = (
        ApplicationBuilder()
        .token(token.get_secret_value() if token else "123456:CONSOLE")
        .base_url(f"{settings.telegram_api_url}/bot")
        .base_file_url(f"{settings.telegram_api_url}/file/bot")
        .context_types(ContextTypes(bot_data=Services))
        .concurrent_updates(PerChatOrder())
        # Counts each update and handler error for /metrics (bot/app/metrics.py).
        .application_class(MeteredApplication)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(updates_request or request)
    else:
        # A stop right after start cancels a long poll in flight, and PTB then calls
        # getUpdates once more to acknowledge what it fetched: with PTB's one connection
        # that call waits for the cancelled one's and fails with a traceback in the log.
        builder = builder.get_updates_connection_pool_size(2)
    if not polling:
        builder = builder.updater(None)
    limiter = ChatRateLimiter(max_retries=3) if rate_limiter else None
    if limiter is not None:
        # Keeps interactive replies under Telegram's limits and rides out a 429 by waiting,
        # in that chat only (PTB's AIORateLimiter would pause every chat).
        builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]

    # The outbox sends through a Bot of its own, without PTB's rate limiter: it paces itself
    # and handles 429s itself, where the limiter would retry inside the call.
    outbox_bot = Bot(
        token.get_secret_value() if token else "123456:CONSOLE",
        base_url=f"{settings.telegram_api_url}/bot",
        request=request or HTTPXRequest(connection_pool_size=4),
    )
    stopping = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def post_init(app: App) -> None:
        services: Services = app.bot_data
        await services.start(settings, clock=clock, extra_flows=extra_flows)
        if instance_lease:
            await services.take_lease()  # LeaseHeld: another process runs on this database
        await outbox_bot.initialize()
        services.attach_sender(outbox_bot)
        if limiter is not None:
            # Replies and the outbox share Telegram's budget, replies first (the outbox leaves
            # them a share: ratelimit.Budget); after a reply the outbox keeps that chat's gap.
            limiter.budget_of = lambda: services.sender.budget
            limiter.on_sent = lambda chat: services.sender.pacer.sent(chat)
            limiter.shared_of = lambda: services.sender.shared  # several workers: theirs
        stopping.clear()
        services.stopping = stopping
        # Each prompt's current round exists (idempotent): the schedule is complete at start.
        await services.reflections.ensure_rounds()
        await services.digest_delivery.ensure()

        def spawn(name: str, loop: Callable[[], Awaitable[None]], finite: bool = False) -> None:
            # Our own tasks, not app.create_task: Application.stop() waits for those to end,
            # and these end only when told to, in post_shutdown.
            supervised = supervise(name, loop, stopping, finite=finite)
            tasks.append(asyncio.create_task(supervised, name=name))

        if menu:
            spawn("command menu", lambda: keep_registering_menu(app, stopping), finite=True)
        if instance_lease:
            spawn("instance lease", lambda: services.keep_lease(stopping))
        if background and app.job_queue is not None:
            # Several workers on one PostgreSQL: one of them, the leader, runs the periodic
            # jobs (storage/leader.py); the others try for the lead every few seconds.
            await services.leader.check()
            if services.db.dialect == "postgresql":
                spawn("leadership", lambda: services.keep_leading(stopping))
            # Each job logs its failures and backs off (its state is this Application's).
            tick = guarded_job("schedule tick")(_tick)
            sweep = guarded_job("flow expiry sweep")(_sweep_expired)
            # Catch up at once on whatever fell due while the bot was down.
            app.job_queue.run_once(tick, when=0, name="schedule-catch-up")
            app.job_queue.run_repeating(
                tick,
                interval=settings.schedule_poll_seconds,
                first=settings.schedule_poll_seconds,
                name="schedule",
                # The table decides what is late and what to do about it, not APScheduler.
                job_kwargs={"misfire_grace_time": None, "coalesce": True},
            )
            app.job_queue.run_repeating(sweep, interval=EXPIRY_SWEEP, first=1, name="flow-expiry")
            spawn("outbox sender", lambda: services.sender.run(stopping))
        # Wired and started: what is alive now lives as long as the process; full
        # collections from here on come from this loop, not from allocation counts.
        collector.settle_startup()
        spawn("memory sweep", lambda: collector.keep_sweeping(stopping))

    async def post_shutdown(app: App) -> None:
        services: Services = app.bot_data
        stopping.set()
        collector.restore()
        # Each loop ends at its next wait once `stopping` is set; one that has not within the
        # bound (a call in flight on a dead connection) is cancelled, and awaited.
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=TASK_STOP_BOUND)
            for task in late:
                log.warning("%s did not stop in time: cancelled", task.get_name())
                task.cancel()
            for task in tasks:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("%s failed while stopping", task.get_name())
        tasks.clear()
        try:
            await outbox_bot.shutdown()
        finally:
            await services.stop()

    app = builder.post_init(post_init).post_shutdown(post_shutdown).build()
    register_handlers(app)
    return app


@asynccontextmanager
async def running(app: App) -> AsyncIterator[App]:
    """Run `app` without polling (tests, console, benchmarks): the same start-up as `run`.

    PTB calls post_init only from run_polling/run_webhook, so it is called here by hand.
    """
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            yield app
        finally:
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def _tick(context: object) -> None:
    """Fire what is due; wake the outbox sender if that queued messages."""
    app = getattr(context, "application", None)
    if app is None:
        return
    services: Services = app.bot_data
    if not services.leader.leading:
        return  # another worker runs the schedule
    report = await services.scheduler.run_due(stopping=services.stopping.is_set)
    if report.fired:
        services.sender.wake()


async def _sweep_expired(context: object) -> None:
    """Close flows left open past their expiry; the database says which, across restarts."""
    app = getattr(context, "application", None)
    if app is None:
        return
    services: Services = app.bot_data
    if not services.leader.leading:
        return
    count = await services.engine.expire_due()
    if count:
        log.info("expired %d open flows", count)
