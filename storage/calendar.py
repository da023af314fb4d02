"""The programme's term calendar: term ranges and closure days (local dates)."""

from __future__ import annotations

from datetime import date

from storage.db import Database, Transaction

Span = tuple[date, date]
Entry = tuple[str, date, date, str]  # kind ("term" or a closure), first day, last day, name


class CalendarRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def spans(
        self, tx: Transaction | None = None
    ) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
        """(terms, closures), each sorted. Pass `tx` when inside a transaction."""
        sql = "SELECT kind, starts_on, ends_on FROM term_day"
        rows = await (tx.fetchall(sql) if tx is not None else self.db.fetchall(sql))
        terms: list[Span] = []
        closures: list[Span] = []
        for row in rows:
            span = (date.fromisoformat(row["starts_on"]), date.fromisoformat(row["ends_on"]))
            (terms if row["kind"] == "term" else closures).append(span)
        return tuple(sorted(terms)), tuple(sorted(closures))

    @staticmethod
    async def entries(tx: Transaction) -> set[Entry]:
        """Every (kind, starts_on, ends_on, name) held now: what a re-import compares with."""
        rows = await tx.fetchall("SELECT kind, starts_on, ends_on, name FROM term_day")
        return {
            (
                r["kind"],
                date.fromisoformat(r["starts_on"]),
                date.fromisoformat(r["ends_on"]),
                r["name"],
            )
            for r in rows
        }

    @staticmethod
    async def replace(tx: Transaction, entries: list[Entry]) -> None:
        """The whole calendar at once: a re-import replaces, never half-merges."""
        await tx.execute("DELETE FROM term_day")
        await tx.executemany(
            "INSERT INTO term_day (kind, starts_on, ends_on, name) VALUES (?, ?, ?, ?)",
            [(kind, a.isoformat(), b.isoformat(), name) for kind, a, b, name in entries],
        )
