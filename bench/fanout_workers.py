"""The fan-out across several workers: `bench/fanout.py --db postgresql://… --workers 3`.

N consenting teachers share a reminder time, on a PostgreSQL database of the run's own
(bench/scratch_db.py). The weekly round is made in this process (the scheduler at Monday
09:00 turns it into N deliveries due Tuesday 15:45); then `--workers` real `triobot run`
processes start on the database with the simulated clock standing at 15:45, webhook mode
behind the term's balancer (bench/term_fleet.py), against the HTTP stand-in for Telegram,
which enforces Telegram's limits in real time (30 messages a second overall, about one a
second per chat) and answers 429 past them. Every worker's scheduler and outbox share the
one set of due rows; each worker is configured for TRIOBOT_SEND_PER_SECOND (25), meant for
the deployment as a whole.

It reports, from the stand-in's own record: every prompt arrived exactly once (none lost,
none twice), the 429s provoked, and the achieved rate, from the first prompt's arrival to
the last, as a share of Telegram's 30/s and of the configured rate; and verifies them: each
arrived once, no 429, and the deployment at ≥ 0.95 of its configured rate without going
past it (a rate above it means the workers each spent the whole budget).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.fanout import DUE, START, is_prompt, seed_people, settings
from bench.scratch_db import scratch_database
from bench.term_fleet import Fleet
from bot import clock as sim_clock
from bot.app.factory import build_application, running
from bot.standin.api import FakeTelegram
from bot.standin.http import StandInServer
from bot.standin.limits import Limits
from bot.standin.request import StandInRequest
from bot.telegram.context import Services

TELEGRAM_LIMIT = 30.0  # messages a second, overall
MIN_RATIO = 0.95
# The rate may exceed the configured one by this share before it counts as going past it
# (a first burst, and a rate measured over a few seconds).
OVER = 1.05
PATIENCE = 30.0  # real seconds without a new prompt arriving before the run stops waiting


class TimedTelegram(FakeTelegram):
    """The stand-in, noting when (real seconds) each prompt was accepted."""

    def __init__(self) -> None:
        super().__init__(limits=Limits())
        self.prompt_times: list[float] = []

    async def handle(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
    ) -> tuple[int, dict[str, Any]]:
        result = await super().handle(method, params, files)
        sent = result[0] == 200 and method.lower() == "sendmessage"
        if sent and is_prompt(str(params.get("text", ""))):
            self.prompt_times.append(time.monotonic())
        return result


async def prepare(url: str, people: int, per_second: float) -> list[int]:
    """Migrate, seed `people` teachers, and turn the weekly round into their deliveries."""
    app = build_application(
        settings(url, per_second),  # type: ignore[arg-type]
        request=StandInRequest(FakeTelegram()),
        polling=False,
        clock=lambda: START,
        background=False,
        menu=False,
    )
    async with running(app):
        services: Services = app.bot_data
        ids = await seed_people(services.db, people)
        await services.reflections.ensure_rounds()
        await services.scheduler.run_due()
    return ids


async def fan_out(
    url: str, people: int, workers: int, per_second: float, workdir: Path, seed: int = 1
) -> dict[str, Any]:
    ids = await prepare(url, people, per_second)
    api = TimedTelegram()
    for uid in ids:
        api.add_user(uid, f"T{uid}")
        api.started.add(uid)
    server = StandInServer(api=api)
    runner, port = await server.start("127.0.0.1", 0)
    clock = workdir / "clock"
    sim_clock.write(clock, DUE)
    fleet = Fleet(
        workers, url, f"http://127.0.0.1:{port}", clock, workdir, 0.2, random.Random(seed)
    )
    for w in fleet.workers:
        w.env["TRIOBOT_SEND_PER_SECOND"] = str(per_second)
    try:
        await fleet.start()
        up = await fleet.up()
        last, seen = time.monotonic(), 0
        while len({m.chat_id for m in api.sent if is_prompt(m.text)}) < people:
            await asyncio.sleep(0.2)
            if len(api.prompt_times) != seen:
                last, seen = time.monotonic(), len(api.prompt_times)
            elif time.monotonic() - last > PATIENCE or not fleet.alive:
                break
        await asyncio.sleep(3.0)  # a duplicate still on its way is counted too
    finally:
        code = await fleet.stop()
        await runner.cleanup()
    received = Counter(m.chat_id for m in api.sent if is_prompt(m.text))
    times = sorted(api.prompt_times)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span > 0 else 0.0
    refusals = Counter(f"{method} {status}" for method, _, status, _ in api.refusals)
    return {
        "people": people,
        "workers": workers,
        "all_up": up,
        "exit_code": code,
        "received": sum(1 for uid in ids if received[uid] > 0),
        "lost": sum(1 for uid in ids if received[uid] == 0),
        "duplicated": sum(n - 1 for n in received.values() if n > 1),
        "too_many_requests": sum(1 for r in api.refusals if r[2] == 429),
        "refusals": dict(refusals),
        "per_second": per_second,
        "rate": rate,
        "share_of_telegram": rate / TELEGRAM_LIMIT,
        "ratio": rate / per_second,
        "seconds": span,
        "balancer": dict(fleet.balancer.counts),
    }


def shortfalls(found: dict[str, Any]) -> list[str]:
    failures = []
    people = found["people"]
    if not found["all_up"]:
        failures.append(f"not every one of the {found['workers']} workers started")
    if found["lost"] or found["duplicated"] or found["received"] != people:
        failures.append(
            f"{found['received']} of {people} people got their prompt;"
            f" {found['lost']} lost, {found['duplicated']} duplicated"
        )
    if found["too_many_requests"]:
        failures.append(
            f"Telegram (the stand-in) answered 429 {found['too_many_requests']} times"
            f" (refusals: {found['refusals']})"
        )
    if not found["ratio"] >= MIN_RATIO:
        failures.append(f"the workers together sent at {found['ratio']:.3f} of the configured"
                        f" {found['per_second']:g}/s (needs {MIN_RATIO})")  # fmt: skip
    elif found["ratio"] > OVER:
        failures.append(f"the workers together sent at {found['ratio']:.3f} of the configured"
                        f" {found['per_second']:g}/s: each spent the whole budget")  # fmt: skip
    if found["exit_code"] != 0:
        failures.append(f"a worker's last stop exited with code {found['exit_code']}")
    return failures


def verified(found: dict[str, Any]) -> list[str]:
    return [
        f"{found['people']} prompts sent by {found['workers']} workers; each arrived exactly"
        f" once ({found['received']} people, 0 lost, 0 duplicated, from the stand-in's record)",
        "no 429 provoked (0 × 429 from the stand-in, which enforces Telegram's 30/s)",
        f"the deployment at {found['ratio']:.3f} of its configured {found['per_second']:g}/s"
        f" = {found['share_of_telegram']:.3f} of Telegram's {TELEGRAM_LIMIT:g}/s",
    ]


def report(found: dict[str, Any]) -> None:
    print(f"\n-- fan-out by {found['workers']} workers on one PostgreSQL database")
    print(
        f"{found['received']} of {found['people']} prompts arrived in {found['seconds']:.1f} s:"
        f" {found['rate']:.2f}/s = {found['share_of_telegram']:.3f} of Telegram's"
        f" {TELEGRAM_LIMIT:g}/s, {found['ratio']:.3f} of the configured"
        f" {found['per_second']:g}/s (target {MIN_RATIO}–{OVER})"
    )
    print(f"429s provoked: {found['too_many_requests']} (target 0); refusals {found['refusals']}")
    print(f"lost: {found['lost']}   duplicated: {found['duplicated']} (targets 0)")
    print(f"balancer: {found['balancer']}")


def main(server: str, people: int, workers: int, per_second: float) -> int:
    temporary = tempfile.TemporaryDirectory(prefix="triobot-fanout-workers-")
    with temporary as tmp, scratch_database(server, "fanout") as url:
        found = asyncio.run(fan_out(url, people, workers, per_second, Path(tmp)))
    report(found)
    failures = shortfalls(found)
    print()
    for line in failures:
        print(f"NOT VERIFIED: {line}")
    if failures:
        return 1
    for line in verified(found):
        print(f"verified: {line}")
    return 0
