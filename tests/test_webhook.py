"""Webhook mode: Telegram posts updates to our HTTP server instead of being polled.

Only a request carrying the secret is an update (403 otherwise, nothing handled); what is
not JSON is 400; a chat's updates are handled in the order they came even when posted at
once; the real `triobot run` in webhook mode holds a conversation with the stand-in, and an
update posted while it was killed arrives when it is back (the stand-in retries, as Telegram
does); a configuration webhook mode cannot start with is one line and exit 2; going back to
polling deletes the webhook.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bench.term import Options, simulate
from bot.app.factory import build_application, running
from bot.app.http import HttpServer
from bot.app.runner import ALLOWED_UPDATES, _start_polling
from bot.app.webhook import SECRET_HEADER, WebhookRoute
from bot.cli.main import main
from bot.config import ConfigError, load_settings
from bot.programme.demo import seed_demo
from bot.standin.api import FakeTelegram
from bot.standin.http import TransportFault
from bot.standin.request import StandInRequest
from bot.standin.webhook import WEBHOOK_ACTIVE
from bot.telegram.context import App, Services
from storage.clock import utcnow
from storage.db import Database
from tests.botprocess import TOKEN, assert_clean_exit, bot_process, stand_in_server, until
from tests.harness import settings_for

SECRET = "s3cret_-TOKEN"
CONSENT = "What I keep, and why"


@asynccontextmanager
async def webhook_bot(tmp_path: Path) -> AsyncIterator[tuple[App, FakeTelegram, str]]:
    """The real Application behind our webhook route, on the in-process stand-in."""
    api = FakeTelegram()
    settings = settings_for(tmp_path / "hook.db", telegram_bot_token=TOKEN)
    app = build_application(
        settings, request=StandInRequest(api), clock=utcnow, polling=False, background=False
    )
    async with running(app):
        services: Services = app.bot_data
        await seed_demo(services.db)
        server = HttpServer("127.0.0.1:0")
        server.add_routes(WebhookRoute(app, SECRET).routes("/telegram/hook"))
        await server.start()
        try:
            yield app, api, f"http://127.0.0.1:{server.port}/telegram/hook"
        finally:
            await server.stop()


async def post(url: str, body: object, secret: str | None = SECRET) -> int:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status


async def served(port: int) -> dict[str, tuple[int, str]]:
    """What the process's own HTTP server answers on its three service paths."""
    found = {}
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz", "/metrics"):
            async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                found[path] = (response.status, await response.text())
    return found


async def ready(port: int) -> dict[str, tuple[int, str]]:
    """Served, once /readyz says ready (the schedule's first tick comes a moment after start)."""
    for _ in range(100):
        found = await served(port)
        if found["/readyz"][0] == 200:
            return found
        await asyncio.sleep(0.1)
    return found


async def replies_in(api: FakeTelegram, chat: int, count: int) -> list[str]:
    await until(lambda: len(api.messages_in(chat)) >= count, within=10)
    await asyncio.sleep(0.1)  # anything more would have come by now
    return [m.plain_text for m in api.messages_in(chat)]


async def test_only_an_update_with_the_secret_is_handled_and_only_once(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as (_app, api, url):
        api.add_user(900, "Bruno")
        start = api.text(900, "/start DEMOBRUNO")
        assert await post(url, start, secret=None) == 403
        assert await post(url, start, secret="s3cret_-TOKEN-not") == 403
        assert await post(url, start, secret="") == 403
        await asyncio.sleep(0.2)
        assert api.messages_in(900) == []  # nothing refused was handled
        assert await post(url, start) == 200
        assert await post(url, start) == 200  # our 200 lost on the way: posted again
        replies = await replies_in(api, 900, 1)
        assert len(replies) == 1 and CONSENT in replies[0]


async def test_what_is_not_an_update_is_400_and_the_bot_carries_on(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as (_app, api, url):
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session:
            for body in (b"{not json", b"[1, 2]", b'{"message": {}}', b""):
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 400, body
            async with session.get(url, headers=headers) as response:
                assert response.status == 405
        api.add_user(901, "Bruno")
        assert await post(url, api.text(901, "/start DEMOBRUNO")) == 200
        assert CONSENT in (await replies_in(api, 901, 1))[0]


async def test_a_chats_updates_posted_at_once_are_handled_in_order(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as (app, api, url):
        handled: list[tuple[int, int, str]] = []  # (chat, update_id, "start" | "end")

        async def slow_first(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert isinstance(update, Update) and update.effective_chat is not None
            handled.append((update.effective_chat.id, update.update_id, "start"))
            await asyncio.sleep(0.05)  # a slow Bot API call: the others pile up meanwhile
            handled.append((update.effective_chat.id, update.update_id, "end"))

        app.add_handler(TypeHandler(Update, slow_first), group=-100)
        for user in (910, 911):
            api.add_user(user, "Teacher")
        updates = [api.text(910 + i % 2, f"message {i}") for i in range(12)]
        posts = []
        for update in updates:  # each posted before the last one was answered
            posts.append(asyncio.create_task(post(url, update)))
            await asyncio.sleep(0.01)
        assert await asyncio.gather(*posts) == [200] * 12
        await until(lambda: len(handled) == 24, within=10)
    for chat in (910, 911):
        mine = [(uid, what) for c, uid, what in handled if c == chat]
        expected = [u["update_id"] for u in updates if u["message"]["chat"]["id"] == chat]
        # One at a time (each ends before the next starts) and in the order posted.
        assert mine == [(uid, what) for uid in expected for what in ("start", "end")]
    # The two chats did not wait for each other.
    first_end = next(i for i, item in enumerate(handled) if item[2] == "end")
    assert {c for c, _, what in handled[:first_end] if what == "start"} == {910, 911}


class FlakyBot:
    """A webhook endpoint that refuses the first `failures` posts, then takes them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[int, str | None]] = []
        self.app = web.Application()
        self.app.add_routes([web.post("/hook", self.handle)])

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=502)
        body = await request.json()
        self.received.append((body["update_id"], request.headers.get(SECRET_HEADER)))
        return web.Response(status=200)


async def test_the_stand_in_posts_after_set_webhook_and_retries_until_taken() -> None:
    bot = FlakyBot(failures=2)
    runner = web.AppRunner(bot.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api = FakeTelegram()
    try:
        status, body = await api.handle("setWebhook", {"url": "http://example.org/hook"})
        assert status == 400 and "HTTPS" in body["description"]
        status, body = await api.handle(
            "setWebhook", {"url": "https://x.org/", "secret_token": "a b"}
        )
        assert status == 400 and "secret token" in body["description"]
        hook = {"url": f"http://127.0.0.1:{port}/hook", "secret_token": SECRET}
        assert (await api.handle("setWebhook", {**hook, "max_connections": 1}))[0] == 200
        status, body = await api.handle("getUpdates", {"timeout": 0})
        assert (status, body["description"]) == (409, WEBHOOK_ACTIVE)
        api.add_user(5, "Ana")
        first, second = api.text(5, "one"), api.text(5, "two")
        api.push_update(first)
        api.push_update(second)
        await until(lambda: api.webhook.failed == 2, within=5)
        _, info = await api.handle("getWebhookInfo", {})
        assert (
            info["result"]["last_error_message"]
            == "Wrong response from the webhook: 502 Bad Gateway"
        )
        await until(lambda: len(bot.received) == 2, within=10)
        assert bot.received == [(first["update_id"], SECRET), (second["update_id"], SECRET)]
        # The bot has the update before its 200 reaches the stand-in, which then drops it.
        await until(lambda: api.webhook.info()["pending_update_count"] == 0, within=5)
        _, info = await api.handle("getWebhookInfo", {})
        assert info["result"]["pending_update_count"] == 0
        assert info["result"]["url"] == hook["url"]
        # deleteWebhook: getUpdates again, with what arrives from then on.
        assert (await api.handle("deleteWebhook", {}))[0] == 200
        api.push_update(api.text(5, "three"))
        status, body = await api.handle("getUpdates", {"timeout": 0})
        assert status == 200 and [u["message"]["text"] for u in body["result"]] == ["three"]
        assert len(bot.received) == 2
    finally:
        await api.webhook.close()
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seeded(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        await seed_demo(db)
    finally:
        await db.close()


async def test_a_real_process_in_webhook_mode_loses_nothing_when_killed(tmp_path: Path) -> None:
    db_path = tmp_path / "run.db"
    await seeded(db_path)
    env = webhook_env(free_port())
    async with stand_in_server() as (server, url):
        api = server.api
        api.add_user(920, "Bruno")
        async with bot_process(url, db_path, **env) as bot:
            await bot.wait_for("running: webhook")
            assert api.webhook.secret == SECRET
            assert api.webhook.allowed_updates == ALLOWED_UPDATES
            assert api.webhook.max_connections == 1
            assert api.calls["getUpdates"] == 0  # nothing polls in webhook mode
            api.push_update(api.text(920, "/start DEMOBRUNO"))
            await until(lambda: len(api.messages_in(920)) == 1, within=20)
            assert CONSENT in api.messages_in(920)[0].plain_text
            # Health, readiness and metrics share the webhook's port.
            found = await ready(int(env["TRIOBOT_HTTP_LISTEN"].rsplit(":", 1)[1]))
            assert found["/healthz"] == (200, '{"status": "ok"}')
            assert found["/readyz"][0] == 200, found["/readyz"]
            assert 'triobot_updates_total{kind="command"} 1.0' in found["/metrics"][1]
            await bot.kill()
        # While it is down, a tap waits at the stand-in, which keeps trying.
        consent = api.messages_in(920)[0]
        before = len(api.events)
        api.push_update(api.callback(920, consent.message_id, consent.buttons[0][0][1]))
        await until(lambda: api.webhook.failed >= 2, within=10)
        assert api.webhook.info()["pending_update_count"] == 1
        async with bot_process(url, db_path, **env) as bot:
            await bot.wait_for("running: webhook")
            await until(lambda: len(api.events) > before, within=20)  # the tap answered
            assert api.webhook.info()["pending_update_count"] == 0
            assert await bot.stop() < 8
            assert bot.process.returncode == 0
            assert_clean_exit(bot.output)
            assert SECRET not in bot.output and TOKEN not in bot.output
    # Stopping leaves the webhook set: Telegram keeps what comes meanwhile.
    assert api.calls["deleteWebhook"] == 0


def webhook_env(port: int, url: str | None = None) -> dict[str, str]:
    return {
        "TRIOBOT_HTTP_LISTEN": f"127.0.0.1:{port}",
        "TRIOBOT_WEBHOOK_URL": url or f"http://127.0.0.1:{port}/telegram/update",
        "TRIOBOT_WEBHOOK_SECRET": SECRET,
    }


async def test_a_set_webhook_that_fails_is_retried_and_one_refused_ends_in_one_line(
    tmp_path: Path,
) -> None:
    async with stand_in_server() as (server, url):
        server.api.fail_next("setWebhook", 502, "Bad Gateway", times=2)
        async with bot_process(url, tmp_path / "a.db", **webhook_env(free_port())) as bot:
            await bot.wait_for("running: webhook", within=30)
            retried = [line for line in bot.lines if "setWebhook failed" in line]
            assert len(retried) == 2 and "Bad Gateway); trying again in" in retried[0]
            assert server.api.webhook.active
            assert await bot.stop() < 8
        server.api.fail_next(
            "setWebhook", 400, "Bad Request: bad webhook: Failed to resolve host: Name or"
            " service not known",
        )  # fmt: skip
        env = webhook_env(free_port(), "https://bot.example.invalid/hook")
        async with bot_process(url, tmp_path / "b.db", **env) as bot:
            assert await bot.exit_code() == 2
            refused = [line for line in bot.lines if "Not starting" in line]
            assert len(refused) == 1 and "failed to resolve host" in refused[0], bot.output
            assert "https://bot.example.invalid/hook" in refused[0]
            assert_clean_exit(bot.output)


async def test_a_port_already_taken_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with (
            stand_in_server() as (_server, url),
            bot_process(url, tmp_path / "c.db", **webhook_env(port)) as bot,
        ):
            assert await bot.exit_code() == 2
            refused = [line for line in bot.lines if "Not starting" in line]
            assert len(refused) == 1 and f"TRIOBOT_HTTP_LISTEN 127.0.0.1:{port}" in refused[0]
            assert_clean_exit(bot.output)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TRIOBOT_HTTP_LISTEN": "127.0.0.1:8443"}, "TRIOBOT_WEBHOOK_SECRET"),
        ({"TRIOBOT_WEBHOOK_SECRET": SECRET}, "TRIOBOT_HTTP_LISTEN"),
        ({}, "TRIOBOT_WEBHOOK_SECRET and TRIOBOT_HTTP_LISTEN"),
        (
            {"TRIOBOT_HTTP_LISTEN": "127.0.0.1:8443", "TRIOBOT_WEBHOOK_SECRET": "has space!"},
            "TRIOBOT_WEBHOOK_SECRET",
        ),
        (
            {"TRIOBOT_HTTP_LISTEN": "8443", "TRIOBOT_WEBHOOK_SECRET": SECRET},
            "TRIOBOT_HTTP_LISTEN",
        ),
    ],
)
def test_webhook_mode_it_cannot_start_is_one_line_and_exit_2(
    env: dict[str, str],
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    for name in ("TRIOBOT_HTTP_LISTEN", "TRIOBOT_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TRIOBOT_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("TRIOBOT_WEBHOOK_URL", "https://bot.example.org/telegram")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err, err
    assert "has space!" not in err  # a secret stays secret even when malformed
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    "url",
    ["http://bot.example.org/hook", "ftp://bot.example.org/hook", "https://x.org/h?a=1", "bot"],
)
def test_a_webhook_url_telegram_would_not_post_to_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="TRIOBOT_WEBHOOK_URL"):
        load_settings(_env_file=None, webhook_url=url)


def test_plain_http_is_allowed_only_on_loopback_and_the_path_is_served() -> None:
    for url in ("http://127.0.0.1:8080/tg", "http://localhost/tg", "http://[::1]:80/tg"):
        settings = load_settings(_env_file=None, webhook_url=url)
        assert settings.webhook and settings.webhook_path == "/tg"
    secure = load_settings(_env_file=None, webhook_url="https://bot.example.org")
    assert secure.webhook_path == "/"
    assert not load_settings(_env_file=None, webhook_url="").webhook


async def test_starting_to_poll_deletes_a_webhook_left_set(tmp_path: Path) -> None:
    api = FakeTelegram()
    settings = settings_for(tmp_path / "poll.db", telegram_bot_token=TOKEN)
    app = build_application(settings, request=StandInRequest(api), clock=utcnow)
    try:
        # A webhook left by an earlier run in webhook mode: getUpdates is refused.
        await api.handle("setWebhook", {"url": "https://bot.example.org/hook"})
        async with running(app):
            await seed_demo(app.bot_data.db)
            await _start_polling(app)  # what `triobot run` does without TRIOBOT_WEBHOOK_URL
            assert api.calls["deleteWebhook"] == 1 and not api.webhook.active
            api.add_user(930, "Bruno")
            api.push_update(api.text(930, "/start DEMOBRUNO"))
            assert CONSENT in (await replies_in(api, 930, 1))[0]
            assert app.updater is not None
            await app.updater.stop()
    finally:
        await api.webhook.close()


async def test_polling_serves_http_only_when_asked_and_never_the_webhook(tmp_path: Path) -> None:
    port = free_port()
    async with stand_in_server() as (_server, url):
        async with bot_process(url, tmp_path / "p.db") as bot:
            await bot.wait_for("running: polling")
            assert "HTTP server listening" not in bot.output
            assert await bot.stop() < 8
        listen = {"TRIOBOT_HTTP_LISTEN": f"127.0.0.1:{port}"}
        async with bot_process(url, tmp_path / "p.db", **listen) as bot:
            await bot.wait_for("running: polling")
            assert f"HTTP server listening on 127.0.0.1:{port}" in bot.output
            # No webhook route in polling mode: a post there is not an update.
            assert await post(f"http://127.0.0.1:{port}/telegram/update", {"update_id": 1}) == 404
            found = await ready(port)  # but health, readiness and metrics, as in webhook mode
            assert found["/healthz"][0] == found["/readyz"][0] == found["/metrics"][0] == 200
            assert "triobot_outbox_depth 0.0" in found["/metrics"][1]
            assert await bot.stop() < 8
            assert_clean_exit(bot.output)


async def test_a_long_poll_waiting_when_the_webhook_is_set_ends_refused() -> None:
    api = FakeTelegram()
    try:
        waiting = asyncio.create_task(api.handle("getUpdates", {"timeout": 5}))
        await asyncio.sleep(0.05)
        assert (await api.handle("setWebhook", {"url": "https://bot.example.org/h"}))[0] == 200
        status, body = await asyncio.wait_for(waiting, timeout=1)
        assert (status, body["description"]) == (409, WEBHOOK_ACTIVE)
    finally:
        await api.webhook.close()


async def test_a_stop_while_set_webhook_hangs_ends_at_once(tmp_path: Path) -> None:
    async with stand_in_server() as (server, url):
        server.transport_faults.append(TransportFault("timeout", "setWebhook", 30, times=5))
        async with bot_process(url, tmp_path / "s.db", **webhook_env(free_port())) as bot:
            await bot.wait_for("HTTP server listening")
            await until(lambda: server.api.calls["setWebhook"] >= 1, within=20)
            assert await bot.stop() < 4
            assert bot.process.returncode == 0
            assert "running: webhook" not in bot.output
            assert_clean_exit(bot.output)


def test_a_short_term_in_webhook_mode_keeps_every_invariant(tmp_path: Path) -> None:
    # bench/term.py --webhook, as small as tests/test_term_simulation.py's polling run.
    outcome = simulate(Options(teachers=9, weeks=2, crashes=3, seed=3, workdir=tmp_path,
                               verbose=False, reply_within=16, join_hours=(9,),
                               lesson_study=False, summaries=False, lock_seconds=14,
                               full_seconds=8, webhook=True))  # fmt: skip
    figures = outcome.figures
    assert outcome.failures == [], (outcome.failures, figures)
    delivery = figures["updates reached the bot by"]
    assert delivery.startswith("webhook: ") and delivery.endswith(" 0 pending at the end")
    assert figures["crashes survived (SIGKILL + restart)"] >= 2
    assert figures["answers lost"] == figures["duplicate deliveries"] == 0
