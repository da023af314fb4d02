"""Several `triobot run` workers on one PostgreSQL (README "Scaling out").

Each worker here is what a process has of its own: a PostgresDatabase (its pool), and the
part of the bot under test built on it — the flow engine, the scheduler, the outbox sender,
the leadership. They share the one database, as N processes behind one webhook do.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from telegram import Bot
from telegram.ext import ExtBot

from bot.buttons import ButtonSigner
from bot.flows.answers import FreeText, TextIn
from bot.flows.engine import Actor, FlowEngine
from bot.flows.model import Flow, FlowRegistry, Step, StepContext
from bot.scheduling.scheduler import Fired, Kind, Scheduler
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from bot.telegram.context import Services
from bot.telegram.ratelimit import ChatRateLimiter, SendLimits
from bot.telegram.sender import OutboxSender
from bot.telegram.shared_budget import SharedBudget
from storage.db import Database, StorageUnavailable, Transaction
from storage.leader import Leadership
from storage.lease import real_now
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.schedule import Due, ScheduleRepo
from storage.send_budget import SendBudgetRepo
from storage.store import open_store
from storage.turns import person_transaction
from tests.conftest import FakeClock
from tests.harness import settings_for
from tests.postgres import server_url, with_database

# The store is PostgreSQL whatever TRIOBOT_TEST_STORE says: workers share a server.
pytestmark = pytest.mark.parametrize("store", ["postgresql"], indirect=True)

completed: list[dict[str, object]] = []


async def _record(tx: Transaction, ctx: StepContext) -> None:
    completed.append(dict(ctx.answers))


NOTES = Flow(
    name="notes",
    command="/notes",
    done_template="demo/done",
    complete=_record,
    steps=tuple(Step(f"n{i}", "demo/why", FreeText(max_len=50)) for i in range(8)),
)


@pytest.fixture
async def workers(db_path: str, clock: FakeClock) -> AsyncIterator[list[Database]]:
    """Three workers' databases: three pools on the one PostgreSQL database."""
    opened = [await open_store(db_path, clock=clock) for _ in range(3)]
    yield opened
    for db in opened:
        await db.close()


def engine_on(db: Database, clock: FakeClock) -> FlowEngine:
    return FlowEngine(
        db,
        FlowRegistry((NOTES,)),
        ButtonSigner(b"k" * 32),
        expiry=timedelta(hours=72),
        resume_after=timedelta(hours=1),
        clock=clock,
    )


async def test_one_persons_messages_through_two_workers_are_all_answered_in_turn(
    workers: list[Database], clock: FakeClock
) -> None:
    # Telegram posts two of Ana's messages at once, and the load balancer hands them to two
    # workers: each is answered, the flow moves on once per message, nothing is lost.
    completed.clear()
    first, second = engine_on(workers[0], clock), engine_on(workers[1], clock)
    async with workers[0].transaction() as tx:
        ana = await PeopleRepo.create(tx, telegram_id=42, school_id=None, role="teacher")
    actor = Actor(ana, 42, ZoneInfo("Europe/London"))
    await first.start(actor, "notes")
    for turn in range(4):
        a, b = await asyncio.gather(
            first.handle(actor, TextIn(f"via first {turn}")),
            second.handle(actor, TextIn(f"via second {turn}")),
        )
        assert a.handled and b.handled
    assert len(completed) == 1
    answers = set(completed[0].values())
    assert answers == {f"via {w} {t}" for w in ("first", "second") for t in range(4)}
    assert await workers[2].fetchval("SELECT COUNT(*) FROM flow_state") == 1


async def test_starting_a_flow_through_two_workers_at_once_opens_it_once(
    workers: list[Database], clock: FakeClock
) -> None:
    async with workers[0].transaction() as tx:
        ben = await PeopleRepo.create(tx, telegram_id=43, school_id=None, role="teacher")
    actor = Actor(ben, 43, ZoneInfo("Europe/London"))
    engines = [engine_on(db, clock) for db in workers]
    outcomes = await asyncio.gather(*(engine.start(actor, "notes") for engine in engines))
    assert all(outcome.replies for outcome in outcomes)  # each was asked the first question
    rows = await workers[0].fetchall("SELECT status FROM flow_state WHERE person_id = ?", (ben,))
    assert [row["status"] for row in rows] == ["open"]


async def test_a_worker_waiting_for_someones_turn_goes_on_with_everyone_elses(
    workers: list[Database], clock: FakeClock
) -> None:
    """Worker 0 is in the middle of Cleo's update; worker 1 gets her next one and waits for
    her turn, but meanwhile handles Dan's, rather than standing still behind hers."""
    async with workers[0].transaction() as tx:
        cleo = await PeopleRepo.create(tx, telegram_id=44, school_id=None, role="teacher")
        dan = await PeopleRepo.create(tx, telegram_id=45, school_id=None, role="teacher")
    release = asyncio.Event()
    holding = asyncio.Event()

    async def cleos_first_update() -> None:
        async with person_transaction(workers[0], cleo) as tx:
            await tx.execute("UPDATE person SET display_name = 'Cleo' WHERE id = ?", (cleo,))
            holding.set()
            await release.wait()

    async def cleos_second_update() -> str:
        async with person_transaction(workers[1], cleo) as tx:
            name = await tx.fetchval("SELECT display_name FROM person WHERE id = ?", (cleo,))
            return str(name)

    first = asyncio.create_task(cleos_first_update())
    await holding.wait()
    second = asyncio.create_task(cleos_second_update())
    await asyncio.sleep(0.05)  # worker 1 now waits for Cleo's turn
    async with asyncio.timeout(2):  # not behind her: her turn is still held
        async with person_transaction(workers[1], dan) as tx:
            await tx.execute("UPDATE person SET display_name = 'Dan' WHERE id = ?", (dan,))
    assert not second.done()
    release.set()
    await first
    assert await second == "Cleo"  # her second update saw what the first committed


def recording(fired: list[tuple[int, int]], worker: int) -> Kind:
    """A kind whose firing queues a message saying which row and which worker: what a
    firing commits, as a reflection prompt's does (`fired` also lists tries rolled back)."""

    async def handler(tx: Transaction, row: Due, now: datetime) -> Fired | None:
        fired.append((row.id, worker))
        await asyncio.sleep(0.001)  # the others' claims run meanwhile
        payload = {"text": f"row {row.id}", "row": row.id, "worker": worker}
        await OutboxRepo.enqueue(tx, 1, "notice", payload, now=now)
        return None

    return Kind(handler)


async def committed_firings(db: Database) -> list[tuple[int, int]]:
    rows = await db.fetchall("SELECT payload FROM outbox ORDER BY id")
    return [(json.loads(r["payload"])["row"], json.loads(r["payload"])["worker"]) for r in rows]


async def add_due(db: Database, clock: FakeClock, count: int) -> None:
    async with db.transaction() as tx:
        for n in range(count):
            await ScheduleRepo.add(tx, "note", clock() - timedelta(minutes=1), dedupe_key=f"n{n}")


async def ticking(scheduler: Scheduler) -> int:
    """A worker's schedule job: tick until nothing is due; a tick that conflicted with
    another worker's (StorageUnavailable, nothing of it kept) is tried again, as the job's
    next run would."""
    fired = 0
    while True:
        try:
            report = await scheduler.tick(limit=7)
        except StorageUnavailable:
            await asyncio.sleep(0.01)
            continue
        fired += report.fired
        if not await scheduler.db.fetchval("SELECT 1 FROM schedule WHERE status = 'pending'"):
            return fired
        await asyncio.sleep(0.005)  # the rest is another worker's claim, being fired


async def test_three_workers_ticking_fire_each_due_row_exactly_once(
    workers: list[Database], clock: FakeClock
) -> None:
    fired: list[tuple[int, int]] = []
    await add_due(workers[0], clock, 30)
    schedulers = [
        Scheduler(db, {"note": recording(fired, n)}, clock=clock, owner=f"worker-{n}")
        for n, db in enumerate(workers)
    ]
    reports = await asyncio.gather(*(ticking(s) for s in schedulers))
    assert sum(reports) == 30
    firings = await committed_firings(workers[0])
    assert sorted(row for row, _ in firings) == sorted({row for row, _ in fired})
    assert len(firings) == 30  # each row's message once, however often a try was undone
    rows = await workers[0].fetchall("SELECT status, claimed_by FROM schedule")
    assert {(row["status"], row["claimed_by"]) for row in rows} == {("done", None)}


async def test_a_row_claimed_by_a_worker_that_died_is_fired_by_another_after_expiry(
    workers: list[Database], clock: FakeClock
) -> None:
    fired: list[tuple[int, int]] = []
    stuck = asyncio.Event()

    async def hangs(tx: Transaction, row: Due, now: datetime) -> Fired | None:
        stuck.set()
        await asyncio.Event().wait()  # the worker dies here, mid-firing
        return None

    dying = Scheduler(workers[0], {"note": Kind(hangs)}, clock=clock, owner="dying")
    dying.claim_ttl = timedelta(seconds=1)
    other = Scheduler(workers[1], {"note": recording(fired, 1)}, clock=clock, owner="other")
    await add_due(workers[0], clock, 1)
    tick = asyncio.create_task(dying.tick())
    await asyncio.wait_for(stuck.wait(), timeout=10)
    # Death: its pool goes without a word; what it had not committed is rolled back.
    await workers[0]._pool.close()  # type: ignore[attr-defined]
    tick.cancel()
    with pytest.raises(BaseException):  # noqa: B017 - cancelled, or its pool closed
        await tick
    assert (await other.tick()).fired == 0  # the claim is live: not the other's yet
    claimed = await workers[2].fetchval("SELECT claimed_by FROM schedule")
    assert claimed == "dying"
    await asyncio.sleep(1.2)
    assert (await other.tick()).fired == 1
    assert [worker for _, worker in await committed_firings(workers[2])] == [1]
    assert await workers[2].fetchval("SELECT status FROM schedule") == "done"


def worker_services(db: Database, db_path: str, clock: FakeClock) -> Services:
    """The parts of a worker's Services the outbox sender needs."""
    services = Services()
    services.db = db
    services.clock = clock
    services.settings = settings_for(db_path)  # type: ignore[arg-type]
    return services


async def sender_on(services: Services, api: FakeTelegram) -> OutboxSender:
    bot = Bot(
        "123456:TEST",
        base_url=f"{services.settings.telegram_api_url}/bot",
        request=StandInRequest(api),
    )
    await bot.initialize()
    return services.attach_sender(bot)  # real time: the deployment's budget, in the database


async def queue_for(db: Database, clock: FakeClock, api: FakeTelegram, chats: range) -> None:
    for chat in chats:
        api.add_user(chat, f"T{chat}")
        api.started.add(chat)
    async with db.transaction() as tx:
        for chat in chats:
            await OutboxRepo.enqueue(tx, chat, "notice", {"text": f"hello {chat}"}, now=clock())


def sends_per_second(times: list[float]) -> int:
    """The most messages in any one second."""
    times = sorted(times)
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


async def test_three_senders_send_each_outbox_row_once_within_one_budget(
    workers: list[Database], db_path: str, clock: FakeClock
) -> None:
    api = FakeTelegram()  # Telegram's limits on real time: it refuses what goes over them
    sent_at: list[float] = []
    send = api.send_message

    def timed(p: dict[str, object], files: object) -> object:
        sent_at.append(time.monotonic())
        return send(p, files)  # type: ignore[arg-type]

    api.send_message = timed  # type: ignore[assignment,method-assign]
    api._methods["sendmessage"] = timed  # type: ignore[assignment]
    chats = range(7000, 7090)
    await queue_for(workers[0], clock, api, chats)
    senders = [await sender_on(worker_services(db, db_path, clock), api) for db in workers]
    await asyncio.gather(*(sender.drain() for sender in senders))
    assert all(len(api.messages_in(chat)) == 1 for chat in chats)
    assert sum(sender.stats.sent for sender in senders) == 90
    assert sum(1 for sender in senders if sender.stats.sent) > 1
    # Each would send 25 a second alone; together they keep to Telegram's 30 a second (a
    # second's worth at most at once, less the replies' share): the stand-in, which refuses
    # what goes over, refused nothing.
    assert sum(sender.stats.retry_after for sender in senders) == 0
    assert sends_per_second(sent_at) <= 30 + 24
    took = max(sent_at) - min(sent_at)
    assert (len(sent_at) - 24) / took <= 30.5
    for sender in senders:
        await sender.bot.shutdown()


async def test_a_claim_of_a_sender_that_died_is_sent_by_another_after_expiry(
    workers: list[Database], db_path: str, clock: FakeClock
) -> None:
    api = FakeTelegram()
    await queue_for(workers[0], clock, api, range(7100, 7101))
    row = (await OutboxRepo(workers[0]).sendable(clock(), 10))[0]
    # The first worker claims the row, then dies before sending it.
    until = real_now() + timedelta(seconds=1)
    assert await OutboxRepo(workers[0]).claim(row.id, "dead-worker", until, clock())
    await workers[0]._pool.close()  # type: ignore[attr-defined]
    other = await sender_on(worker_services(workers[1], db_path, clock), api)
    assert await other.drain() == 0
    await asyncio.sleep(1.2)
    assert await other.repo.release_stale(real_now()) == 1
    assert await other.drain() == 1
    assert len(api.messages_in(7100)) == 1
    await other.bot.shutdown()


async def test_leadership_moves_when_the_leaders_connection_dies(
    workers: list[Database],
) -> None:
    leaders = [Leadership(db) for db in workers]
    try:
        assert [await leader.check() for leader in leaders] == [True, False, False]
        assert [await leader.check() for leader in leaders] == [True, False, False]
        # The leader's connection dies (its process killed, its network gone).
        pid = leaders[0]._conn.info.backend_pid  # type: ignore[union-attr]
        url = server_url()
        assert url is not None
        with psycopg.connect(with_database(url, "postgres"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        started = time.monotonic()
        for _ in range(50):  # each worker tries every LEAD_EVERY (3 s); here more often
            if await leaders[1].check() or await leaders[2].check():
                break
            await asyncio.sleep(0.2)
        assert time.monotonic() - started < 10
        assert not await leaders[0].check()  # the old leader knows it no longer leads
        assert sum([leader.leading for leader in leaders]) == 1
    finally:
        for leader in leaders:
            await leader.close()


def reply_bot(db: Database, api: FakeTelegram, shared: SharedBudget) -> ExtBot:  # type: ignore[type-arg]
    """A worker's bot as the factory makes it: its replies through the rate limiter, which
    takes room in the deployment's budget."""
    limiter = ChatRateLimiter()
    limiter.shared_of = lambda: shared
    return ExtBot("123456:TEST", request=StandInRequest(api), rate_limiter=limiter)


async def test_replies_from_two_workers_into_one_chat_keep_to_its_limit(
    workers: list[Database],
) -> None:
    """Someone's updates went to two workers at once (a burst of taps): each answers, and
    together they keep to what Telegram takes in one chat (a few at once, then one a second),
    where each worker alone would have sent all of its own at once."""
    api = FakeTelegram()  # Telegram's limits on real time: it refuses what goes over them
    api.add_user(7200, "T7200")
    api.started.add(7200)
    bots = [
        reply_bot(db, api, SharedBudget(SendBudgetRepo(db), SendLimits())) for db in workers[:2]
    ]
    for one in bots:
        await one.initialize()
    began = time.monotonic()
    await asyncio.gather(
        *(
            one.send_message(7200, f"reply {k} from {i}")
            for i, one in enumerate(bots)
            for k in range(3)
        )
    )
    assert len(api.messages_in(7200)) == 6
    assert api.refusals == []  # no 429: the second worker waited for the first one's sends
    assert time.monotonic() - began >= 3.5  # 2 at once, then the others a second apart
    for one in bots:
        await one.shutdown()


async def test_a_429_met_by_one_worker_holds_the_chat_for_every_worker(
    workers: list[Database],
) -> None:
    ticks = [1_000.0]  # a simulated clock for the budget: the waits are read, not slept

    async def sleep(seconds: float) -> None:
        ticks[0] += seconds

    def budget(db: Database) -> SharedBudget:
        return SharedBudget(SendBudgetRepo(db), SendLimits(), clock=lambda: ticks[0], sleep=sleep)

    first, second = budget(workers[0]), budget(workers[1])
    await first.hold(7300, 5.0)  # Telegram told the first worker: wait 5 s in that chat
    assert await second.chat_wait(7300) >= 5.0  # the second's outbox does not write there
    await second.reply_room(7300)  # nor does its reply, before the 5 s are out
    assert ticks[0] >= 1_005.0
    assert await second.chat_wait(7301) == 0  # other chats are not held
