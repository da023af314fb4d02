"""`triobot roster import` and `triobot calendar import`: each kind of file, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.dbscan import query, snapshot

pytestmark = pytest.mark.both_stores

SCHOOLS = """school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment
N1,Northfield Primary,Oldham,primary,310,41.0,98.5
S1,Southgate Primary,Stockport,primary,280,38.5,99.2
W1,Westbrook Primary,Wigan,primary,350,44.0,97.8
B1,Brookside Primary,Bolton,primary,200,22.5,104.0
"""
TRIOS = """trio_id,kind,school_id
T1,schools,N1
T1,schools,S1
T1,schools,W1
"""
PEOPLE = """person_ref,name,school_id,role,trio_id
p-ana,Ana Lima,N1,trio_lead,T1
p-ben,Ben Okafor,S1,teacher,T1
p-cai,Cai Jones,W1,teacher,T1
r-dee,Dee Research,,researcher,
"""
TEACHER_TRIO = """trio_id,kind,person_ref
LS1,teachers,p-ana
LS1,teachers,p-ben
LS1,teachers,p-cai
"""
CALENDAR = """kind,starts_on,ends_on,name
term,2027-01-04,2027-03-26,Spring term
closure,2027-02-15,2027-02-19,Half term
term,2027-04-12,2027-07-21,Summer term
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    return query(db_path, sql)


def load_all(cli: Cli, tmp_path: Path) -> None:
    for name, text in (("schools.csv", SCHOOLS), ("trios.csv", TRIOS), ("people.csv", PEOPLE)):
        status, out = cli("roster", "import", str(write(tmp_path, name, text)))
        assert status == 0, out


def test_schools_trios_and_people_import_in_turn(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    status, out = cli("roster", "import", str(write(tmp_path, "schools.csv", SCHOOLS)))
    assert status == 0, out
    assert "schools, 4 rows" in out and "Imported: 4 new, 0 changed, 0 unchanged." in out
    assert rows(
        db_path,
        "SELECT s.ref, s.name, la.name, s.phase, s.pupils, s.fsm_pct, s.prior_attainment"
        " FROM school s JOIN local_authority la ON la.id = s.local_authority_id ORDER BY s.ref",
    )[0] == ("B1", "Brookside Primary", "Bolton", "primary", 200, 22.5, 104.0)

    status, out = cli("roster", "import", str(write(tmp_path, "trios.csv", TRIOS)))
    assert status == 0, out
    assert "trios of schools, 3 rows" in out
    assert rows(
        db_path,
        "SELECT t.ref, t.kind, s.ref FROM trio_school ts JOIN trio t ON t.id = ts.trio_id"
        " JOIN school s ON s.id = ts.school_id ORDER BY s.ref",
    ) == [("T1", "schools", "N1"), ("T1", "schools", "S1"), ("T1", "schools", "W1")]

    status, out = cli("roster", "import", str(write(tmp_path, "people.csv", PEOPLE)))
    assert status == 0, out
    people = rows(
        db_path,
        "SELECT p.ref, p.display_name, p.status, s.ref,"
        " (SELECT group_concat(role, '+') FROM (SELECT role FROM person_role r"
        "  WHERE r.person_id = p.id ORDER BY role) AS mine),"
        " (SELECT is_lead FROM trio_member m WHERE m.person_id = p.id)"
        " FROM person p LEFT JOIN school s ON s.id = p.school_id ORDER BY p.ref",
    )
    assert people == [
        ("p-ana", "Ana Lima", "invited", "N1", "teacher+trio_lead", 1),
        ("p-ben", "Ben Okafor", "invited", "S1", "teacher", 0),
        ("p-cai", "Cai Jones", "invited", "W1", "teacher", 0),
        ("r-dee", "Dee Research", "invited", None, "researcher", None),
    ]

    status, out = cli("roster", "import", str(write(tmp_path, "ls.csv", TEACHER_TRIO)))
    assert status == 0, out
    assert "trios of teachers, 3 rows" in out
    assert rows(
        db_path,
        "SELECT p.ref FROM trio_member m JOIN trio t ON t.id = m.trio_id"
        " JOIN person p ON p.id = m.person_id WHERE t.ref = 'LS1' ORDER BY p.ref",
    ) == [("p-ana",), ("p-ben",), ("p-cai",)]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("schools.csv", SCHOOLS),
        ("trios.csv", TRIOS),
        ("people.csv", PEOPLE),
        ("teachers.csv", TEACHER_TRIO),
        ("calendar.csv", CALENDAR),
    ],
)
def test_importing_the_same_file_twice_changes_nothing(
    cli: Cli, tmp_path: Path, db_path: Path, name: str, text: str
) -> None:
    load_all(cli, tmp_path)
    path = write(tmp_path, name, text)
    status, _ = cli("roster", "import", str(path))
    assert status == 0
    before = snapshot(db_path)
    status, out = cli("roster", "import", str(path))
    assert status == 0, out
    assert " 0 new, 0 changed," in out
    assert snapshot(db_path) == before


def test_a_changed_row_is_updated_and_counted(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    load_all(cli, tmp_path)
    moved = SCHOOLS.replace("Bolton,primary,200", "Bury,primary,210")
    status, out = cli("roster", "import", str(write(tmp_path, "schools2.csv", moved)))
    assert status == 0, out
    assert "Imported: 0 new, 1 changed, 3 unchanged." in out
    assert rows(db_path, "SELECT pupils FROM school WHERE ref = 'B1'") == [(210,)]


SCHOOL_ERRORS = """school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment
X1,Fine School,Oldham,primary,300,20,100
X2,,Oldham,primary,300,20,100
X3,Bad Share,Oldham,primary,300,120,100
X1,Twice,Oldham,primary,300,20,100
X 4,Spaced,Oldham,primary,lots,20,100

X5,Extra,Oldham,primary,300,20,100,surplus
"""


def test_a_file_with_errors_is_rejected_whole_with_line_numbers(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    cli("roster", "import", str(write(tmp_path, "empty.csv", "school_id,name\n")))  # migrate
    before = snapshot(db_path)
    status, out = cli("roster", "import", str(write(tmp_path, "bad.csv", SCHOOL_ERRORS)))
    assert status == 1
    errors = [line.strip() for line in out.splitlines() if "error:" in line]
    assert errors == [
        "error: line 3: name is empty",
        "error: line 4: fsm_pct 120 is outside 0–100",
        "error: line 5: duplicate school_id 'X1' (first on line 2)",
        "error: line 6: school_id 'X 4' must be one word of at most 64 characters",
        "error: line 6: pupils 'lots' is not a whole number",
        "error: line 8: more values than the header has columns",
    ]
    assert "Nothing was imported: 6 error(s)" in out
    # The good row on line 2 was not kept either.
    assert snapshot(db_path) == before
    assert rows(db_path, "SELECT COUNT(*) FROM school") == [(0,)]


def test_people_and_trios_with_errors_leave_the_roster_as_it_was(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    load_all(cli, tmp_path)
    before = snapshot(db_path)
    people = PEOPLE + "p-eve,Eve New,N1,teacher,T1\np-fay,Fay,ZZ,teacher,\np-gil,Gil,S1,chef,\n"
    status, out = cli("roster", "import", str(write(tmp_path, "people2.csv", people)))
    assert status == 1
    assert "line 7: unknown school 'ZZ'" in out
    assert "line 8: unknown role 'chef'" in out
    trios = TRIOS + "T2,schools,N1\nT2,schools,Q9\nT3,teachers,S1\n"
    status, out = cli("roster", "import", str(write(tmp_path, "trios2.csv", trios)))
    assert status == 1
    assert "line 6: unknown school 'Q9' (import schools first)" in out
    assert "line 7: wrong kind" in out
    assert snapshot(db_path) == before  # p-eve (a good row) was not imported either


def test_an_unknown_header_names_what_is_expected(cli: Cli, tmp_path: Path) -> None:
    status, out = cli("roster", "import", str(write(tmp_path, "x.csv", "id,what\n1,2\n")))
    assert status == 1
    assert "is not one I know" in out and "person_ref,name,school_id,role,trio_id" in out


def test_dry_run_checks_and_writes_nothing(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    cli("roster", "import", str(write(tmp_path, "empty.csv", "school_id,name\n")))
    before = snapshot(db_path)
    path = write(tmp_path, "schools.csv", SCHOOLS)
    status, out = cli("roster", "import", str(path), "--dry-run")
    assert status == 0 and "dry run: nothing written" in out
    assert snapshot(db_path) == before


def test_a_proposal_without_a_kind_column_imports_as_school_trios(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    load_all(cli, tmp_path)
    proposal = "trio_id,school_id\nT9,N1\nT9,S1\nT9,B1\n"
    status, out = cli("roster", "import", str(write(tmp_path, "proposal.csv", proposal)))
    assert status == 0, out
    assert "trios of schools" in out
    assert rows(
        db_path,
        "SELECT s.ref FROM trio_school ts JOIN trio t ON t.id = ts.trio_id"
        " JOIN school s ON s.id = ts.school_id WHERE t.ref = 'T9' ORDER BY s.ref",
    ) == [("B1",), ("N1",), ("S1",)]


# --- the term calendar -------------------------------------------------------------------
def test_calendar_import_replaces_the_calendar(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    status, out = cli("calendar", "import", str(write(tmp_path, "cal.csv", CALENDAR)))
    assert status == 0, out
    assert "Imported: 3 new" in out
    held = rows(db_path, "SELECT kind, starts_on, ends_on, name FROM term_day ORDER BY starts_on")
    assert held[1] == ("closure", "2027-02-15", "2027-02-19", "Half term")
    shorter = "\n".join(CALENDAR.splitlines()[:2]) + "\n"
    status, out = cli("calendar", "import", str(write(tmp_path, "cal2.csv", shorter)))
    assert status == 0, out
    assert "0 new, 0 changed, 1 unchanged, 2 removed" in out
    assert rows(db_path, "SELECT name FROM term_day") == [("Spring term",)]


def test_a_calendar_with_errors_is_rejected_whole(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    cli("calendar", "import", str(write(tmp_path, "cal.csv", CALENDAR)))
    before = snapshot(db_path)
    bad = (
        CALENDAR
        + "holiday,2027-05-01,2027-05-01,May Day\n"
        + "closure,2027-05-31,2027-05-28,Backwards\n"
        + "closure,31/05/2027,2027-06-04,Half term\n"
        + "term,2027-01-04,2027-03-26,Spring again\n"
    )
    status, out = cli("calendar", "import", str(write(tmp_path, "bad.csv", bad)))
    assert status == 1
    assert "line 5: kind 'holiday' must be term or closure" in out
    assert "line 6: ends_on 2027-05-28 is before starts_on 2027-05-31" in out
    assert "line 7: starts_on '31/05/2027' is not a date like 2027-01-04" in out
    assert "line 8: duplicate entry" in out and "(first on line 2)" in out
    assert snapshot(db_path) == before


def test_calendar_import_takes_only_a_calendar(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    status, out = cli("calendar", "import", str(write(tmp_path, "schools.csv", SCHOOLS)))
    assert status == 1
    assert "this is a schools file, not term calendar" in out
    assert rows(db_path, "SELECT COUNT(*) FROM school") == [(0,)]
