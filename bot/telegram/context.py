"""What handlers use, built once in post_init and kept as the Application's bot_data."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.buttons import ButtonSigner
from bot.clock import Clock
from bot.config import Settings
from bot.digest.compile import Options
from bot.digest.delivery import DigestDelivery
from bot.digest.service import Digests
from bot.flows.catalogue import build_registry
from bot.flows.engine import FlowEngine
from bot.flows.lesson_study import lesson_study_flows
from bot.flows.meeting import meeting_flows
from bot.flows.model import Flow
from bot.flows.partnership import partnership_flows
from bot.flows.reflection import reflection_flow
from bot.flows.summary import summary_flows
from bot.lesson_study.notices import Notices as LessonNotices
from bot.lesson_study.service import LessonStudy
from bot.meetings.service import Meetings
from bot.meetings.taps import MeetingTaps
from bot.people.catch_up import CatchUp
from bot.people.data_rights import DataRights
from bot.people.inviting import Inviting
from bot.people.joining import Joining
from bot.programme.status import Status
from bot.reflections.catch_up import catch_up as reflection_catch_up
from bot.reflections.prompts import load_definitions
from bot.reflections.replies import PromptReplies
from bot.reflections.service import ReflectionActions, Reflections
from bot.scheduling.notices import Notices
from bot.scheduling.scheduler import Scheduler
from bot.scheduling.supervision import pause
from bot.summaries.actions import ActionFollowUp
from bot.summaries.agreement import Agreement
from bot.summaries.partnership import Partnership
from bot.summaries.partnership_views import PartnershipViews
from bot.summaries.taps import SummaryTaps
from bot.telegram.flood import FloodGuard
from bot.telegram.ratelimit import SendLimits
from bot.telegram.sender import OutboxSender
from bot.telegram.shared_budget import SharedBudget
from bot.texts import Texts
from storage import meta
from storage.db import Database, Transaction
from storage.db import StorageUnavailable as StorageUnavailable
from storage.flow_states import FlowStateRepo
from storage.invites import InviteRepo
from storage.leader import LEAD_EVERY, Leadership
from storage.lease import LEASE_RENEW, LEASE_TTL, Lease, LeaseLost, lease_name
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.people import Person as Person
from storage.people import Role as Role
from storage.programme import ProgrammeRepo
from storage.schedule import ScheduleRepo
from storage.send_budget import SendBudgetRepo
from storage.status import StatusRepo
from storage.store import open_store
from storage.turns import retry_conflicts

log = logging.getLogger(__name__)
# StorageUnavailable, Person and Role are imported "as" themselves: handlers take them from
# here, since they import no storage module themselves.


async def button_key(db: Database) -> bytes:
    """The key that signs button data: made once, kept in the database across restarts
    (several workers starting at once make it together: all but one conflict, and read it)."""

    async def made() -> bytes:
        async with db.transaction() as tx:
            return await meta.secret_key(tx, "button_key")

    return await retry_conflicts(made)


def catch_up_of(meetings: Meetings, reflections: Reflections) -> CatchUp:
    """What someone new to a trio missed: the invitations to its upcoming meetings, and this
    period's reflection prompts."""

    async def prompts(tx: Transaction, person_id: int) -> int:
        return await reflection_catch_up(reflections, tx, person_id)

    return CatchUp((meetings.invite_newcomer, prompts))


async def offline_catch_up(db: Database, settings: Settings, clock: Clock) -> CatchUp:
    """The same for the command line (`triobot person move`), with no bot running: what it
    queues waits in the outbox for the bot to send."""
    texts = Texts()
    signer = ButtonSigner(await button_key(db))
    zone = settings.programme_tz
    reflections = Reflections(
        db, texts, signer, programme_zone=zone, definitions=load_definitions(), clock=clock
    )
    notices = Notices(texts, signer, clock, calendar=reflections.calendar, zone=zone)
    return catch_up_of(Meetings(db, notices, programme_zone=zone, clock=clock), reflections)


class Services:
    """Filled in by `start`; handlers reach it as `context.bot_data`."""

    settings: Settings
    db: Database
    texts: Texts
    engine: FlowEngine
    people: PeopleRepo
    programme: ProgrammeRepo
    invites: InviteRepo
    flow_states: FlowStateRepo
    joining: Joining
    inviting: Inviting
    data_rights: DataRights
    status: Status
    buttons: ButtonSigner
    clock: Clock
    reflections: Reflections
    reflection_actions: ReflectionActions
    prompt_replies: PromptReplies
    lesson_study: LessonStudy
    scheduler: Scheduler
    schedule: ScheduleRepo
    outbox: OutboxRepo
    sender: OutboxSender
    meetings: Meetings
    meeting_taps: MeetingTaps
    agreement: Agreement
    summary_taps: SummaryTaps
    partnership: Partnership
    partnership_views: PartnershipViews
    follow_up: ActionFollowUp
    digests: Digests
    digest_delivery: DigestDelivery
    flood: FloodGuard | None
    lease: Lease | None = None
    # Which worker runs the periodic jobs (PostgreSQL, several workers); SQLite: this one.
    leader: Leadership
    # Set when the bot is stopping: long loops (a big fan-out's ticks) end at their next step.
    stopping: asyncio.Event

    async def start(
        self,
        settings: Settings,
        *,
        clock: Clock,
        extra_flows: tuple[Flow, ...] = (),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.stopping = asyncio.Event()
        self.flood = (
            FloodGuard(settings.flood_per_minute, settings.flood_burst, clock)
            if settings.flood_per_minute > 0
            else None
        )
        self.db = await open_store(
            settings.db_path, clock=clock, synchronous=settings.db_synchronous
        )
        self.texts = Texts()
        self.people = PeopleRepo(self.db)
        self.programme = ProgrammeRepo(self.db)
        self.invites = InviteRepo(self.db)
        self.flow_states = FlowStateRepo(self.db)
        catch_up = CatchUp()  # its parts are added once the services they come from exist
        self.joining = Joining(self.db, clock, catch_up)
        self.inviting = Inviting(self.db)
        self.data_rights = DataRights(self.db, clock)
        self.status = Status(StatusRepo(self.db))
        signer = ButtonSigner(await button_key(self.db))
        self.buttons = signer
        self.reflections = Reflections(
            self.db,
            self.texts,
            signer,
            programme_zone=settings.programme_tz,
            definitions=load_definitions(),
            clock=clock,
        )
        self.reflection_actions = ReflectionActions(self.reflections)
        notices = Notices(
            self.texts,
            signer,
            clock,
            calendar=self.reflections.calendar,
            zone=settings.programme_tz,
        )
        zone = settings.programme_tz
        self.meetings = Meetings(self.db, notices, programme_zone=zone, clock=clock)
        self.meeting_taps = MeetingTaps(self.db, self.meetings)
        catch_up.parts = catch_up_of(self.meetings, self.reflections).parts
        self.follow_up = ActionFollowUp(self.db, notices, programme_zone=zone, clock=clock)
        self.agreement = Agreement(
            self.db,
            notices,
            self.follow_up,
            agree_within=timedelta(days=settings.summary_agree_days),
            clock=clock,
        )
        self.summary_taps = SummaryTaps(self.db, self.agreement, self.follow_up, clock)
        self.partnership = Partnership(self.db, notices, clock=clock)
        self.partnership_views = PartnershipViews(
            self.db, self.agreement.draft_values, zone=zone, clock=clock
        )
        self.lesson_study = LessonStudy(
            self.db,
            LessonNotices(notices),
            programme_zone=settings.programme_tz,
            lesson_minutes=settings.lesson_study_lesson_minutes,
            stall_after=timedelta(days=settings.lesson_study_stall_days),
            clock=clock,
        )
        # A message under a prompt answers it; observation notes are one of the prompts.
        self.prompt_replies = PromptReplies(self.reflections, self.lesson_study.notes_waiting)
        flows = (
            reflection_flow(self.reflection_actions.save_answer),
            *meeting_flows(self.meetings, clock),
            *summary_flows(self.agreement),
            *lesson_study_flows(self.lesson_study),
            *partnership_flows(self.partnership),
            *extra_flows,
        )
        self.engine = FlowEngine(
            self.db,
            build_registry(settings, flows, catch_up),
            signer,
            expiry=settings.flow_expiry,
            resume_after=settings.flow_resume_after,
            clock=clock,
        )
        self.digests = Digests(
            self.db,
            self.texts,
            settings.tz,
            Options(
                quiet_weeks=settings.quiet_weeks,
                trend_weeks=settings.digest_trend_weeks,
                stalled_weeks=settings.stalled_weeks,
            ),
            clock,
        )
        self.digest_delivery = DigestDelivery(
            self.digests,
            self.texts,
            settings.digest_weekday,
            settings.digest_time,
            calendar=self.reflections.calendar,
        )
        kinds = {
            **self.reflections.kinds(),
            **self.meetings.kinds(),
            **self.agreement.kinds(),
            **self.follow_up.kinds(),
            **self.digest_delivery.kinds(),
            **self.lesson_study.kinds(),
        }
        self.scheduler = Scheduler(self.db, kinds, clock=clock)
        self.leader = Leadership(self.db)
        self.schedule = ScheduleRepo(self.db)
        self.outbox = OutboxRepo(self.db)

    def attach_sender(
        self,
        bot: Bot,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> OutboxSender:
        limits = SendLimits(
            overall_per_second=self.settings.send_per_second,
            private_per_second=self.settings.send_per_chat_per_second,
            group_per_minute=self.settings.send_per_group_per_minute,
            reply_share=self.settings.reply_share,
        )
        self.sender = OutboxSender(
            self.db,
            bot,
            limits=limits,
            clock=self.clock,
            monotonic=monotonic,
            sleep=sleep,
            owner=self.lease.holder if self.lease is not None else None,
        )
        if self.db.dialect == "postgresql":
            # Several workers: Telegram's budget is the deployment's, kept in the database,
            # on the server's clock (or the simulated one tests and benchmarks pass).
            simulated = monotonic is not time.monotonic
            self.sender.shared = SharedBudget(
                SendBudgetRepo(self.db), limits, clock=monotonic if simulated else None, sleep=sleep
            )
        return self.sender

    async def keep_leading(self, stop: asyncio.Event) -> None:
        """Try for (or keep) the lead every LEAD_EVERY seconds while the bot runs."""
        while True:
            await self.leader.check()
            if await pause(stop, LEAD_EVERY):
                return

    async def take_lease(self) -> None:
        """One bot per database: raises LeaseHeld, naming the holder, if another runs."""
        lease = Lease(self.db, lease_name(self.db))
        replaced = await lease.acquire()
        self.lease = lease
        self.scheduler.owner = lease.holder
        if replaced is not None and replaced.holder != lease.holder:
            log.info("took over the lease of a stopped process (%s)", replaced.describe())

    async def keep_lease(self, stop: asyncio.Event) -> None:
        """Renew the lease while the bot runs. If another process took it meanwhile (ours
        expired: the database was unreachable longer than the lease lasts), this process
        must not go on beside it: it stops itself, as a SIGTERM would."""
        assert self.lease is not None
        while not await pause(stop, LEASE_RENEW.total_seconds()):
            try:
                await self.lease.renew()
            except StorageUnavailable as exc:
                # The lease outlasts a few missed renewals (LEASE_TTL): try at the next turn.
                log.warning("lease not renewed (%s); trying again in %s", exc, LEASE_RENEW)
            except LeaseLost:
                log.critical("another process took this database's lease: stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return

    async def stop(self) -> None:
        if not hasattr(self, "db"):
            return
        try:
            leader = getattr(self, "leader", None)
            if leader is not None:
                await leader.close()
            if self.lease is not None:
                await self.lease.release()
        except Exception as exc:  # it expires by itself: a stop must not fail over it
            log.warning("lease not released (%s); it expires in %s", exc, LEASE_TTL)
        finally:
            await self.db.close()


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], Services]
# The Application as this bot builds it: one alias instead of its six type parameters
# (what ApplicationBuilder infers for these context types).
App = Application[
    ExtBot[None],
    CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], Services],
    dict[Any, Any],
    dict[Any, Any],
    Services,
    JobQueue[CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]],
]
