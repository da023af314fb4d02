"""`triobot trios propose SCHOOLS.csv --out TRIOS.csv [--previous PREV.csv]`.

Files in, file out: the database is not touched. The schools file is the roster's schools
file (`fsm_pct` and `prior_attainment` must be filled in for every school); the previous
trios and the output are trio files (`trio_id,school_id`), so the output imports directly
with `triobot roster import` once the coordinator has looked it over.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from bot.people.permissions import CLI_ROLES, allowed
from bot.programme.roster_fields import (
    ImportReport,
    Problem,
    Row,
    check_extra,
    check_number,
    check_once,
    check_ref,
    check_text,
    read_rows,
)
from bot.programme.trio_formation import (
    PreviousTrio,
    Proposal,
    School,
    SearchOptions,
    propose_trios,
)
from storage import private_files

SCHOOL_COLUMNS = ("school_id", "local_authority", "phase", "fsm_pct", "prior_attainment")


def add_parsers(sub: Any) -> None:
    trios = sub.add_parser("trios", help="propose trios of schools")
    trios_sub = trios.add_subparsers(dest="trios_command", required=True)
    propose = trios_sub.add_parser(
        "propose",
        help="group schools of one phase from three local authorities, similar communities",
    )
    propose.add_argument("schools", type=Path, help="the roster's schools CSV")
    propose.add_argument("--out", required=True, type=Path, help="trio CSV to write")
    propose.add_argument(
        "--previous", type=Path, help="earlier trios (trio_id,school_id): no pair meets again"
    )
    propose.add_argument(
        "--prefix", default="T", help="trio ids are PREFIX001, PREFIX002… (default T)"
    )
    propose.add_argument("--seed", type=int, default=0, help="seed of the search (repeatable)")


def _read(path: Path, report: ImportReport) -> tuple[set[str], list[tuple[int, Row]]]:
    """The file's column names and rows; an unreadable file is an error in `report`."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        report.errors.append(Problem(0, f"cannot read {path}: {exc.strerror}"))
        return set(), []
    except UnicodeDecodeError:
        report.errors.append(Problem(0, f"{path} is not UTF-8 text (save it as CSV UTF-8)"))
        return set(), []
    header, rows = read_rows(text)
    return {h.strip().lower() for h in header}, rows


def read_schools(path: Path, report: ImportReport) -> list[School]:
    columns, rows = _read(path, report)
    if report.errors:
        return []
    missing = [c for c in SCHOOL_COLUMNS if c not in columns]
    if missing or not rows:
        what = f"no {', '.join(missing)} column" if missing else "no schools"
        report.errors.append(Problem(1, f"{what} (expected the roster's schools file)"))
        return []
    schools: list[School] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        check_extra(row, line, report)
        ref = check_ref(row, "school_id", line, report)
        la = check_text(row, "local_authority", line, report)
        phase = check_text(row, "phase", line, report)
        _, fsm = check_number(row, "fsm_pct", line, report, integer=False, low=0, high=100)
        _, prior = check_number(
            row, "prior_attainment", line, report, integer=False, low=-1e6, high=1e6
        )
        for column, value in (("fsm_pct", fsm), ("prior_attainment", prior)):
            if value is None and row.get(column, "") == "":
                report.errors.append(Problem(line, f"{column} is empty: it is needed to match"))
        if ref is None or not check_once(seen, ref, line, "school_id", report):
            continue
        if la and phase and fsm is not None and prior is not None:
            name = " ".join(row.get("name", "").split()) or ref
            schools.append(School(ref, name, la, phase.lower(), 0, float(fsm), float(prior)))
    return schools


def read_previous(path: Path, report: ImportReport) -> list[PreviousTrio]:
    columns, rows = _read(path, report)
    if report.errors:
        return []
    if not {"trio_id", "school_id"} <= columns:
        report.errors.append(Problem(1, f"{path}: expected trio_id,school_id columns"))
        return []
    members: dict[str, list[str]] = defaultdict(list)
    for line, row in rows:
        trio = check_ref(row, "trio_id", line, report)
        school = check_ref(row, "school_id", line, report)
        if trio and school:
            members[trio].append(school)
    return [PreviousTrio(trio, tuple(ids)) for trio, ids in members.items()]


def write_trios(path: Path, proposal: Proposal) -> None:
    with private_files.open_text(path) as out:
        writer = csv.writer(out)
        writer.writerow(["trio_id", "school_id"])
        for trio in proposal.trios:
            writer.writerows([trio.trio_id, school] for school in trio.school_ids)


def run(args: argparse.Namespace) -> int:
    if not allowed(CLI_ROLES, "trios.propose"):
        print("not allowed: trios.propose")
        return 2
    report = ImportReport()
    schools = read_schools(args.schools, report)
    previous = read_previous(args.previous, report) if args.previous else []
    known = {s.school_id for s in schools}
    for trio in previous:
        unknown = sorted(set(trio.school_ids) - known)
        if unknown and not report.errors:
            report.warnings.append(
                Problem(0, f"previous trio {trio.trio_id}: {', '.join(unknown)} not in the list")
            )
    for problem in report.warnings:
        print(f"  warning: {problem}")
    if report.errors:
        for problem in report.errors:
            print(f"  error: {problem}")
        print(f"No proposal: {len(report.errors)} error(s) in the input. Fix them and run again.")
        return 1
    proposal = propose_trios(schools, previous, SearchOptions(seed=args.seed), prefix=args.prefix)
    write_trios(args.out, proposal)
    print(
        f"{len(proposal.trios)} trios from {len(schools)} schools written to {args.out}"
        f" (each: one phase, three local authorities, no pair from before)."
    )
    for fourth in proposal.fourth_members:
        print(f"  {fourth.school_id}: fourth member of {fourth.trio_id} ({fourth.reason})")
    for school in proposal.unplaced:
        print(f"  {school.school_id}: not placed ({school.reason})")
    print(f"Total cost: {proposal.total_cost:.4f}")
    print("  (sum over trios of the pairwise distances between schools, in z-scores of")
    print("  fsm_pct and prior_attainment over this file; lower means closer communities)")
    return 0
