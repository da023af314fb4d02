"""Importing the programme's term calendar from CSV: `kind,starts_on,ends_on,name`.

`kind` is `term` (a span when prompts may go out) or `closure` (a holiday or an INSET day
inside a term); dates are local, ISO (YYYY-MM-DD), both ends inclusive. The file is the whole
calendar: it replaces the one held, in one transaction, and only when it differs, so
importing it twice changes nothing. Like every roster file, one bad row rejects it whole.
"""

from __future__ import annotations

from datetime import date

from bot.programme.roster_fields import (
    MAX_NAME,
    ImportReport,
    Problem,
    Row,
    check_extra,
    check_once,
)
from storage.calendar import CalendarRepo
from storage.db import Transaction

CalendarEntry = tuple[str, date, date, str]
KINDS = ("term", "closure")


def _date(row: Row, column: str, line: int, report: ImportReport) -> date | None:
    raw = row.get(column, "")
    if not raw:
        report.errors.append(Problem(line, f"{column} is empty"))
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        report.errors.append(Problem(line, f"{column} {raw!r} is not a date like 2027-01-04"))
        return None


def check_calendar(rows: list[tuple[int, Row]], report: ImportReport) -> list[CalendarEntry]:
    """The entries of a calendar file; problems go to `report`."""
    seen: dict[str, int] = {}
    entries: list[CalendarEntry] = []
    for line, row in rows:
        check_extra(row, line, report)
        kind = row.get("kind", "").lower()
        starts, ends = _date(row, "starts_on", line, report), _date(row, "ends_on", line, report)
        name = " ".join(row.get("name", "").split())
        if kind not in KINDS:
            report.errors.append(Problem(line, f"kind {row.get('kind')!r} must be term or closure"))
            continue
        if len(name) > MAX_NAME:
            report.errors.append(Problem(line, f"name is longer than {MAX_NAME} characters"))
            continue
        if starts is None or ends is None:
            continue
        if ends < starts:
            report.errors.append(Problem(line, f"ends_on {ends} is before starts_on {starts}"))
            continue
        if check_once(seen, f"{kind} {starts}–{ends}", line, "entry", report):
            entries.append((kind, starts, ends, name))
    if not report.errors and not any(kind == "term" for kind, *_ in entries):
        report.warnings.append(
            Problem(0, "no term in the file: prompts go out on every weekday until one is added")
        )
    return entries


async def import_calendar(
    tx: Transaction, rows: list[tuple[int, Row]], report: ImportReport
) -> None:
    entries = check_calendar(rows, report)
    if report.errors:
        return
    held = await CalendarRepo.entries(tx)
    wanted = set(entries)
    report.created = len(wanted - held)
    report.unchanged = len(wanted & held)
    report.removed = len(held - wanted)
    if wanted != held:
        await CalendarRepo.replace(tx, sorted(wanted, key=lambda e: (e[1], e[2], e[0])))
