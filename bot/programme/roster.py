"""Importing the programme's roster from CSV: schools, trios or people, told apart by header.

A file is checked whole before anything is written. Any error (with its line number and
reason) rejects the whole file; warnings are reported and the import goes ahead. The one row
refused on its own is a person whose school is not in their trio (bot/programme/roster_people.py).
Writes happen in one transaction keyed on the roster's references, so importing a file twice
changes nothing; each row's change is listed in the report (what a dry run prints).
"""

from __future__ import annotations

from collections import defaultdict

from bot.people.catch_up import CatchUp
from bot.programme.roster_fields import (
    ImportReport,
    Problem,
    RosterKind,
    RosterRejected,
    Row,
    check_extra,
    check_number,
    check_once,
    check_ref,
    check_text,
    count_change,
    read_rows,
)
from bot.programme.roster_people import cancelled, import_people
from bot.programme.term_calendar import import_calendar
from storage import roster as store
from storage.db import Database, Transaction

HEADERS: dict[RosterKind, tuple[str, ...]] = {
    "schools": (
        "school_id",
        "name",
        "local_authority",
        "phase",
        "pupils",
        "fsm_pct",
        "prior_attainment",
    ),
    "trios of schools": ("trio_id", "kind", "school_id"),
    "trios of teachers": ("trio_id", "kind", "person_ref"),
    "people": ("person_ref", "name", "school_id", "role", "trio_id", "email"),
    "term calendar": ("kind", "starts_on", "ends_on", "name"),
}
# A school trio file may leave out `kind`: that is what `triobot trios propose` writes.
OPTIONAL_COLUMNS: dict[RosterKind, tuple[str, ...]] = {
    "people": ("trio_id", "email"),
    "trios of schools": ("kind",),
    "term calendar": ("name",),
}


def detect(header: list[str]) -> RosterKind | None:
    given = [h.strip().lower() for h in header]
    for kind, columns in HEADERS.items():
        optional = OPTIONAL_COLUMNS.get(kind, ())
        required = [c for c in columns if c not in optional]
        if set(required) <= set(given) <= set(columns):
            return kind
    return None


class RosterImport:
    def __init__(self, db: Database, catch_up: CatchUp | None = None) -> None:
        self.db = db
        # Someone already active who joins a trio gets what it was told (bot/people/catch_up.py).
        self.catch_up = catch_up or CatchUp()

    async def run(
        self,
        content: bytes,
        *,
        dry_run: bool = False,
        expect: tuple[RosterKind, ...] | None = None,
        allow_mismatch: bool = False,
    ) -> ImportReport:
        """Check and import one file's bytes (Excel's UTF-8 byte-order mark is fine).

        `expect` limits the kinds of file accepted (`triobot calendar import` takes only a
        term calendar); `allow_mismatch` imports people whose school is not in their trio
        (bot/programme/roster_people.py), with a warning, instead of refusing their rows."""
        report = ImportReport()
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            report.errors.append(Problem(0, "the file is not UTF-8 text (save it as CSV UTF-8)"))
            return report
        header, rows = read_rows(text)
        report.kind = detect(header)
        report.rows = len(rows)
        if report.kind is not None and expect is not None and report.kind not in expect:
            report.errors.append(
                Problem(1, f"this is a {report.kind} file, not {' or '.join(expect)}")
            )
            return report
        if report.kind is None:
            wanted = expect or tuple(HEADERS)
            expected = "; ".join(",".join(HEADERS[k]) for k in wanted)
            report.errors.append(
                Problem(1, f"header {','.join(header)!r} is not one I know. Expected: {expected}")
            )
            return report
        try:
            async with self.db.transaction() as tx:
                known = await store.known(tx)
                if report.kind == "schools":
                    await _schools(tx, known, rows, report)
                elif report.kind == "people":
                    await import_people(
                        tx, known, rows, report, self.catch_up, allow_mismatch=allow_mismatch
                    )
                elif report.kind == "term calendar":
                    await import_calendar(tx, rows, report)
                else:
                    await _trios(tx, known, rows, report)
                # A dry run went through the same writes (so its warnings name who would
                # leave a trio and what that would cancel); rolling back keeps none of them.
                if report.errors or dry_run:
                    raise RosterRejected
        except RosterRejected:
            pass
        return report


# --- the three kinds --------------------------------------------------------------------
async def _schools(
    tx: Transaction, known: store.Known, rows: list[tuple[int, Row]], report: ImportReport
) -> None:
    seen: dict[str, int] = {}
    valid = []
    for line, row in rows:
        check_extra(row, line, report)
        ref = check_ref(row, "school_id", line, report)
        name = check_text(row, "name", line, report)
        la = check_text(row, "local_authority", line, report)
        phase = check_text(row, "phase", line, report)
        ok_p, pupils = check_number(row, "pupils", line, report, integer=True, low=0, high=100_000)
        ok_f, fsm = check_number(row, "fsm_pct", line, report, integer=False, low=0, high=100)
        ok_a, prior = check_number(
            row, "prior_attainment", line, report, integer=False, low=-1e6, high=1e6
        )
        if ref is not None and not check_once(seen, ref, line, "school_id", report):
            continue
        if ref and name and la and phase and ok_p and ok_f and ok_a:
            valid.append((line, ref, name, la, phase.lower(), pupils, fsm, prior))
    if report.errors:
        return
    for line, ref, name, la, phase, pupils, fsm, prior in valid:
        changed = await store.upsert_school(
            tx,
            ref=ref,
            name=name,
            local_authority=la,
            phase=phase,
            pupils=None if pupils is None else int(pupils),
            fsm_pct=None if fsm is None else float(fsm),
            prior_attainment=None if prior is None else float(prior),
        )
        new = ref not in known.schools
        if new or changed:
            what = f"added ({name}, {la})" if new else "changed"
            report.changes.append(Problem(line, f"school {ref} {what}"))
        count_change(report, changed, new)


async def _trios(
    tx: Transaction, known: store.Known, rows: list[tuple[int, Row]], report: ImportReport
) -> None:
    by_school = report.kind == "trios of schools"
    column, expected_kind = ("school_id", "schools") if by_school else ("person_ref", "teachers")
    # trio → (line, id, local authority, reference)
    members: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    first_line: dict[str, int] = {}
    seen: dict[str, int] = {}
    in_trio: dict[str, str] = {}
    for line, row in rows:
        check_extra(row, line, report)
        trio = check_ref(row, "trio_id", line, report)
        # No kind column at all (a proposal from `trios propose`): schools, by the header.
        kind = row["kind"].lower() if "kind" in row else expected_kind
        member = check_ref(row, column, line, report)
        if kind not in ("schools", "teachers"):
            report.errors.append(
                Problem(line, f"kind {row.get('kind')!r} must be schools or teachers")
            )
            continue
        if kind != expected_kind:
            report.errors.append(
                Problem(
                    line,
                    f"wrong kind: a {kind} trio is listed by "
                    f"{'school_id' if kind == 'schools' else 'person_ref'}, not {column}",
                )
            )
            continue
        if trio is None or member is None:
            continue
        existing = known.trios.get(trio)
        if existing is not None and existing.kind != kind:
            report.errors.append(
                Problem(line, f"wrong kind: trio {trio!r} is already a {existing.kind} trio")
            )
            continue
        if not check_once(seen, f"{trio}/{member}", line, f"{column} in trio", report):
            continue
        first_line.setdefault(trio, line)
        if by_school:
            school = known.schools.get(member)
            if school is None:
                report.errors.append(
                    Problem(line, f"unknown school {member!r} (import schools first)")
                )
                continue
            target = school.id
            if member in in_trio and in_trio[member] != trio:
                report.warnings.append(
                    Problem(line, f"school {member!r} is also in trio {in_trio[member]!r}")
                )
            in_trio.setdefault(member, trio)
            members[trio].append((line, target, school.local_authority, member))
        else:
            person = known.people.get(member)
            if person is None:
                report.errors.append(
                    Problem(line, f"unknown person {member!r} (import people first)")
                )
                continue
            members[trio].append((line, person.id, "", member))
    for trio, listed in members.items():
        line = first_line[trio]
        if len(listed) != 3:
            what = "schools" if by_school else "teachers"
            report.warnings.append(Problem(line, f"trio {trio!r} has {len(listed)} {what}, not 3"))
        if by_school and len({la for _, _, la, _ in listed}) < len(listed):
            report.warnings.append(
                Problem(line, f"trio {trio!r} has schools from the same local authority")
            )
    if report.errors:
        return
    now = tx.clock()
    for trio, listed in members.items():
        trio_id = await store.upsert_trio(tx, ref=trio, kind=expected_kind)  # type: ignore[arg-type]
        ids = [target for _, target, _, _ in listed]
        reason = f"roster import: left trio {trio}"
        if by_school:
            changed, gone = await store.set_trio_schools(tx, trio_id, ids, now=now, reason=reason)
        else:
            changed, gone = await store.set_trio_members(tx, trio_id, ids, now=now, reason=reason)
        for departure in gone:
            who, school_ref = departure.leaver.label, departure.leaver.school_ref
            why = f"their school {school_ref!r} is no longer in it" if by_school else "not listed"
            report.warnings.append(
                Problem(
                    first_line[trio],
                    f"{who} leaves trio {trio!r} ({why}){cancelled(departure.left)}",
                )
            )
        new = trio not in known.trios
        if new or changed:
            refs = ", ".join(ref for _, _, _, ref in listed)
            what = "added with" if new else "changed: now"
            report.changes.append(Problem(first_line[trio], f"trio {trio} {what} {refs}"))
        count_change(report, bool(changed), new)
