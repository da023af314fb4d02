"""Start-up: configuration fails loudly and by name; the token never reaches a log;
the long-polling path (the Updater calling getUpdates) answers people."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.app.factory import build_application, running
from bot.cli.main import RedactToken, configure_logging, main
from bot.config import ConfigError, load_settings
from bot.programme.demo import seed_demo
from bot.standin.api import FakeTelegram
from bot.standin.request import StandInRequest
from bot.telegram.context import Services
from storage.clock import utcnow
from tests.harness import settings_for

TOKEN = "123456789:AAHsecretsecretsecretsecretsecret0"


def test_malformed_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIOBOT_TZ", "Mars/Olympus")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("TELEGRAM_API_URL", "ftp://example")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    for name in ("TRIOBOT_TZ", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL"):
        assert name in message
    assert "not-a-token" not in message  # a secret stays secret even when malformed


def test_settings_come_from_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nTRIOBOT_DB={tmp_path / 'x.db'}\n")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    settings = load_settings(_env_file=env)
    assert settings.telegram_bot_token is not None
    assert settings.db_path == tmp_path / "x.db"
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


def test_cli_reports_bad_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRIOBOT_TZ", "Nowhere/Special")
    assert main(["run"]) == 2
    assert "TRIOBOT_TZ" in capsys.readouterr().err


def test_the_token_is_redacted_from_every_log_line(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "POST https://api.telegram.org/bot%s/getMe",
        (TOKEN,),
        None,
    )
    RedactToken(TOKEN).filter(record)
    assert TOKEN not in record.getMessage() and "<token>" in record.getMessage()


def test_logging_setup_quietens_httpx(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "t.db", telegram_bot_token=TOKEN)
    configure_logging(settings)
    assert logging.getLogger("httpx").level == logging.WARNING
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, RedactToken) for f in handler.filters):
            break
    else:
        pytest.fail("no handler redacts the token")


async def test_long_polling_answers_people(tmp_path: Path) -> None:
    api = FakeTelegram()
    settings = settings_for(tmp_path / "poll.db", telegram_bot_token=TOKEN)
    app = build_application(settings, request=StandInRequest(api), clock=utcnow)
    async with running(app):
        services: Services = app.bot_data
        await seed_demo(services.db)
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        api.add_user(900, "Polly")
        api.push_update(api.text(900, "/start DEMOBRUNO"))
        for _ in range(100):
            if api.messages_in(900):
                break
            await asyncio.sleep(0.02)
        await app.updater.stop()
    assert "What I keep, and why" in api.messages_in(900)[0].plain_text
