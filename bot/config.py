"""Settings, loaded once from the environment and `.env`, then passed down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """Raised at start-up when a setting is missing or malformed; names the variable."""


class Settings(BaseSettings):
    """Every knob the bot has. Environment variable names are the field aliases."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    # text: the lines `triobot run` always wrote; json: one object per line (bot/logs.py).
    log_format: Literal["text", "json"] = Field(default="text", alias="TRIOBOT_LOG_FORMAT")
    db_path: Path = Field(default=Path("./data/triobot.db"), alias="TRIOBOT_DB")
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
