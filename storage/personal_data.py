"""Everything held about one person, erased on request (storage/personal_export.py collects
it for them to download).

WHERE PERSONAL DATA IS REGISTERED. The tables of the foundation, scheduling and
administration work are listed here, in `ERASE` (what erasure does to each), and in
storage/personal_export.py, in `EXPORT` (what the person gets when they download their data).
A later migration that adds a table or column holding a person's data, or words that may
name them, registers it in the same SQL file: rows in `erasure_rule` (the same fields as
`Scrub`) and `export_section` (see storage/migrations/0006_erasure_rules.sql for an
example). So a feature's schema and its erasure arrive together, whatever code imports what.
tests/test_data_rights.py fails for any table with a column referencing person(id) that no
rule mentions, and scans every table and column after an erasure for the person's name and
Telegram id.

The rule (also in README, "Data rights"):
- their own contributions (flow answers, consent records, invites used, deliveries to them)
  are deleted;
- shared work they took part in (e.g. an agreed trio summary) is kept, with their name
  replaced by "[erased]" (`redact` lines);
- references to them from other people's records are set to NULL (`null` lines);
- the person row stays, marked `erased`, with every personal field emptied, so counts add up;
- a keyed hash of their roster reference is kept so a re-imported roster cannot bring them back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from storage import meta
from storage.catalogue import column_defaults, row_keys, table_columns
from storage.db import Database, Reader, Transaction, to_db_time
from storage.postgres import PostgresDatabase

REDACTED = "[erased]"
# Names shorter than this are not searched for in other people's words: "Al" would match too much.
MIN_REDACT_LENGTH = 3


@dataclass(frozen=True, slots=True)
class Scrub:
    """What erasure does to `table`.`column`.

    how:   delete — rows where column = the key are deleted
           null   — column is set to NULL where it equals the key
           redact — the person's name is replaced by "[erased]" inside the column's text
    key:   which of the person's values `column` holds: person_id or telegram_id
    where: a custom condition instead of `column = :key` (named parameters :person_id,
           :telegram_id); for redact, narrows the rows searched
    json:  the column holds JSON text (the name is searched in its escaped form)
    """

    table: str
    column: str
    how: Literal["delete", "null", "redact"]
    key: Literal["person_id", "telegram_id"] = "person_id"
    where: str | None = None
    json: bool = False


_TRIO_MATES = (
    "person_id IN (SELECT m2.person_id FROM trio_member m1"
    " JOIN trio_member m2 ON m2.trio_id = m1.trio_id WHERE m1.person_id = :person_id)"
)

_OWN_TRIOS = "trio_id IN (SELECT trio_id FROM trio_member WHERE person_id = :person_id)"
_OWN_SUMMARIES = (
    "summary_id IN (SELECT s.id FROM summary s JOIN trio_member m ON m.trio_id = s.trio_id"
    " WHERE m.person_id = :person_id)"
)
# The lesson-study cycles someone took part in (for redacting their name in the trio's words).
_THEIR_CYCLES = (
    "lesson_study_id IN (SELECT lesson_study_id FROM lesson_study_member"
    " WHERE person_id = :person_id)"
)

# Archived digest rows that are a person's own words, not the trio's agreed work: the kinds
# other than storage/digest_sources.py AGREED_KINDS (tests/test_consent_policy.py checks).
AGREED_KINDS_SQL = (
    "('focus', 'shared', 'evidence', 'barrier', 'action', 'question', 'other', 'lesson_study')"
)
_OWN_ARCHIVED_WORDS = f"person_id = :person_id AND kind NOT IN {AGREED_KINDS_SQL}"
# Archived rows of the trios they were in: the agreed work kept there may name them.
_OWN_TRIOS_ARCHIVED = (
    "trio IN (SELECT t.ref FROM trio t JOIN trio_member m ON m.trio_id = t.id"
    " WHERE m.person_id = :person_id)"
)

# In order: redactions first (they look at trio membership), deletions after.
ERASE: tuple[Scrub, ...] = (
    # Other people's words in their trio (a lead's summary draft, a partner's notes).
    Scrub("flow_state", "answers", "redact", where=_TRIO_MATES, json=True),
    Scrub("flow_state", "context", "redact", where=_TRIO_MATES, json=True),
    Scrub("outbox", "payload", "redact", json=True),
    Scrub("schedule", "payload", "redact", where="trio_id IS NOT NULL", json=True),
    Scrub("reflection", "answer", "redact", where=_TRIO_MATES, json=True),
    # Meetings and summaries (0004): the trio's shared work stays, their name inside it goes.
    Scrub("meeting", "focus", "redact", where=_OWN_TRIOS),
    Scrub("summary", "focus", "redact", where=_OWN_TRIOS, json=True),
    Scrub("summary_item", "body", "redact", where=_OWN_SUMMARIES, json=True),
    Scrub("summary_approval", "comment", "redact", where=_OWN_SUMMARIES, json=True),
    Scrub("action", "what", "redact", where=_OWN_TRIOS, json=True),
    Scrub("digest_contribution", "text", "redact", where=_OWN_TRIOS_ARCHIVED),
    Scrub("digest_contribution", "tags", "redact", where=_OWN_TRIOS_ARCHIVED),
    # Lesson study is shared trio work: kept, their name redacted in the words, their
    # references emptied; their own decisions and memberships go.
    *(
        Scrub(table, column, "redact", where=_THEIR_CYCLES, json=True)
        for table, column in (
            ("lesson_study_note", "body"),
            ("lesson_study_account", "learned"),
            ("lesson_study_account", "changed"),
            ("lesson_study_account", "advice"),
            ("research_lesson", "outline"),
            ("research_lesson", "discussion"),
            ("research_lesson", "changes"),
        )
    ),
    Scrub(
        "lesson_study_approval",
        "suggestion",
        "redact",
        where="account_id IN (SELECT a.id FROM lesson_study_account a JOIN lesson_study_member m"
        " ON m.lesson_study_id = a.lesson_study_id WHERE m.person_id = :person_id)",
        json=True,
    ),
    Scrub("lesson_study", "started_by", "null"),
    Scrub("research_lesson", "teacher_id", "null"),
    Scrub("lesson_study_note", "person_id", "null"),
    Scrub("lesson_study_account", "author_id", "null"),
    Scrub("lesson_study_approval", "person_id", "delete"),
    Scrub("lesson_study_task", "person_id", "delete"),
    Scrub("lesson_study_member", "person_id", "delete"),
    # Later tables register their own lines in `erasure_rule` (module docstring).
    Scrub("flow_state", "person_id", "delete"),
    Scrub("reflection", "person_id", "delete"),
    Scrub("meeting_reflection", "person_id", "delete"),
    Scrub("meeting_attendance", "person_id", "delete"),
    Scrub("summary_approval", "person_id", "delete"),
    Scrub("summary", "author_id", "null"),
    Scrub("action", "owner_id", "null"),
    Scrub("meeting", "created_by", "null"),
    Scrub("meeting", "summary_runner_id", "null"),
    Scrub("trio_chat", "linked_by", "null"),
    # Their rows in archived digests (bot/digest): their own words go; the trio's agreed
    # work they wrote stays for the shared digest, with no author (bot/digest/consent.py).
    Scrub("digest_contribution", "person_id", "delete", where=_OWN_ARCHIVED_WORDS),
    Scrub("digest_contribution", "person_id", "null"),
    Scrub("schedule", "person_id", "delete"),
    Scrub("consent", "person_id", "delete"),
    Scrub(
        "invite_use",
        "code",
        "delete",
        where="code IN (SELECT code FROM invite WHERE person_id = :person_id)",
    ),
    Scrub("invite_use", "person_id", "delete"),
    Scrub("invite", "person_id", "delete"),
    Scrub("invite", "created_by", "null"),
    Scrub("outbox", "person_id", "delete"),
    Scrub("outbox", "chat_id", "delete", key="telegram_id"),
    Scrub("trio_member", "person_id", "delete"),
    Scrub("person_role", "person_id", "delete"),
)

# Person columns erasure leaves as they are; every other column goes back to its default.
_PERSON_KEEP = frozenset({"id", "status", "created_at", "updated_at", "erased_at"})


async def scrubs(q: Reader) -> tuple[Scrub, ...]:
    """ERASE and every rule later migrations registered: redactions first (they look at
    trio membership, which the deletions remove), then the registered deletions (their
    conditions may also look at membership), then ERASE's."""
    rows = await q.fetchall(
        "SELECT table_name, column_name, how, key, where_sql, is_json FROM erasure_rule ORDER BY id"
    )
    registered = [Scrub(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]
    every = [*ERASE, *registered]
    redactions = [s for s in every if s.how == "redact"]
    return (
        *redactions,
        *(s for s in registered if s.how != "redact"),
        *(s for s in ERASE if s.how != "redact"),
    )


async def ref_key(tx: Transaction) -> bytes:
    return await meta.secret_key(tx, "erased_ref_key")


def ref_hash(key: bytes, ref: str) -> str:
    return hmac.new(key, ref.strip().encode(), hashlib.sha256).hexdigest()


async def erased_ref_hashes(tx: Transaction) -> tuple[bytes, frozenset[str]]:
    key = await ref_key(tx)
    rows = await tx.fetchall("SELECT ref_hash FROM erased_ref")
    return key, frozenset(r[0] for r in rows)


async def erase(tx: Transaction, person_id: int) -> bool:
    """Apply every ERASE line to one person, then empty their row. False if not found."""
    row = await tx.fetchone(
        "SELECT ref, telegram_id, display_name, status FROM person WHERE id = ?", (person_id,)
    )
    if row is None or row["status"] == "erased":
        return False
    params = {"person_id": person_id, "telegram_id": row["telegram_id"]}
    name = (row["display_name"] or "").strip()
    schema = await table_columns(tx)
    for scrub in await scrubs(tx):
        if scrub.table not in schema:
            continue  # registered ahead of its migration
        _check_names(scrub, schema)
        if scrub.how == "redact":
            if len(name) >= MIN_REDACT_LENGTH:
                await _redact(tx, scrub, name, params)
            continue
        if params[scrub.key] is None and scrub.where is None:
            continue
        condition = scrub.where or f"{scrub.column} = :{scrub.key}"
        if scrub.how == "delete":
            await tx.execute(f"DELETE FROM {scrub.table} WHERE {condition}", params)  # noqa: S608
        else:
            await tx.execute(
                f"UPDATE {scrub.table} SET {scrub.column} = NULL WHERE {condition}",  # noqa: S608
                params,
            )
    now = to_db_time(tx.clock())
    if row["ref"]:
        digest = ref_hash(await ref_key(tx), row["ref"])
        await tx.execute(
            "INSERT INTO erased_ref (ref_hash, erased_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (digest, now),
        )
    # Every column, including ones later migrations add, back to its default (mostly NULL):
    # name, Telegram id, roster reference, school, language, time zone, settings…
    # Names and defaults are read from the schema itself, so only the schema is spliced.
    emptied = ", ".join(
        f"{name} = {default or 'NULL'}"
        for name, default in await column_defaults(tx, "person")
        if name not in _PERSON_KEEP
    )
    await tx.execute(
        f"UPDATE person SET {emptied}, status = 'erased', erased_at = ?,"  # noqa: S608
        " updated_at = ? WHERE id = ?",
        (now, now, person_id),
    )
    return True


async def after_erasure(db: Database) -> bool:
    """After an erasure has committed: no copy of the words left where the store keeps them.

    SQLite (secure_delete on) zeroes what was deleted or overwritten in the database file;
    the WAL still holds the old pages until a checkpoint copies them back (`checkpoint`).
    False if a reader held the checkpoint up (SQLite makes one by itself later), or if
    PostgreSQL's VACUUM could not run (autovacuum does it later).

    PostgreSQL never overwrites a row in place: an UPDATE or DELETE leaves the old version
    as a dead tuple, invisible to every query (no SQL reads it back) but still in the table's
    pages, its TOAST table and its index entries, until VACUUM removes it. Autovacuum would,
    some time later; erasure runs VACUUM (not FULL: no lock that stops the bot) on every
    table it may have touched, at once, so no version of the person's rows remains as a
    tuple anywhere (one that a transaction still open elsewhere may see stays for the next
    VACUUM: autovacuum's). VACUUM frees the space without zeroing it: the bytes stay in the data
    files until new rows overwrite them, and in the WAL and in backups until those age out
    (the server's and the managed service's retention: README "Backups", "Data rights")."""
    if not isinstance(db, PostgresDatabase):
        return await db.checkpoint()
    schema = await table_columns(db)
    touched = sorted(t for t in {s.table for s in await scrubs(db)} | {"person"} if t in schema)
    # Its own short connection: VACUUM cannot run inside a transaction, and erasures are rare.
    # The erasure has committed either way: a failure here leaves the sweep to autovacuum.
    try:
        async with await psycopg.AsyncConnection.connect(db.url, autocommit=True) as conn:
            for table in touched:  # names of the schema's own tables (table_columns)
                await conn.execute(f'VACUUM "{table}"'.encode())
    except psycopg.Error:
        return False
    return True


def _check_names(scrub: Scrub, schema: dict[str, frozenset[str]]) -> None:
    """Erasure splices a rule's table and column into SQL (identifiers cannot be parameters),
    so each must be a real table and column of the schema, and `how`/`key` one of the fixed
    words. Rules come from ERASE and from migration files, never from input; this makes a
    mistyped rule fail the erasure (rolled back) instead of running something else.
    `where` is SQL text by design (named parameters only), and comes from the same places."""
    if scrub.column not in schema.get(scrub.table, frozenset()):
        raise ValueError(f"erasure rule names no such column: {scrub.table}.{scrub.column}")
    if scrub.how not in ("delete", "null", "redact") or scrub.key not in (
        "person_id",
        "telegram_id",
    ):
        raise ValueError(f"erasure rule for {scrub.table}.{scrub.column}: bad how or key")


def _spellings(name: str, in_json: bool) -> list[str]:
    """How the name may be written in the column: as is, and inside JSON text both with
    non-ASCII letters kept and escaped (json.dumps' default writes "Ara\\u00fajo")."""
    if not in_json:
        return [name]
    forms = [json.dumps(name, ensure_ascii=False)[1:-1], json.dumps(name)[1:-1]]
    return list(dict.fromkeys(forms))


async def _redact(tx: Transaction, scrub: Scrub, name: str, params: dict[str, Any]) -> None:
    keys = await row_keys(tx, scrub.table)
    # "AS row_key_N": a table whose INTEGER PRIMARY KEY aliases rowid names it after that
    # column, so found["rowid"] would not exist. Key names come from the schema itself.
    chosen = ", ".join(f"{k} AS row_key_{i}" for i, k in enumerate(keys))
    matches = " AND ".join(f"{k} = ?" for k in keys)
    for needle in _spellings(name, scrub.json):
        # Whole words only, so "Ann" leaves "Annual" alone.
        pattern = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)", re.IGNORECASE)
        condition = f"instr(lower({scrub.column}), lower(:needle)) > 0"
        if scrub.where:
            condition += f" AND {scrub.where}"
        rows = await tx.fetchall(
            f"SELECT {chosen}, {scrub.column} AS text FROM {scrub.table}"  # noqa: S608
            f" WHERE {condition}",
            {**params, "needle": needle},
        )
        for found in rows:
            changed = pattern.sub(REDACTED, found["text"])
            if changed != found["text"]:
                await tx.execute(
                    f"UPDATE {scrub.table} SET {scrub.column} = ? WHERE {matches}",  # noqa: S608
                    (changed, *(found[f"row_key_{i}"] for i in range(len(keys)))),
                )
