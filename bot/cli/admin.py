"""Coordinator commands that act on the database directly. Output is plain English text.

Each command names the permission it exercises (bot/people/permissions.py); whoever runs the
command line holds the coordinator's rights (`CLI_ROLES`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli.deliveries import sender_health
from bot.cli.roster_report import print_report, print_status
from bot.clock import Clock
from bot.config import Settings
from bot.people.data_rights import DataRights
from bot.people.permissions import CLI_ROLES, Action, allowed
from bot.programme.roster import RosterImport
from bot.programme.roster_fields import RosterKind
from bot.programme.status import Status
from bot.telegram.context import offline_catch_up
from storage import private_files
from storage import trio_membership as membership
from storage.backup import BackupError, BackupRefused, backup
from storage.db import Database
from storage.invites import InviteAdminRepo, InviteRepo
from storage.lease import live_workers
from storage.programme import ProgrammeRepo
from storage.status import StatusRepo
from storage.store import is_url, open_store

ADMIN_COMMANDS = frozenset({"invite", "roster", "calendar", "person", "status", "backup"})
PRIMARY_ROLE = ("coordinator", "researcher", "trio_lead", "teacher")  # shown first in invites
# `invite batch`'s file, for a mail merge: the first six as they always were, then the
# address to send to and the trio(s) (names as the bot shows them; references as the roster).
BATCH_COLUMNS = [
    "person_ref",
    "name",
    "school",
    "role",
    "code",
    "link",
    "email",
    "trio",
    "trio_id",
]


def parse_lifetime(text: str, now: datetime) -> datetime | None:
    if text.strip().lower() in ("never", "none", "0"):
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([dhw])\s*", text.lower())
    if not match:
        raise ValueError(f"--expires: {text!r} is not like 14d, 48h or 2w")
    amount, unit = int(match[1]), match[2]
    hours = {"h": 1, "d": 24, "w": 168}[unit] * amount
    return now + timedelta(hours=hours)


async def create_invite(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    try:
        expires = parse_lifetime(args.expires, db.clock())
    except ValueError as exc:
        print(exc)
        return 2
    if args.uses < 1:
        print("--uses must be at least 1")
        return 2
    async with db.transaction() as tx:
        school_id = trio_id = None
        if args.school:
            school_id = await ProgrammeRepo.school_id(tx, args.school)
            if school_id is None:
                print(f"--school: no school with reference {args.school!r}")
                return 2
        if args.trio:
            trio = await membership.trio_by_ref(tx, args.trio)
            if trio is None:
                print(f"--trio: no trio with reference {args.trio!r}")
                return 2
            trio_id = trio.id
            if school_id is not None and trio.school_ids and school_id not in trio.school_ids:
                print(f"--school: {args.school} is not one of trio {args.trio}'s schools")
                return 2
        code = await InviteRepo.create(
            tx,
            role=args.role,
            school_id=school_id,
            trio_id=trio_id,
            max_uses=args.uses,
            expires_at=expires,
        )
    print(code)
    print(_link(settings, code))
    if expires is not None:
        print(f"Expires {expires:%Y-%m-%d %H:%M} UTC; usable by {args.uses} person(s).")
    return 0


def add_parsers(sub: Any, invite_sub: Any) -> None:
    """The coordinator's subcommands, next to `invite create` (bot/cli/main.py)."""
    batch = invite_sub.add_parser(
        "batch", help="a personal invite for every pre-registered person without one, as CSV"
    )
    batch.add_argument("--out", required=True, type=Path, help="CSV file to write (mail merge)")
    batch.add_argument("--expires", default="30d", help="lifetime, e.g. 30d, 6w, never")
    revoke = invite_sub.add_parser("revoke", help="withdraw an invite code")
    revoke.add_argument("code")
    listing = invite_sub.add_parser("list", help="invites still usable (--all: every one)")
    listing.add_argument("--all", action="store_true", dest="everything")
    roster = sub.add_parser("roster", help="the programme's schools, trios and people")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    load = roster_sub.add_parser("import", help="import schools, trios or people from CSV")
    load.add_argument("file", type=Path)
    load.add_argument(
        "--dry-run", action="store_true", help="check the file and list each change; write nothing"
    )
    load.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="import people whose school is not one of their trio's schools (else refused)",
    )
    calendar = sub.add_parser("calendar", help="the programme's term calendar")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    replace = calendar_sub.add_parser(
        "import", help="replace the term calendar from CSV: kind,starts_on,ends_on,name"
    )
    replace.add_argument("file", type=Path)
    replace.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    person = sub.add_parser("person", help="one person's data")
    person_sub = person.add_subparsers(dest="person_command", required=True)
    erase = person_sub.add_parser("erase", help="erase a person on request (cannot be undone)")
    erase.add_argument("who", help="roster reference or Telegram id")
    erase.add_argument("--yes", action="store_true", help="confirm: erase without asking")
    move = person_sub.add_parser("move", help="move a person into a trio, or out of one")
    move.add_argument("who", help="roster reference or Telegram id")
    where = move.add_mutually_exclusive_group(required=True)
    where.add_argument("--trio", help="into this trio, out of their others of its kind")
    where.add_argument("--remove-from-trio", dest="remove_from", metavar="TRIO", help="only out")
    status = sub.add_parser("status", help="schools, trios, who joined, quiet trios, failures")
    status.add_argument("--quiet-weeks", type=float, help="quiet after this many weeks")
    copy = sub.add_parser("backup", help="copy the live database, safely while the bot runs")
    copy.add_argument("file", type=Path, help="the backup file to write (owner-only)")


def run(settings: Settings, args: argparse.Namespace, clock: Clock) -> int:
    """Dispatch one coordinator command; returns the exit status."""
    command = args.command
    if command == "backup":
        return take_backup(settings, args)
    if command in ("roster", "calendar"):
        try:
            content = args.file.read_bytes()
        except OSError as exc:
            print(f"cannot read {args.file}: {exc.strerror}")
            return 2
        return asyncio.run(
            _with_db(settings, clock, "roster.import", import_roster, settings, content, args)
        )
    if command == "invite":
        action: Action = "invite.create"
        handler = {
            "create": create_invite,
            "batch": batch_invites,
            "revoke": revoke_invite,
            "list": list_invites,
        }[args.invite_command]
        return asyncio.run(_with_db(settings, clock, action, handler, settings, args))
    if command == "person" and args.person_command == "move":
        # A change to the roster, so the roster's permission (no action of its own yet).
        return asyncio.run(_with_db(settings, clock, "roster.import", move_person, settings, args))
    if command == "person":
        return asyncio.run(_with_db(settings, clock, "person.erase", erase_person, args))
    if command == "status":
        return asyncio.run(
            _with_db(settings, clock, "status.programme", show_status, settings, args)
        )
    return 2


def take_backup(settings: Settings, args: argparse.Namespace) -> int:
    """`backup FILE`: storage/backup.py, without opening the database as the bot does (no
    migrations: a backup is what one takes before them, or when they refuse)."""
    # Everyone's data, identities included: coordinator-only, like erasure (there is no
    # action of its own for it in bot/people/permissions.py yet).
    if not allowed(CLI_ROLES, "person.erase"):
        print("not allowed: person.erase", file=sys.stderr)
        return 2
    if is_url(settings.db_path):
        print(
            "triobot backup copies a SQLite file; for PostgreSQL use pg_dump"
            " (README: Backups on PostgreSQL)",
            file=sys.stderr,
        )
        return 2
    try:
        report = backup(Path(settings.db_path), args.file)
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2 if isinstance(exc, BackupRefused) else 1
    print(report.line())
    return 0


async def _with_db(
    settings: Settings, clock: Clock, action: Action, handler: Any, *extra: Any
) -> int:
    if not allowed(CLI_ROLES, action):
        print(f"not allowed: {action}")
        return 2
    db = await open_store(settings.db_path, clock=clock)
    try:
        return int(await handler(db, *extra))
    finally:
        await db.close()


async def import_roster(
    db: Database, settings: Settings, content: bytes, args: argparse.Namespace
) -> int:
    expect: tuple[RosterKind, ...] | None = (
        ("term calendar",) if args.command == "calendar" else None
    )
    roster = RosterImport(db, await offline_catch_up(db, settings, db.clock))
    report = await roster.run(
        content,
        dry_run=args.dry_run,
        expect=expect,
        allow_mismatch=getattr(args, "allow_mismatch", False),
    )
    print_report(report, args.file, dry_run=args.dry_run)
    # Rows refused while the rest went in: a script running the import must notice them.
    return 1 if report.errors or report.refused else 0


def _link(settings: Settings, code: str) -> str:
    return f"https://t.me/{settings.bot_username or '<your_bot>'}?start={code}"


async def batch_invites(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    try:
        expires = parse_lifetime(args.expires, db.clock())
    except ValueError as exc:
        print(exc)
        return 2
    now = db.clock()
    rows = []
    async with db.transaction() as tx:
        for person in await InviteAdminRepo.uninvited(tx, now):
            roles = [r for r in PRIMARY_ROLE if r in person.roles] or ["teacher"]
            code = await InviteRepo.create(
                tx,
                role=roles[0],
                school_id=person.school_id,
                person_id=person.person_id,
                expires_at=expires,
            )
            link = _link(settings, code)
            rows.append(
                [
                    person.ref,
                    person.name or "",
                    person.school or "",
                    roles[0],
                    code,
                    link,
                    person.email or "",
                    "; ".join(person.trios),
                    "; ".join(person.trio_refs),
                ]
            )
        # Written inside the transaction: if the file cannot be written, no codes are made.
        _write_private_csv(args.out, BATCH_COLUMNS, rows)
    print(f"{len(rows)} new personal invite(s) written to {args.out}")
    if not settings.bot_username:
        print("Set TRIOBOT_BOT_USERNAME to put real links in the file.", file=sys.stderr)
    return 0


def _write_private_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Owner-only from the first byte: the file holds live invite codes."""
    with private_files.open_text(path) as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


async def revoke_invite(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    code = InviteRepo.normalise(args.code)
    async with db.transaction() as tx:
        done = await InviteRepo.revoke(tx, code)
    if not done:
        known = await InviteRepo(db).get(code)
        print(f"{code}: already revoked" if known else f"{code}: no such invite")
        return 1
    print(f"{code}: revoked; it can no longer be used")
    return 0


async def list_invites(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    now = db.clock()
    lines = await InviteAdminRepo(db).listing(now, everything=args.everything)
    print(f"{'code':<13} {'role':<12} {'uses':>7}  {'expires':<10} school / trio / person")
    for i in lines:
        expires = i.expires_at.strftime("%Y-%m-%d") if i.expires_at else "never"
        if i.revoked_at is not None:
            expires = "revoked"
        where = " / ".join(x or "-" for x in (i.school, i.trio, i.person))
        print(f"{i.code:<13} {i.role:<12} {i.uses:>3}/{i.max_uses:<3}  {expires:<10} {where}")
    print(f"{len(lines)} invite(s)")
    return 0


async def erase_person(db: Database, args: argparse.Namespace) -> int:
    rights = DataRights(db, db.clock)
    person = await rights.find(args.who)
    if person is None or person.status == "erased":
        print(f"{args.who}: no such person (or already erased)")
        return 1
    label = person.ref or f"Telegram id {person.telegram_id}"
    if not args.yes:
        print(f"This would erase {person.display_name or '(no name)'} ({label}) for good.")
        print("Run the command again with --yes to do it.")
        return 1
    await rights.erase(person.id)
    print(f"Erased person {person.id} ({label}). Their row remains, marked erased, with no data.")
    return 0


async def move_person(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    """`person move`: the rule of storage/trio_membership.py, then one line of what changed.
    Someone who joins a trio gets what it was already told (its meetings' invitations, this
    week's prompts), queued for the bot to send."""
    catch_up = await offline_catch_up(db, settings, db.clock)
    person = await DataRights(db, db.clock).find(args.who)
    if person is None or person.status == "erased":
        print(f"{args.who}: no such person (or erased on request)")
        return 2
    who = person.ref or f"Telegram id {person.telegram_id}"
    who += f" ({person.display_name})" if person.display_name else ""
    into = args.trio is not None
    option, ref = ("--trio", args.trio) if into else ("--remove-from-trio", args.remove_from)
    now = db.clock()
    async with db.transaction() as tx:
        trio = await membership.trio_by_ref(tx, ref)
        if trio is None:
            print(f"{option}: no trio with reference {ref!r}")
            return 2
        if into and not trio.admits(person.school_id):
            print(f"--trio: {who}'s school is not one of trio {ref}'s schools")
            return 2
        if into:
            moved = await membership.move_into(tx, person.id, trio, now, f"moved to {ref}")
            if moved.joined:
                await catch_up(tx, person.id)
        else:
            left = await membership.leave_trio(tx, person.id, trio.id, now, f"removed from {ref}")
            moved = membership.Moved(False, ((trio, left),))
    gone = [(old, left) for old, left in moved.left if left.was_member]
    out = ", ".join(old.ref + (" (was its lead)" if left.was_lead else "") for old, left in gone)
    if not moved.joined and not gone:
        print(f"{who} is {'already' if into else 'not'} in trio {ref}; nothing changed.")
        return 0
    if into:
        done = f"{who} moved into trio {ref}" if moved.joined else f"{who} stays in trio {ref}"
        done += f", out of {out}" if out else ""
    else:
        done = f"{who} left trio {out}"
    print(f"{done}; cancelled {_counts(moved.messages, moved.scheduled)}.")
    return 0


def _counts(messages: int, scheduled: int) -> str:
    return f"{messages} message(s) and {scheduled} scheduled item(s)"


async def show_status(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    weeks = args.quiet_weeks or settings.quiet_weeks
    found = await Status(StatusRepo(db)).programme(db.clock(), weeks)
    print_status(found, await sender_health(db, settings), db.clock())
    workers = await live_workers(db)  # PostgreSQL: the `triobot run` processes now
    if workers:
        print(f"Workers running: {len(workers)}")
    for worker in workers:
        print(f"  {worker.describe()}")
    return 0
