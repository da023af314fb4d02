"""The stand-in over HTTP: a real `triobot run` process talks to it through TELEGRAM_API_URL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.programme.demo import seed_demo
from bot.standin.http import StandInServer
from storage.db import Database

TOKEN = "123456:HTTPSTANDIN"


@pytest.fixture
async def server() -> AsyncIterator[tuple[StandInServer, str]]:
    stand_in = StandInServer()
    runner, port = await stand_in.start("127.0.0.1", 0)
    try:
        yield stand_in, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def wait_for(
    client: httpx.AsyncClient, chat_id: int, count: int, within: float = 20.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        reply = await client.get("/sim/messages", params={"chat_id": chat_id})
        found: list[dict[str, Any]] = reply.json()["result"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {count} messages in chat {chat_id} within {within} s")


async def test_a_real_bot_process_joins_a_teacher_through_429s_and_stops_cleanly(
    server: tuple[StandInServer, str], tmp_path: Path
) -> None:
    _, url = server
    db_path = tmp_path / "run.db"
    db = await Database.open(db_path)
    await seed_demo(db)
    await db.close()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": url,
        "TRIOBOT_DB": str(db_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            await client.post("/sim/users", json={"id": 77, "first_name": "Bruno"})
            # Telegram is rate limiting this bot right now: the first reply gets a 429.
            await client.post(
                "/sim/faults",
                json={"kind": "status", "method": "sendMessage", "status": 429, "retry_after": 1},
            )
            await client.post(
                "/sim/updates", json={"kind": "text", "user_id": 77, "text": "/start DEMOBRUNO"}
            )
            [first] = await wait_for(client, 77, 1)
            assert "What I keep, and why" in first["text"]
            yes = next(data for row in first["buttons"] for label, data in row if "Yes" in label)
            await client.post(
                "/sim/updates",
                json={
                    "kind": "callback",
                    "user_id": 77,
                    "message_id": first["message_id"],
                    "data": yes,
                },
            )
            found = await wait_for(client, 77, 2)
            assert "language" in found[-1]["text"].lower()
            stats = (await client.get("/sim/stats")).json()
            assert stats["refusals"].get("429") == 1
            assert stats["calls"]["setMyCommands"] >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, output.decode()
    assert TOKEN.split(":")[1] not in output.decode()  # the token never reaches the log
    # The consent answer was committed before the reply: it is in the file after the stop.
    db = await Database.open(db_path)
    try:
        given = await db.fetchval(
            "SELECT given FROM consent c JOIN person p ON p.id = c.person_id"
            " WHERE p.telegram_id = 77"
        )
    finally:
        await db.close()
    assert given == 1


async def test_transport_faults_happen_after_the_call_like_real_ones(
    server: tuple[StandInServer, str],
) -> None:
    stand_in, url = server
    stand_in.api.add_user(5, "Ana")
    stand_in.api.started.add(5)
    async with httpx.AsyncClient(base_url=url, timeout=1.0) as client:
        await client.post("/sim/faults", json={"kind": "drop", "method": "sendMessage"})
        with pytest.raises(httpx.TransportError):
            await client.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": "5", "text": "hi"})
        # Telegram did send it: the client cannot know, and a retry would duplicate it.
        assert [m.plain_text for m in stand_in.api.messages_in(5)] == ["hi"]

        await client.post("/sim/faults", json={"kind": "timeout", "seconds": 3})
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": "5", "text": "again"})

        await client.post("/sim/faults", json={"kind": "status", "status": 502, "times": 2})
        for _ in range(2):
            reply = await client.post(
                f"/bot{TOKEN}/sendMessage", data={"chat_id": "5", "text": "x"}
            )
            assert reply.status_code == 502
        reply = await client.post(
            f"/bot{TOKEN}/sendMessage", data={"chat_id": "5", "text": "<b>ok", "parse_mode": "HTML"}
        )
        assert reply.status_code == 400 and "parse entities" in reply.json()["description"]
        stats = (await client.get("/sim/stats")).json()
        assert stats["faults_injected"] == {"drop": 1, "timeout": 1, "http 502": 2}
