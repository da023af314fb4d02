"""The people file: who is on the programme, at which school, in which trio.

A row whose school is not one of its trio's schools is refused (the rest of the file goes
in) unless the coordinator allows the mismatch: someone filed in the wrong trio would see
its meetings and approve its summaries, and their words would count for a school not in it.
The trio a row names becomes the person's trio of that kind: they leave any other, as
`triobot person move` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.people.catch_up import CatchUp
from bot.programme.roster_fields import (
    ImportReport,
    Problem,
    Row,
    check_email,
    check_extra,
    check_once,
    check_ref,
    check_text,
    count_change,
)
from storage import roster as store
from storage.db import Transaction
from storage.people import ROLES, Role
from storage.personal_data import erased_ref_hashes, ref_hash
from storage.trio_membership import Left, leave_trio, trios_left_by_school_move, trios_of


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One checked row of the people file."""

    line: int
    ref: str
    name: str
    school_ref: str
    school_id: int | None
    role: Role
    trio_ref: str
    trio: store.KnownTrio | None
    email_given: bool  # the file has an email column
    email: str | None

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.name})"


def cancelled(left: Left) -> str:
    """What leaving called off, for a warning line."""
    parts = [
        f"{left.messages} pending message(s) and {left.scheduled} scheduled item(s)"
        " to them cancelled"
    ]
    if left.was_lead:
        parts.append("no longer its lead")
    if left.drafts:
        parts.append(f"{left.drafts} draft summary(ies) no longer wait for them")
    return "; " + "; ".join(parts)


def mismatch(row: PersonRow) -> str | None:
    """Why the row's school does not fit its trio, or None when it does (or cannot be told:
    a teacher trio, or a trio with no schools yet)."""
    trio = row.trio
    if trio is None or trio.kind != "schools" or not trio.schools:
        return None
    if row.school_ref in trio.schools:
        return None
    school = f"school {row.school_ref!r}" if row.school_ref else "no school"
    return (
        f"{row.label} has {school}, not one of the schools of trio {row.trio_ref!r}"
        f" ({', '.join(trio.schools)})"
    )


async def import_people(
    tx: Transaction,
    known: store.Known,
    rows: list[tuple[int, Row]],
    report: ImportReport,
    catch_up: CatchUp,
    *,
    allow_mismatch: bool = False,
) -> None:
    checked = await _check(tx, known, rows, report)
    if report.errors:
        return
    for row in checked:
        why = mismatch(row)
        if why is not None and not allow_mismatch:
            report.refused.append(Problem(row.line, why))
            continue
        if why is not None:
            report.warnings.append(Problem(row.line, f"{why}; imported anyway (--allow-mismatch)"))
        await _write(tx, known, row, report, catch_up)


async def _check(
    tx: Transaction, known: store.Known, rows: list[tuple[int, Row]], report: ImportReport
) -> list[PersonRow]:
    key, erased = await erased_ref_hashes(tx)
    seen: dict[str, int] = {}
    valid: list[PersonRow] = []
    for line, row in rows:
        check_extra(row, line, report)
        ref = check_ref(row, "person_ref", line, report)
        name = check_text(row, "name", line, report)
        email_ok, email = check_email(row, line, report)
        role = row.get("role", "").lower().replace(" ", "_")
        school_ref = row.get("school_id", "")
        trio_ref = row.get("trio_id", "")
        if ref is not None and not check_once(seen, ref, line, "person_ref", report):
            continue
        if role not in ROLES:
            report.errors.append(
                Problem(line, f"unknown role {row.get('role')!r} (one of {', '.join(ROLES)})")
            )
            continue
        school = known.schools.get(school_ref) if school_ref else None
        if school_ref and school is None:
            report.errors.append(Problem(line, f"unknown school {school_ref!r}"))
            continue
        if not school_ref and role in ("teacher", "trio_lead"):
            report.errors.append(Problem(line, f"a {role} needs a school_id"))
            continue
        trio = known.trios.get(trio_ref) if trio_ref else None
        if trio_ref and trio is None:
            report.errors.append(Problem(line, f"unknown trio {trio_ref!r}"))
            continue
        if role == "trio_lead" and trio is None:
            report.warnings.append(Problem(line, f"trio lead {ref!r} has no trio_id yet"))
        if ref is None or name is None or not email_ok:
            continue
        if ref_hash(key, ref) in erased:
            report.warnings.append(
                Problem(line, f"person {ref!r} was erased on request; skipped (remove the row)")
            )
            continue
        valid.append(
            PersonRow(
                line,
                ref,
                name,
                school_ref,
                school.id if school else None,
                role,  # checked against ROLES above
                trio_ref,
                trio,
                "email" in row,
                email,
            )
        )
    return valid


async def _write(
    tx: Transaction,
    known: store.Known,
    row: PersonRow,
    report: ImportReport,
    catch_up: CatchUp,
) -> None:
    """One person's writes, with a warning for each trio they leave and one line saying
    what changed."""
    existing = known.people.get(row.ref)
    roles: tuple[Role, ...] = (row.role, "teacher") if row.role == "trio_lead" else (row.role,)
    wrote = await store.upsert_person(
        tx,
        ref=row.ref,
        name=row.name,
        school_id=row.school_id,
        roles=roles,
        existing=existing,
    )
    changed = wrote.changed
    changes = _person_changes(known, existing, row, wrote)
    if row.email_given and await store.set_email(tx, wrote.person_id, row.email):
        changed = True
        if existing is not None and row.email is None:
            changes.append("email removed")
        elif existing is not None:
            changes.append(f"email {'changed' if existing.email else 'added'}")
    left = await _left_with_old_school(tx, existing, row, wrote.person_id, report)
    joined = made_lead = False
    if row.trio is not None:
        joined, made_lead, moved_from = await _into_trio(tx, row, wrote.person_id, report, catch_up)
        left += moved_from
    changed |= joined or made_lead or bool(left)
    if joined and left:
        changes.append(f"moved from trio {', '.join(left)} to {row.trio_ref}")
    else:
        changes += [f"leaves trio {ref}" for ref in left]
        changes += [f"joins trio {row.trio_ref}"] if joined and existing is not None else []
    changes += [f"now lead of trio {row.trio_ref}"] if made_lead else []
    if existing is None:
        report.changes.append(Problem(row.line, _added(row)))
    elif changes:
        report.changes.append(Problem(row.line, f"{row.label}: {'; '.join(changes)}"))
    count_change(report, changed, existing is None)


def _person_changes(
    known: store.Known, existing: store.KnownPerson | None, row: PersonRow, wrote: store.PersonWrite
) -> list[str]:
    """The change line's parts for the person row itself: name, school, roles."""
    if existing is None:
        return []
    changes = [f"name now {row.name!r}"] if wrote.renamed else []
    if wrote.school_moved:
        school_refs = {s.id: ref for ref, s in known.schools.items()}
        old = school_refs.get(existing.school_id) if existing.school_id else None
        changes.append(f"school {old or 'none'} → {row.school_ref or 'none'}")
    return changes + [f"role {role} added" for role in wrote.roles_added]


async def _left_with_old_school(
    tx: Transaction,
    existing: store.KnownPerson | None,
    row: PersonRow,
    person_id: int,
    report: ImportReport,
) -> list[str]:
    """Moved to another school: out of the school trios their old school gave them (the
    row's own trio_id, if it names one of them, wins). The trios they left, by reference."""
    if existing is None:
        return []
    target = row.trio.id if row.trio else None
    left: list[str] = []
    for old in await trios_left_by_school_move(tx, person_id, existing.school_id, row.school_id):
        if old.id == target:
            continue
        how = await leave_trio(
            tx, person_id, old.id, tx.clock(), f"roster import: moved school, left {old.ref}"
        )
        now_at = repr(row.school_ref) if row.school_ref else "none"
        report.warnings.append(
            Problem(
                row.line,
                f"{row.label} leaves trio {old.ref!r} (their school is now {now_at})"
                + cancelled(how),
            )
        )
        left.append(old.ref)
    return left


async def _into_trio(
    tx: Transaction, row: PersonRow, person_id: int, report: ImportReport, catch_up: CatchUp
) -> tuple[bool, bool, list[str]]:
    """Make the row's trio the person's trio of its kind: (whether they joined it, whether
    they became its lead, the trios of that kind they left for it)."""
    assert row.trio is not None
    moved_from: list[str] = []
    current = await trios_of(tx, person_id, row.trio.kind)
    was_member = any(t.id == row.trio.id for t in current)
    for other in current:
        if other.id == row.trio.id:
            continue
        left = await leave_trio(
            tx, person_id, other.id, tx.clock(), f"roster import: moved to {row.trio_ref}"
        )
        report.warnings.append(
            Problem(
                row.line,
                f"{row.label} leaves trio {other.ref!r} (the file puts them in"
                f" {row.trio_ref!r}){cancelled(left)}",
            )
        )
        moved_from.append(other.ref)
    wrote = bool(await store.add_member(tx, row.trio.id, person_id, lead=row.role == "trio_lead"))
    if wrote and not was_member:
        await catch_up(tx, person_id)
    return wrote and not was_member, wrote and was_member, moved_from


def _added(row: PersonRow) -> str:
    where = f" at {row.school_ref}" if row.school_ref else ""
    trio = f", in trio {row.trio_ref}" if row.trio_ref else ""
    email = ", with email" if row.email else ""
    return f"{row.label} added{where} as {row.role}{trio}{email}"
