"""Exports for analysis: the long table of contributions and the participation table (the
other tables are made in bot/digest/research_tables.py; README "Data dictionary" has them all).

Pseudonymous ids are a keyed hash (HMAC-SHA256) of the person's id with a key kept in the
database: the same person has the same id every week, and without the database nobody can
tell who it is. CSV is UTF-8 with a header; XLSX has one sheet per table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from bot.digest.xlsx import write_tables
from storage import private_files

EXPORT_COLUMNS = (
    "person",
    "role",
    "school",
    "local_authority",
    "trio",
    "trio_name",
    "date",
    "week",
    "kind",
    "tags",
    "text",
    "partial",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PARTICIPATION_COLUMNS = (
    "level",
    "name",
    "week",
    "delivered",
    "answered",
    "response_rate",
    "meetings_scheduled",
    "meetings_held",
    "partial",
)
# An action's owner inside its tags (storage/digest_sources_trio_work.py): a person id, which
# never leaves in an export: it becomes owner=<pseudonym>, or goes when they do not consent.
OWNER_TAG = re.compile(r"(?:^|;)owner_id=([^;]*)")


def pseudonym(key: bytes, person_id: int) -> str:
    digest = hmac.new(key, f"person:{person_id}".encode(), hashlib.sha256).hexdigest()
    return f"P-{digest[:12]}"


def long_table(
    contributions: pd.DataFrame,
    key: bytes,
    weeks: pd.Series,
    consenting: Collection[int] = frozenset(),
    current_week: str | None = None,
) -> pd.DataFrame:
    """The export's long format: person ids replaced by pseudonyms (in the tags too), the ISO
    week added, and `partial` 1 for the rows of `current_week` (not over when exported)."""
    table = contributions.copy()
    ids = table["person_id"].astype("int64")
    names = {pid: pseudonym(key, int(pid)) for pid in ids.unique()}
    table["person"] = ids.map(names)
    table["week"] = weeks.to_numpy() if len(weeks) == len(table) else ""
    table["tags"] = owner_tags(table["tags"].fillna(""), key, consenting)
    week = table["week"].astype("object")
    table["partial"] = (week == current_week).astype("int64") if current_week else 0
    return table.loc[:, list(EXPORT_COLUMNS)].fillna("")


def owner_tags(tags: pd.Series, key: bytes, consenting: Collection[int]) -> pd.Series:
    """`owner_id=N` → `owner=P-…` when N consents, dropped when they do not; an empty
    owner_id (the whole trio's action) → `owner=trio`."""

    def swap(found: re.Match[str]) -> str:
        lead = ";" if found.group(0).startswith(";") else ""
        owner = found.group(1)
        if not owner:  # the whole trio's
            return f"{lead}owner=trio"
        if owner.isdigit() and int(owner) in consenting:
            return f"{lead}owner={pseudonym(key, int(owner))}"
        return ""

    def one(text: str) -> str:
        return OWNER_TAG.sub(swap, text).lstrip(";") if "owner_id=" in text else text

    return tags.map(one)


def participation_table(
    trend_trio: pd.DataFrame, trend_la: pd.DataFrame, current_week: str | None = None
) -> pd.DataFrame:
    """Trio and local-authority participation, week by week, in one long table."""
    parts = []
    for level, table, column in (
        ("trio", trend_trio, "trio"),
        ("local_authority", trend_la, "local_authority"),
    ):
        part = table.rename(columns={column: "name"}).copy()
        part.insert(0, "level", level)
        parts.append(part)
    joined = pd.concat(parts, ignore_index=True)
    delivered = joined["delivered"].where(joined["delivered"] > 0)
    joined["response_rate"] = (joined["answered"] / delivered).round(3)
    week = joined["week"].astype("object")
    joined["partial"] = (week == current_week).astype("int64") if current_week else 0
    return joined.loc[:, list(PARTICIPATION_COLUMNS)]


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """UTF-8 with a header, owner-only (exports hold what people wrote); text that a
    spreadsheet would take for a formula is quoted."""
    with private_files.open_text(path) as out:
        formula_safe(table).to_csv(out, index=False)


def formula_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells beginning with = + - @ (or a tab or carriage return, which some spreadsheets
    skip before looking for one) get a leading single quote, so opening the CSV in a
    spreadsheet shows the text instead of running it (OWASP's advice on CSV injection).
    Numbers are left alone; the table passed in is not changed."""
    safe = table
    for name in table.columns:
        column = table[name]
        if column.dtype.kind in "biufcmM":
            continue
        risky = {
            value
            for value in dict.fromkeys(column.tolist())  # each distinct value checked once
            if isinstance(value, str) and value.startswith(FORMULA_STARTS)
        }
        if risky:
            if safe is table:
                safe = table.copy()
            safe[name] = column.mask(column.isin(risky), "'" + column.astype("string"))
    return safe


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: Path | BinaryIO) -> None:
    """One sheet per table, streamed (bot/digest/xlsx.py). Text is always text: a contribution
    that begins with "=" is an inline string, never evaluated as a spreadsheet formula."""
    tables = {name[:31]: table for name, table in sheets.items()}
    if isinstance(path, Path):
        with private_files.open_binary(path) as out:  # owner-only, like every export
            write_tables(tables, out)
    else:
        write_tables(tables, path)
