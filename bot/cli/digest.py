"""`triobot digest build` and `triobot export`: digests and exports from the command line."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.digest.compile import Options, parse_week
from bot.digest.exports import write_csv, write_xlsx
from bot.digest.render import AUDIENCES, Audience, Rendered
from bot.digest.service import Digests, Week
from bot.people.permissions import CLI_ROLES, Action, allowed
from bot.texts import LANGUAGES, Texts
from storage import private_files
from storage.store import open_store

COMMANDS = frozenset({"digest", "export"})


def add_parsers(sub: Any) -> None:
    digest = sub.add_parser("digest", help="the weekly digests")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True)
    build = digest_sub.add_parser("build", help="write a week's digest, charts and exports")
    build.add_argument(
        "--week",
        help="ISO week, e.g. 2026-W47 (default: last week); this week gives the week so far",
    )
    build.add_argument("--audience", choices=AUDIENCES, default="researchers")
    build.add_argument("--lang", choices=LANGUAGES, default="en")
    build.add_argument("--out", required=True, type=Path, help="folder to write into")
    export = sub.add_parser(
        "export", help='every research table (README "Data dictionary"), all weeks to date'
    )
    export.add_argument("--out", required=True, type=Path, help="FILE.xlsx or FILE.csv")


# What `export --out` writes: the suffix decides, so any other suffix is refused rather
# than given a file whose name says something else.
EXPORT_SUFFIXES = (".xlsx", ".csv")


def run(settings: Settings, args: argparse.Namespace, clock: Clock) -> int:
    action: Action = "export.all" if args.command == "export" else "digest.researcher"
    if args.command == "digest" and args.audience == "schools":
        action = "digest.shared"
    if not allowed(CLI_ROLES, action):
        print(f"not allowed: {action}")
        return 2
    problem = _unusable(args)
    if problem is not None:
        print(problem)
        return 2
    return asyncio.run(_run(settings, args, clock))


def _unusable(args: argparse.Namespace) -> str | None:
    """The one line saying what is wrong with the arguments, before anything is opened."""
    if args.command == "export":
        if args.out.suffix.lower() not in EXPORT_SUFFIXES:
            return f"--out: {str(args.out)!r} must end in .xlsx or .csv"
        return None
    if args.week is not None:
        try:
            parse_week(args.week)
        except ValueError:
            return f"--week: {args.week!r} is not an ISO week like 2026-W47"
    return None


async def _run(settings: Settings, args: argparse.Namespace, clock: Clock) -> int:
    db = await open_store(settings.db_path, clock=clock)
    try:
        digests = Digests(
            db,
            Texts(),
            settings.tz,
            Options(settings.quiet_weeks, settings.digest_trend_weeks, settings.stalled_weeks),
            clock,
        )
        if args.command == "export":
            return await export_all(digests, args.out)
        return await build(digests, args)
    finally:
        await db.close()


async def build(digests: Digests, args: argparse.Namespace) -> int:
    """The week's digest; this week's as it stands so far (marked so, and not archived)."""
    weeks = await digests.weeks()
    week = digests.last_week() if args.week is None else parse_week(args.week)
    if weeks.place(week) == "future":
        print(f"--week: {week} has not begun yet; this week is {weeks.current} (the week so far)")
        return 2
    audience: Audience = args.audience
    prepared = await digests.week(week)
    rendered = await digests.render_async(prepared, audience, args.lang)
    written = await asyncio.to_thread(_write, args.out, rendered, prepared, audience, args.lang)
    for path in written:
        print(path)
    if prepared.partial_to is not None:
        local = prepared.partial_to.astimezone(digests.zone)
        print(f"{week} so far, to {local:%Y-%m-%d %H:%M} {digests.zone.key}: not archived")
    return 0


def _write(
    out: Path, rendered: Rendered, prepared: Week, audience: Audience, lang: str
) -> list[Path]:
    """The HTML digest, its Telegram text, the charts and (for researchers) the exports."""
    week = rendered.week
    private_files.make_folder(out)
    written = [out / rendered.filename]
    private_files.write_bytes(written[0], rendered.html)
    written.append(out / f"digest-{week}-{audience}-{lang}.txt")
    private_files.write_text(written[-1], "\n\n".join(rendered.message))
    for name, png in rendered.charts.items():
        written.append(out / f"chart-{week}-{name}.png")
        private_files.write_bytes(written[-1], png)
    if audience == "researchers":
        tables = prepared.export_tables()
        for name, table in tables.items():
            written.append(out / f"{name}-{week}.csv")
            write_csv(table, written[-1])
        written.append(out / f"export-{week}.xlsx")
        write_xlsx(tables, written[-1])
    return written


async def export_all(digests: Digests, path: Path) -> int:
    """Every week from the first contribution to the current one (marked partial): the long
    table of contributions and the other research tables."""
    tables = await digests.export_everything()
    if path.suffix.lower() == ".csv":  # FILE.csv is contributions; FILE-<table>.csv the others
        for name, table in tables.items():
            out = path if name == "contributions" else path.with_name(f"{path.stem}-{name}.csv")
            write_csv(table, out)
            print(out)
    else:  # .xlsx: run() refused any other suffix
        write_xlsx(tables, path)
        print(path)
    print(", ".join(f"{name}: {len(table)} rows" for name, table in tables.items()))
    return 0
