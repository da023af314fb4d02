"""The term and the fan-out past one machine: three `triobot run` workers on one PostgreSQL
database (bench/term.py and bench/fanout.py with --db postgresql://… --workers 3), and the
round-robin balancer the term puts in front of them.

The runs need a PostgreSQL server (TRIOBOT_TEST_POSTGRES; scripts/test starts one) and are
skipped without it; each makes a database of its own there and drops it afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psycopg
import pytest
from aiohttp import web

from bench.fanout_workers import shortfalls
from bench.term import Options, simulate
from bench.term_fleet import WEBHOOK_PATH, Balancer
from bench.term_verdict import report
from bench.term_world import Ledger, free_port
from storage.db import Database, to_db_time
from tests.postgres import server_url

pytestmark = pytest.mark.both_stores  # the ledger test; the runs make their own databases

ROOT = Path(__file__).resolve().parent.parent
needs_server = pytest.mark.skipif(
    server_url() is None, reason="no PostgreSQL server: set TRIOBOT_TEST_POSTGRES"
)


async def worker(name: str) -> tuple[web.AppRunner, str]:
    """A stand-in worker's webhook route: answers with its name, the secret and the body."""

    async def update(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return web.Response(text=f"{name} {secret} {(await request.read()).decode()}")

    app = web.Application()
    app.add_routes([web.post(WEBHOOK_PATH, update)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"127.0.0.1:{port}"


async def test_the_balancer_takes_workers_in_turn_and_passes_over_one_that_is_down() -> None:
    first, a = await worker("first")
    second, b = await worker("second")
    down = f"127.0.0.1:{free_port()}"  # a killed worker: nothing listens there
    balancer = Balancer([a, down, b])
    await balancer.start()
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    try:
        async with aiohttp.ClientSession() as telegram:
            answers = []
            for n in range(4):
                async with telegram.post(
                    balancer.url, data=f'{{"update_id": {n}}}', headers=headers
                ) as answer:
                    answers.append((answer.status, await answer.text()))
            assert answers == [
                (200, 'first s3cret {"update_id": 0}'),
                (200, 'second s3cret {"update_id": 1}'),
                (200, 'first s3cret {"update_id": 2}'),
                (200, 'second s3cret {"update_id": 3}'),
            ]
            assert balancer.counts["passed over (connection refused)"] == 2
            # Every worker down: Telegram is told 502, and posts the update again later.
            await first.cleanup()
            await second.cleanup()
            async with telegram.post(balancer.url, data="{}", headers=headers) as answer:
                assert answer.status == 502
            assert balancer.counts["502 (every worker refused)"] == 1
    finally:
        await balancer.close()


def test_three_workers_each_spending_the_whole_send_budget_fail_the_fanout() -> None:
    """What the fan-out says of workers that did not share the budget: 429s, and a rate
    past the configured one (a bench that verifies its work, not one that reports figures)."""
    found = {
        "people": 90, "workers": 3, "all_up": True, "exit_code": 0, "received": 90,
        "lost": 0, "duplicated": 2, "too_many_requests": 41,
        "refusals": {"sendMessage 429": 41}, "per_second": 25.0, "rate": 29.4,
        "share_of_telegram": 0.98, "ratio": 1.176, "seconds": 3.0, "balancer": {},
    }  # fmt: skip
    assert shortfalls(found) == [
        "90 of 90 people got their prompt; 0 lost, 2 duplicated",
        "Telegram (the stand-in) answered 429 41 times (refusals: {'sendMessage 429': 41})",
        "the workers together sent at 1.176 of the configured 25/s: each spent the whole budget",
    ]
    assert shortfalls({**found, "duplicated": 0, "too_many_requests": 0, "ratio": 0.99}) == []


async def test_the_ledger_reads_what_is_due_and_stuck_from_either_store(
    db: Database, db_path: Path | str
) -> None:
    def at(hour: int, minute: int = 0) -> str:
        return to_db_time(datetime(2027, 1, 5, hour, minute, tzinfo=UTC))

    async with db.transaction() as tx:
        for due, status in ((at(9), "pending"), (at(11), "pending"), (at(8), "done")):
            await tx.execute(
                "INSERT INTO schedule (kind, payload, due_at, status, created_at)"
                " VALUES ('digest_weekly', '{}', ?, ?, ?)",
                (due, status, at(7)),
            )
        for text, kind, status, not_before in (
            ("Prompt", "prompt", "pending", at(9, 30)),
            ("In flight", "prompt", "sending", at(12)),
            ("Sent", "prompt", "sent", at(8)),
            ("Answer", "reply", "pending", at(9, 45)),
        ):
            await tx.execute(
                "INSERT INTO outbox (chat_id, kind, payload, status, not_before, created_at)"
                " VALUES (5, ?, ?, ?, ?, ?)",
                (kind, f'{{"text": "{text}"}}', status, not_before, at(7)),
            )
    ledger = Ledger(db_path)
    try:
        ten = datetime(2027, 1, 5, 10, tzinfo=UTC)
        # At 10:00: the 9:00 schedule row, the prompt and the answer waiting, one in flight.
        assert ledger.outstanding(ten) == 4
        assert ledger.next_due() == datetime(2027, 1, 5, 9, tzinfo=UTC)
        assert ledger.next_due(after=ten) == datetime(2027, 1, 5, 11, tzinfo=UTC)
        assert ledger.stuck(before=ten) == 2  # the prompt and the answer; in flight is not late
        initiated = ledger.query(
            "SELECT chat_id, json_extract(payload, '$.text') AS text FROM outbox"
            " WHERE kind != 'reply' ORDER BY id"
        )
        assert [(r[0], r["text"]) for r in initiated] == [
            (5, "Prompt"), (5, "In flight"), (5, "Sent")
        ]
    finally:
        ledger.close()


def _databases(prefix: str) -> list[str]:
    url = server_url()
    assert url is not None
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{prefix}%",)
        ).fetchall()
    return [str(r[0]) for r in rows]


@needs_server
def test_a_short_term_on_three_workers_on_postgresql_loses_nothing(tmp_path: Path) -> None:
    outcome = simulate(Options(teachers=9, weeks=2, crashes=3, seed=3, workdir=tmp_path,
                               verbose=False, reply_within=16, join_hours=(9,),
                               lesson_study=False, summaries=False, webhook=True,
                               db=server_url(), workers=3))  # fmt: skip
    figures = outcome.figures
    assert outcome.failures == [], (outcome.failures, figures)
    assert figures["crashes survived (SIGKILL + restart)"] >= 2
    assert figures["answers acknowledged"] > 0 and figures["answers lost"] == 0
    assert figures["due deliveries checked"] > 0 and figures["due deliveries missing"] == 0
    assert figures["messages in quiet hours or on holidays"] == 0
    assert figures["database lock and disk full episodes"].startswith("skipped: SQLite's")
    # Every worker ran, and the balancer handed updates to each of them.
    for n in (1, 2, 3):
        assert b"running: webhook" in (tmp_path / f"worker-{n}" / "bot.log").read_bytes()
    forwards = figures["workers: starts of each / the balancer's forwards"]
    assert forwards.count("forwarded to 127.0.0.1:") == 3, forwards
    lines, status = report(outcome)
    assert status == 0 and not [line for line in lines if "NOT VERIFIED" in line]
    assert _databases(f"triobot_term_{os.getpid()}") == []  # dropped after the run


@needs_server
def test_the_fanout_by_three_workers_keeps_to_the_budget_without_a_429() -> None:
    done = subprocess.run(
        [sys.executable, "bench/fanout.py", "--db", str(server_url()), "--workers", "3",
         "--people", "90"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("verified: ")]
    assert len(lines) == 3, done.stdout
    assert "90 prompts sent by 3 workers; each arrived exactly once" in lines[0]
    assert "no 429 provoked" in lines[1]
    ratio = re.search(r"the deployment at (\d\.\d+) of its configured 25/s", lines[2])
    assert ratio is not None and 0.95 <= float(ratio.group(1)) <= 1.05
