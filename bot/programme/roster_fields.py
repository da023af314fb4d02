"""What every roster file shares: reading CSV with line numbers, checking one field, and
the report of an import (errors reject the whole file; warnings do not)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Literal

RosterKind = Literal["schools", "trios of schools", "trios of teachers", "people", "term calendar"]
MAX_REF = 64
MAX_NAME = 200
MAX_EMAIL = 254  # the longest address SMTP carries


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ImportReport:
    kind: RosterKind | None = None
    rows: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # calendar entries the new file no longer has
    # Rows left out while the rest went in (a person whose school is not in their trio).
    refused: list[Problem] = field(default_factory=list)
    # What the import changed (or, in a dry run, would change), one line per row.
    changes: list[Problem] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return self.kind is not None and not self.errors


class RosterRejected(Exception):
    """Raised inside the transaction so nothing of a faulty file is kept."""


Row = dict[str, str]


def read_rows(text: str) -> tuple[list[str], list[tuple[int, Row]]]:
    """The header and (line number, row) pairs; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    rows: list[tuple[int, Row]] = []
    names = [h.strip().lower() for h in header]
    start = reader.line_num + 1
    for values in reader:
        if any(v.strip() for v in values):
            row = {
                name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(names)
            }
            if len(values) > len(names):
                row["__extra__"] = "1"
            rows.append((start, row))
        start = reader.line_num + 1
    return header, rows


# --- field checks -----------------------------------------------------------------------
def check_ref(row: Row, column: str, line: int, report: ImportReport) -> str | None:
    value = row.get(column, "")
    if not value:
        report.errors.append(Problem(line, f"{column} is empty"))
        return None
    if len(value) > MAX_REF or any(ch.isspace() for ch in value):
        report.errors.append(
            Problem(line, f"{column} {value!r} must be one word of at most {MAX_REF} characters")
        )
        return None
    return value


def check_text(row: Row, column: str, line: int, report: ImportReport) -> str | None:
    value = " ".join(row.get(column, "").split())
    if not value:
        report.errors.append(Problem(line, f"{column} is empty"))
        return None
    if len(value) > MAX_NAME:
        report.errors.append(Problem(line, f"{column} is longer than {MAX_NAME} characters"))
        return None
    return value


def check_number(
    row: Row,
    column: str,
    line: int,
    report: ImportReport,
    *,
    integer: bool,
    low: float,
    high: float,
) -> tuple[bool, float | int | None]:
    raw = (
        row.get(column, "").replace(",", ".")
        if not integer
        else row.get(column, "").replace(",", "")
    )
    if not raw:
        return True, None
    try:
        value: float | int = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        report.errors.append(Problem(line, f"{column} {row.get(column)!r} is not {kind}"))
        return False, None
    if not math.isfinite(value) or not low <= value <= high:
        report.errors.append(Problem(line, f"{column} {raw} is outside {low:g}–{high:g}"))
        return False, None
    return True, value


def check_email(row: Row, line: int, report: ImportReport) -> tuple[bool, str | None]:
    """(valid, address): an empty cell is valid and means no address."""
    value = row.get("email", "").strip()
    if not value:
        return True, None
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or len(value) > MAX_EMAIL
        or any(ch.isspace() or ch in ",;<>" for ch in value)
    ):
        report.errors.append(Problem(line, f"email {value!r} is not an email address"))
        return False, None
    return True, value


def check_once(seen: dict[str, int], key: str, line: int, what: str, report: ImportReport) -> bool:
    if key in seen:
        report.errors.append(Problem(line, f"duplicate {what} {key!r} (first on line {seen[key]})"))
        return False
    seen[key] = line
    return True


def check_extra(row: Row, line: int, report: ImportReport) -> None:
    if "__extra__" in row:
        report.errors.append(Problem(line, "more values than the header has columns"))


def count_change(report: ImportReport, changed: bool, new: bool) -> None:
    if new:
        report.created += 1
    elif changed:
        report.updated += 1
    else:
        report.unchanged += 1
