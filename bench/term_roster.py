"""The simulated term's programme: roster files, term calendar and invites, made through the CLI.

Schools in 10 local authorities, trios of three schools (each in a different authority),
three teachers per school (one of each trio's nine is its lead), teacher trios for lesson
study, one researcher per 100 teachers; then a personal invite for everyone.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bot.cli.main import main as triobot

AUTHORITIES = (
    "Oldham", "Stockport", "Wigan", "Bolton", "Bury",
    "Rochdale", "Salford", "Tameside", "Trafford", "Manchester",
)  # fmt: skip
TEACHERS_PER_SCHOOL = 3


@dataclass
class Member:
    ref: str
    name: str
    role: str  # teacher | trio_lead | researcher
    school: str | None
    trio: str | None
    authority: str | None
    code: str = ""


@dataclass(frozen=True)
class Term:
    starts: date  # a Monday
    weeks: int
    closures: tuple[tuple[date, date, str], ...]

    def is_school_day(self, day: date) -> bool:
        if day.weekday() >= 5 or not self.starts <= day <= self.last_day:
            return False
        return not any(a <= day <= b for a, b, _ in self.closures)

    @property
    def last_day(self) -> date:
        return self.starts + timedelta(weeks=self.weeks) - timedelta(days=3)


def make_term(starts: date, weeks: int) -> Term:
    """A training day on the second Tuesday and, in a long term, a half-term week."""
    closures = []
    if weeks >= 2:
        tuesday = starts + timedelta(weeks=1, days=1)
        closures.append((tuesday, tuesday, "Training day"))
    if weeks >= 8:
        monday = starts + timedelta(weeks=6)
        closures.append((monday, monday + timedelta(days=4), "Half term"))
    return Term(starts, weeks, tuple(closures))


def make_people(teachers: int, rng: random.Random) -> list[Member]:
    per_trio = 3 * TEACHERS_PER_SCHOOL
    trios = max(1, teachers // per_trio)
    people: list[Member] = []
    for t in range(trios):
        chosen = rng.sample(AUTHORITIES, 3)
        for s, authority in enumerate(chosen):
            school = f"S{t:03d}{s}"
            for k in range(TEACHERS_PER_SCHOOL):
                ref = f"p-{t:03d}-{s}{k}"
                role = "trio_lead" if s == 0 and k == 0 else "teacher"
                people.append(
                    Member(ref, f"Teacher {t}.{s}.{k}", role, school, f"T{t:03d}", authority)
                )
    for r in range(max(1, teachers // 100)):
        people.append(Member(f"r-{r:02d}", f"Researcher {r}", "researcher", None, None, None))
    return people


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _run(*argv: str) -> str:
    """`triobot <argv>` in this process (its own event loop); its output, or an error."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = triobot(list(argv))
    if status != 0:
        raise RuntimeError(f"triobot {' '.join(argv)} failed ({status}): {buffer.getvalue()}")
    return buffer.getvalue()


def seed(workdir: Path, db_path: Path, people: list[Member], term: Term) -> None:
    """Import the roster and calendar and make everyone's invite, all through the CLI."""
    before = os.environ.get("TRIOBOT_DB")
    os.environ["TRIOBOT_DB"] = str(db_path)  # as an operator's shell would, for these commands
    try:
        _seed(workdir, people, term)
    finally:  # and no further: the caller's environment (a test run's) is left as it was
        if before is None:
            del os.environ["TRIOBOT_DB"]
        else:
            os.environ["TRIOBOT_DB"] = before


def _seed(workdir: Path, people: list[Member], term: Term) -> None:
    schools = sorted({(p.school, p.authority) for p in people if p.school and p.authority})
    _run("roster", "import", str(_csv(
        workdir / "schools.csv",
        ["school_id", "name", "local_authority", "phase", "pupils", "fsm_pct",
         "prior_attainment"],
        [[s, f"School {s}", la, "primary", "250", "30", "100"] for s, la in schools],
    )))  # fmt: skip
    trios = sorted({(p.trio or "", "schools", p.school or "") for p in people if p.trio})
    _run("roster", "import", str(_csv(
        workdir / "trios.csv", ["trio_id", "kind", "school_id"], [list(t) for t in trios]
    )))  # fmt: skip
    _run("roster", "import", str(_csv(
        workdir / "people.csv",
        ["person_ref", "name", "school_id", "role", "trio_id"],
        [[p.ref, p.name, p.school or "", p.role, p.trio or ""] for p in people],
    )))  # fmt: skip
    # Lesson-study trios: the three teachers of a trio who are not its lead's school's.
    teacher_trios = [
        [f"LS{p.trio}", "teachers", p.ref] for p in people if p.trio and p.ref.endswith("1")
    ]
    _run("roster", "import", str(_csv(
        workdir / "lesson_trios.csv", ["trio_id", "kind", "person_ref"], teacher_trios
    )))  # fmt: skip
    rows = [["term", term.starts.isoformat(), term.last_day.isoformat(), "Spring term"]]
    rows += [["closure", a.isoformat(), b.isoformat(), name] for a, b, name in term.closures]
    _run("calendar", "import", str(_csv(
        workdir / "calendar.csv", ["kind", "starts_on", "ends_on", "name"], rows
    )))  # fmt: skip
    out = workdir / "invites.csv"
    _run("invite", "batch", "--out", str(out), "--expires", "120d")
    with out.open(encoding="utf-8") as found:
        codes = {row["person_ref"]: row["code"] for row in csv.DictReader(found)}
    for p in people:
        p.code = codes[p.ref]
