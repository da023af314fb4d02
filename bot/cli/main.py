"""The `triobot` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.config import Settings


class RedactToken(logging.Filter):
    """Keep the bot token out of every log line: the message, its arguments, the traceback
    and the stack (httpx and PTB put request URLs, which hold the token, in messages and
    exceptions; PTB's InvalidToken quotes the token itself)."""

    def __init__(self, token: str, *others: str) -> None:
        super().__init__()
        # The part after the bot id is the secret; the id alone is public. Redacting the
        # secret also catches the token URL-encoded (":" as %3A). `others`: more secrets
        # shown the same way (the webhook's), longest first so none is cut half-way.
        _, _, secret = token.partition(":")
        found = {s for s in (token, secret, *others) if s}
        self.secrets = tuple(sorted(found, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so this redacted copy is what prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ProcessLog(logging.StreamHandler):  # type: ignore[type-arg]
    """The process's own log handler (stderr, which systemd's journal collects): one per
    process, so configuring again replaces it rather than doubling every line. Without a
    stream it writes to sys.stderr as it is when the line is written (as logging's last
    resort does), not as it was when configured."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self.follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    settings: Settings, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    from bot.logs import LogContext, formatter

    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if isinstance(h, ProcessLog)]:
        root.removeHandler(old)
    handler = ProcessLog(stream)
    handler.setFormatter(formatter(settings.log_format))
    root.addHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # On every handler (a test's too): the ids and the cut of what people sent first, then
    # the token, so that neither reaches any output in either format.
    filters: list[logging.Filter] = [LogContext()]
    secrets = [s.get_secret_value() for s in (settings.telegram_bot_token, settings.webhook_secret)
               if s is not None]  # fmt: skip
    if secrets:  # the webhook's secret token is as secret as the bot's
        filters.append(RedactToken(*secrets))
    for each in root.handlers:
        for old_filter in [f for f in each.filters if isinstance(f, (LogContext, RedactToken))]:
            each.removeFilter(old_filter)
        for new_filter in filters:
            each.addFilter(new_filter)
    if settings.telegram_bot_token is not None:
        # An exception nobody caught (a token Telegram rejects at start-up raises one that
        # quotes it) would be printed by Python directly; send it through the log instead.
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException], value: BaseException, trace: TracebackType | None
) -> None:
    logging.getLogger("triobot").critical("stopped by an error", exc_info=(kind, value, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        logging.getLogger("triobot").error(
            "thread %s failed",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triobot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (long polling); the console when no token is set")
    console = sub.add_parser("console", help="the bot in this terminal, on a stand-in Telegram")
    console.add_argument("--no-demo", action="store_true", help="do not seed the demo programme")
    console.add_argument(
        "--at",
        metavar="'YYYY-MM-DD HH:MM'",
        help="start the bot's clock at this programme-local time (for a repeatable walk-through)",
    )
    invite = sub.add_parser("invite", help="invite codes")
    invite_sub = invite.add_subparsers(dest="invite_command", required=True)
    create = invite_sub.add_parser("create", help="create an invite code and deep link")
    create.add_argument(
        "--role", required=True, choices=["teacher", "trio_lead", "researcher", "coordinator"]
    )
    create.add_argument("--school", help="school reference (as in the roster)")
    create.add_argument("--trio", help="trio reference (as in the roster)")
    create.add_argument("--uses", type=int, default=1, help="how many people may use it")
    create.add_argument("--expires", default="14d", help="lifetime, e.g. 14d, 48h, never")
    from bot.cli.admin import add_parsers
    from bot.cli.trio import add_parsers as add_trio_parsers

    add_parsers(sub, invite_sub)  # invite batch/revoke/list, roster, calendar, person, status
    add_trio_parsers(sub)  # trios propose
    fake = sub.add_parser(
        "fake-telegram", help="serve the stand-in for Telegram over HTTP (simulations, tests)"
    )
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8081)
    from bot.cli.deliveries import add_parser as add_deliveries

    add_deliveries(sub)
    from bot.cli import digest as digest_cli

    digest_cli.add_parsers(sub)  # digest build, export
    from bot.cli import database as database_cli

    database_cli.add_parsers(sub)  # migrate, copy-db
    return parser


# A stop signal that comes while the process is still starting (importing, reading its
# settings), before the bot's own handlers are in place: noted here, honoured once they are.
EARLY_SIGNALS: list[int] = []


def _early_signal(signum: int, frame: object) -> None:
    EARLY_SIGNALS.append(signum)
    if len(EARLY_SIGNALS) > 1:
        os._exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    """`triobot …`; what stops a command reaches the operator as one line, not a traceback."""
    if argv is None and sys.argv[1:2] in (["run"], []):
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _early_signal)
    from storage.db import StorageUnavailable
    from storage.schema import StorageError

    try:
        status = _command(argv)
        # Flushed here rather than at exit, so that a reader gone away is noticed below.
        sys.stdout.flush()
    except StorageError as exc:  # a migration changed or gone: nothing was done
        print(f"triobot: {exc}", file=sys.stderr)
        return 2
    except (StorageUnavailable, sqlite3.OperationalError) as exc:
        # Locked past the write patience, or the disk is full: what failed was not written.
        print(f"triobot: the database is unavailable ({exc}); try again", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`): end quietly. Python flushes stdout again
        # at exit and would report that one too, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a command ended by SIGPIPE
    return status


def _command(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fake-telegram":
        from bot.standin.http import serve

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port))
        return 0
    from bot.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.clock import from_env

    clock = from_env()  # the real clock, unless a simulation set TRIOBOT_SIM_CLOCK
    command = args.command or "run"
    if command == "run" and settings.telegram_bot_token is None:
        print("No TELEGRAM_BOT_TOKEN set: starting the console instead.", file=sys.stderr)
        command = "console"
    if command == "console":
        configure_logging(settings, logging.WARNING)
        from bot.cli.console import run_console
        from bot.cli.console_clock import BadTime
        from storage.lease import LeaseHeld

        demo, start = not getattr(args, "no_demo", False), getattr(args, "at", None)
        try:
            asyncio.run(run_console(settings, clock=clock, demo=demo, start=start))
        except (LeaseHeld, BadTime) as exc:
            print(f"Not starting the console: {exc}", file=sys.stderr)
            return 2
        return 0
    configure_logging(settings)
    if command == "run":
        from bot.app.runner import run_polling

        return run_polling(settings, clock, early=EARLY_SIGNALS)
    if command == "deliveries":
        from bot.cli.deliveries import run as run_deliveries

        return run_deliveries(settings, args, clock)
    if command == "trios":
        from bot.cli.trio import run as run_trios

        return run_trios(args)
    from bot.cli import digest as digest_cli

    if command in digest_cli.COMMANDS:
        return digest_cli.run(settings, args, clock)
    from bot.cli import database as database_cli

    if command in database_cli.COMMANDS:
        return database_cli.run(settings, args)
    from bot.cli.admin import ADMIN_COMMANDS

    if command in ADMIN_COMMANDS:
        from bot.cli.admin import run as run_admin

        return run_admin(settings, args, clock)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
