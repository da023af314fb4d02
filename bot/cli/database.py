"""`triobot migrate` and `triobot copy-db`: the store itself, not the programme in it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.people.permissions import CLI_ROLES, allowed
from storage.copy_db import CopyRefused, copy_database, postgres_versions, sqlite_versions
from storage.lease import LeaseHeld, check_free
from storage.postgres_sql import safe_url
from storage.schema import migration_scripts
from storage.store import check_target, is_postgres, open_store

COMMANDS = ("migrate", "copy-db")


def add_parsers(sub: Any) -> None:
    sub.add_parser(
        "migrate", help="apply the pending schema migrations to TRIOBOT_DB (start-up does too)"
    )
    copy = sub.add_parser(
        "copy-db", help="copy a programme from its SQLite file into an empty PostgreSQL database"
    )
    copy.add_argument("sqlite_file", type=Path, help="the SQLite database (no bot running on it)")
    copy.add_argument("postgres_url", help="postgresql://user@host:port/database, migrated, empty")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "migrate":
        return migrate(settings.db_path)
    # Everyone's data, identities included, to another place: coordinator-only, as backup is.
    if not allowed(CLI_ROLES, "person.erase"):
        print("not allowed: person.erase", file=sys.stderr)
        return 2
    try:
        report = copy_database(args.sqlite_file, args.postgres_url)
    except CopyRefused as exc:
        print(f"triobot: {exc}", file=sys.stderr)
        return 2
    print(f"Copied {args.sqlite_file} into {safe_url(args.postgres_url)}:")
    for line in report.lines():
        print(line)
    print(f"Next: set TRIOBOT_DB={safe_url(args.postgres_url)} and start the bot.")
    return 0


def migrate(target: Path | str) -> int:
    """Apply what is pending and name each migration applied. A changed or missing migration
    is refused by the store (StorageError: one line from main, exit 2)."""
    check_target(target)
    postgres = is_postgres(target)
    if not postgres:
        try:
            check_free(Path(target))  # a running bot migrates at its own start
        except LeaseHeld as exc:
            print(f"triobot: not migrating: {exc}", file=sys.stderr)
            return 2
    before = _versions(target)
    asyncio.run(_open_and_close(target))
    after = _versions(target)
    scripts = migration_scripts("postgresql" if postgres else "sqlite")
    names = {number: name for number, name, _ in scripts}
    applied = sorted(after - before)
    where = safe_url(str(target)) if postgres else str(target)
    if not applied:
        print(f"{where}: up to date at schema version {max(after, default=0)}; nothing applied.")
        return 0
    for number in applied:
        print(f"applied {names.get(number, number)}")
    print(f"{where}: {len(applied)} migration(s) applied; schema version {max(after)}.")
    return 0


def _versions(target: Path | str) -> set[int]:
    if is_postgres(target):
        return set(postgres_versions(str(target)))
    return set(sqlite_versions(Path(target)))


async def _open_and_close(target: Path | str) -> None:
    db = await open_store(target)
    await db.close()
