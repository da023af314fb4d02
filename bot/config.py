"""Settings, loaded once from the environment and `.env`, then passed down."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """Raised at start-up when a setting is missing or malformed; names the variable."""


# What Telegram accepts as a webhook's secret_token (setWebhook).
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: a stand-in or a test on this machine, never Telegram."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) → (host, port); ValueError says what is wrong."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected host:port, like 127.0.0.1:8080 (port 0-65535)")
    return host, int(port)


class Settings(BaseSettings):
    """Every knob the bot has. Environment variable names are the field aliases."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    # text: the lines `triobot run` always wrote; json: one object per line (bot/logs.py).
    log_format: Literal["text", "json"] = Field(default="text", alias="TRIOBOT_LOG_FORMAT")
    # A SQLite file's path, or a PostgreSQL URL (postgresql://user@host:port/db): a URL is
    # kept as text, never taken for a path (storage/store.py).
    db_path: Path | str = Field(default=Path("./data/triobot.db"), alias="TRIOBOT_DB")
    # SQLite's fsync policy (storage/db.py SYNCHRONOUS says what each keeps on a power loss).
    db_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="NORMAL", alias="TRIOBOT_DB_SYNCHRONOUS"
    )
    programme_tz: str = Field(default="Europe/London", alias="TRIOBOT_TZ")
    # An open flow nobody touches for this long is closed; the person is told next time.
    flow_expiry_hours: float = Field(default=72.0, gt=0, alias="TRIOBOT_FLOW_EXPIRY_HOURS")
    # After this much silence a half-finished flow is offered back rather than assumed.
    flow_resume_prompt_minutes: float = Field(
        default=60.0, ge=0, alias="TRIOBOT_FLOW_RESUME_MINUTES"
    )
    consent_version: str = Field(default="2026-1", alias="TRIOBOT_CONSENT_VERSION")
    bot_username: str | None = Field(default=None, alias="TRIOBOT_BOT_USERNAME")
    # /status lists trios where no member has answered anything for this many weeks.
    quiet_weeks: float = Field(default=3.0, gt=0, alias="TRIOBOT_QUIET_WEEKS")
    # How often the schedule table is checked for due rows (the table, not this, is the truth).
    schedule_poll_seconds: float = Field(default=15.0, gt=0, alias="TRIOBOT_SCHEDULE_POLL_SECONDS")
    # The outbox's pace; Telegram allows about 30/s overall, so live replies keep headroom.
    send_per_second: float = Field(default=25.0, gt=0, le=30, alias="TRIOBOT_SEND_PER_SECOND")
    # The share of Telegram's 30/s the outbox leaves free for live replies, and it sends nothing
    # while a reply waits for room (bot/telegram/ratelimit.py: Budget).
    reply_share: float = Field(default=0.2, ge=0, lt=1, alias="TRIOBOT_REPLY_SHARE")
    send_per_chat_per_second: float = Field(
        default=1.0, gt=0, alias="TRIOBOT_SEND_PER_CHAT_PER_SECOND"
    )
    send_per_group_per_minute: float = Field(
        default=20.0, gt=0, le=20, alias="TRIOBOT_SEND_PER_GROUP_PER_MINUTE"
    )
    # Flood control (bot/telegram/flood.py): what one person may send per minute, and at once;
    # beyond it their updates are dropped and they are asked to slow down. 0 turns it off.
    flood_per_minute: float = Field(default=30.0, ge=0, alias="TRIOBOT_FLOOD_PER_MINUTE")
    flood_burst: int = Field(default=10, ge=1, le=1000, alias="TRIOBOT_FLOOD_BURST")
    # A circulated summary not approved by everyone this many days later may be confirmed
    # as agreed by the trio's lead, with the approvals it has.
    summary_agree_days: float = Field(default=5.0, gt=0, alias="TRIOBOT_SUMMARY_AGREE_DAYS")

    # The weekly digests go out on this weekday (mon..sun) at this programme-local time, and
    # cover the ISO week that ended before it.
    digest_weekday: str = Field(default="mon", pattern="^(mon|tue|wed|thu|fri|sat|sun)$",
                                alias="TRIOBOT_DIGEST_WEEKDAY")  # fmt: skip
    digest_time: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                             alias="TRIOBOT_DIGEST_TIME")  # fmt: skip
    # Weeks of participation trend shown per trio and local authority.
    digest_trend_weeks: int = Field(default=8, ge=1, le=52, alias="TRIOBOT_DIGEST_TREND_WEEKS")
    # A lesson-study cycle untouched this long is flagged as stalled in the researcher digest.
    stalled_weeks: float = Field(default=3.0, gt=0, alias="TRIOBOT_STALLED_WEEKS")
    # A lesson-study cycle sitting in one stage this long prompts its trio once and is
    # flagged for the researchers (lesson_study.stalled_at).
    lesson_study_stall_days: float = Field(
        default=14.0, gt=0, alias="TRIOBOT_LESSON_STUDY_STALL_DAYS"
    )
    # How long a research lesson lasts: observers are asked for their notes when it ends.
    lesson_study_lesson_minutes: int = Field(
        default=60, gt=0, le=240, alias="TRIOBOT_LESSON_STUDY_LESSON_MINUTES"
    )

    # Production (README "Webhook mode"): the bot's own HTTP server, and Telegram posting
    # updates to it instead of being polled. Webhook mode needs all three of these.
    http_listen: str | None = Field(default=None, alias="TRIOBOT_HTTP_LISTEN")
    webhook_url: str | None = Field(default=None, alias="TRIOBOT_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="TRIOBOT_WEBHOOK_SECRET")
    # How many connections Telegram may open to post updates at once. 1 keeps the order in
    # which Telegram hands a chat's updates over; more may let two of one chat cross.
    webhook_max_connections: int = Field(
        default=1, ge=1, le=100, alias="TRIOBOT_WEBHOOK_MAX_CONNECTIONS"
    )

    @field_validator("db_path", mode="after")
    @classmethod
    def _store(cls, value: Path | str) -> Path | str:
        text = str(value)
        return text if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) else Path(text)

    @field_validator("http_listen", "webhook_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("http_listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("expected a URL like https://bot.example.org/telegram")
        # Telegram posts only to HTTPS; plain HTTP is for a stand-in on this machine.
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("must be https:// (http:// only for a loopback host)")
        if parts.query or parts.fragment:
            raise ValueError("must have no query or fragment (the path is what is served)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            # Never echo the value: it is what proves an update came from Telegram.
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @property
    def webhook(self) -> bool:
        """Webhook mode (TRIOBOT_WEBHOOK_URL set) rather than long polling."""
        return self.webhook_url is not None

    @property
    def webhook_path(self) -> str:
        """The path of TRIOBOT_WEBHOOK_URL, served on TRIOBOT_HTTP_LISTEN."""
        assert self.webhook_url is not None
        return urlsplit(self.webhook_url).path or "/"

    def webhook_problem(self) -> str | None:
        """What webhook mode lacks, in one line for the operator; None if it can start."""
        if self.webhook_url is None:
            return None
        missing = [
            name
            for name, value in (
                ("TRIOBOT_WEBHOOK_SECRET", self.webhook_secret),
                ("TRIOBOT_HTTP_LISTEN", self.http_listen),
            )
            if value is None
        ]
        if missing:
            return (
                "Not starting: TRIOBOT_WEBHOOK_URL is set (webhook mode) but "
                + " and ".join(missing)
                + (" is" if len(missing) == 1 else " are")
                + " not"
            )
        return None

    @field_validator("programme_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        bot_id, _, secret = value.get_secret_value().partition(":")
        if not bot_id.isdigit() or not secret:
            # Never echo the value: it is a secret even when malformed.
            raise ValueError("malformed; expected the form <digits>:<secret> from @BotFather")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.programme_tz)

    @property
    def flow_expiry(self) -> timedelta:
        return timedelta(hours=self.flow_expiry_hours)

    @property
    def flow_resume_after(self) -> timedelta:
        return timedelta(minutes=self.flow_resume_prompt_minutes)


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation errors into one message naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            info = Settings.model_fields.get(field)
            name = info.alias if info is not None and info.alias else field.upper()
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("Bad configuration — " + "; ".join(problems)) from None
