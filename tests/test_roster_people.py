"""The people file as the coordinator uses it: a person filed in a trio their school is not
in is refused (or, when they say so, imported with a warning); a dry run lists every change
it would make; an optional email column is kept for the coordinator's mail merge only."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from bot.people.data_rights import DataRights
from storage.store import open_store
from tests.conftest import Cli
from tests.dbscan import query, snapshot, traces
from tests.harness import BotUnderTest, join
from tests.test_roster import PEOPLE, load_all, rows, write

pytestmark = pytest.mark.both_stores

# T2 is Brookside's trio (with schools that are not on this roster's other trio).
T2 = "trio_id,school_id\nT2,B1\n"


def lines(out: str, kind: str) -> list[str]:
    return [
        line.strip().removeprefix(f"{kind}: ") for line in out.splitlines() if f"{kind}:" in line
    ]


def trios_of(db_path: Path, ref: str) -> list[str]:
    return [
        str(r[0])
        for r in rows(
            db_path,
            "SELECT t.ref FROM trio_member m JOIN trio t ON t.id = m.trio_id"
            f" JOIN person p ON p.id = m.person_id WHERE p.ref = '{ref}' ORDER BY t.ref",
        )
    ]


def roster_with_t2(cli: Cli, tmp_path: Path) -> None:
    load_all(cli, tmp_path)
    status, out = cli("roster", "import", str(write(tmp_path, "t2.csv", T2)))
    assert status == 0, out
    eve = "person_ref,name,school_id,role,trio_id\np-eve,Eve Marsh,B1,teacher,T2\n"
    status, out = cli("roster", "import", str(write(tmp_path, "eve.csv", eve)))
    assert status == 0, out


# --- a school that is not in the trio -----------------------------------------------------
MISFILED = """person_ref,name,school_id,role,trio_id
p-fin,Fin Carter,N1,teacher,T1
p-eve,Eve Marsh,B1,teacher,T1
p-gus,Gus Hale,B1,teacher,T1
"""


def test_a_person_whose_school_is_not_in_the_trio_is_refused_and_the_rest_go_in(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster_with_t2(cli, tmp_path)
    status, out = cli("roster", "import", str(write(tmp_path, "people2.csv", MISFILED)))
    assert status == 1, out
    assert "Imported: 1 new, 0 changed, 0 unchanged." in out
    assert "2 row(s) refused (not imported), because the person's school is not one of" in out
    assert lines(out, "refused") == [
        "line 3: p-eve (Eve Marsh) has school 'B1', not one of the schools of trio 'T1'"
        " (N1, S1, W1)",
        "line 4: p-gus (Gus Hale) has school 'B1', not one of the schools of trio 'T1'"
        " (N1, S1, W1)",
    ]
    assert trios_of(db_path, "p-fin") == ["T1"]
    assert trios_of(db_path, "p-eve") == ["T2"]  # not put in T1, still in her own trio
    assert rows(db_path, "SELECT COUNT(*) FROM person WHERE ref = 'p-gus'") == [(0,)]

    # Importing it again refuses the same rows again, and changes nothing else.
    before = snapshot(db_path)
    status, out = cli("roster", "import", str(write(tmp_path, "people2.csv", MISFILED)))
    assert status == 1 and len(lines(out, "refused")) == 2
    assert snapshot(db_path) == before


def test_allow_mismatch_imports_them_with_a_warning_and_moves_them(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster_with_t2(cli, tmp_path)
    path = write(tmp_path, "people2.csv", MISFILED)
    status, out = cli("roster", "import", str(path), "--allow-mismatch")
    assert status == 0, out
    assert lines(out, "refused") == []
    assert lines(out, "warning") == [
        "line 3: p-eve (Eve Marsh) has school 'B1', not one of the schools of trio 'T1'"
        " (N1, S1, W1); imported anyway (--allow-mismatch)",
        "line 3: p-eve (Eve Marsh) leaves trio 'T2' (the file puts them in 'T1');"
        " 0 pending message(s) and 0 scheduled item(s) to them cancelled",
        "line 4: p-gus (Gus Hale) has school 'B1', not one of the schools of trio 'T1'"
        " (N1, S1, W1); imported anyway (--allow-mismatch)",
    ]
    assert "Imported: 2 new, 1 changed, 0 unchanged." in out
    assert trios_of(db_path, "p-eve") == ["T1"]  # one school trio at a time
    assert trios_of(db_path, "p-gus") == ["T1"]


def test_a_mismatch_is_refused_in_a_dry_run_too_and_nothing_is_written(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster_with_t2(cli, tmp_path)
    before = snapshot(db_path)
    status, out = cli("roster", "import", str(write(tmp_path, "p.csv", MISFILED)), "--dry-run")
    assert status == 1
    assert "2 row(s) would be refused" in out and len(lines(out, "refused")) == 2
    assert "The other rows are fine (dry run: nothing written)" in out
    assert lines(out, "change") == ["line 2: p-fin (Fin Carter) added at N1 as teacher, in trio T1"]
    assert snapshot(db_path) == before


def test_a_teacher_trio_takes_teachers_from_any_school(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster_with_t2(cli, tmp_path)
    teachers = "trio_id,kind,person_ref\nLS1,teachers,p-ana\nLS1,teachers,p-eve\n"
    assert cli("roster", "import", str(write(tmp_path, "ls.csv", teachers)))[0] == 0
    eve = "person_ref,name,school_id,role,trio_id\np-eve,Eve Marsh,B1,teacher,LS1\n"
    status, out = cli("roster", "import", str(write(tmp_path, "eve2.csv", eve)))
    assert status == 0, out
    assert lines(out, "refused") == [] and lines(out, "warning") == []
    assert trios_of(db_path, "p-eve") == ["LS1", "T2"]


# --- a dry run says what would change ------------------------------------------------------
NEXT_TERM = """person_ref,name,school_id,role,trio_id
p-ana,Ana Lima-Souza,N1,trio_lead,T1
p-ben,Ben Okafor,S1,trio_lead,T1
p-cai,Cai Jones,B1,teacher,T2
r-dee,Dee Research,,researcher,
p-hal,Hal Boyd,W1,teacher,T1
"""


def test_dry_run_lists_each_change_it_would_make_and_writes_nothing(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster_with_t2(cli, tmp_path)
    before = snapshot(db_path)
    path = write(tmp_path, "next.csv", NEXT_TERM)
    status, out = cli("roster", "import", str(path), "--dry-run")
    assert status == 0, out
    assert lines(out, "change") == [
        "line 2: p-ana (Ana Lima-Souza): name now 'Ana Lima-Souza'",
        "line 3: p-ben (Ben Okafor): role trio_lead added; now lead of trio T1",
        "line 4: p-cai (Cai Jones): school W1 → B1; moved from trio T1 to T2",
        "line 6: p-hal (Hal Boyd) added at W1 as teacher, in trio T1",
    ]
    assert (
        "The file is fine (dry run: nothing written)."
        " It would import 1 new, 3 changed, 1 unchanged." in out
    )
    assert snapshot(db_path) == before

    # The real import does just that.
    status, out = cli("roster", "import", str(path))
    assert status == 0, out
    assert "Imported: 1 new, 3 changed, 1 unchanged." in out
    assert trios_of(db_path, "p-cai") == ["T2"] and trios_of(db_path, "p-hal") == ["T1"]
    assert rows(
        db_path,
        "SELECT p.ref, m.is_lead FROM trio_member m JOIN person p ON p.id = m.person_id"
        " JOIN trio t ON t.id = m.trio_id WHERE t.ref = 'T1' ORDER BY p.ref",
    ) == [("p-ana", 1), ("p-ben", 1), ("p-hal", 0)]
    # And a dry run of the same file now finds nothing to change.
    status, out = cli("roster", "import", str(path), "--dry-run")
    assert status == 0 and lines(out, "change") == []
    assert "It would import 0 new, 0 changed, 5 unchanged." in out


def test_dry_run_lists_changes_to_schools_and_trios(cli: Cli, tmp_path: Path) -> None:
    load_all(cli, tmp_path)
    schools = (
        "school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment\n"
        "N1,Northfield Primary,Oldham,primary,320,41.0,98.5\n"
        "E1,Eccles Primary,Salford,primary,260,35.0,100.1\n"
    )
    status, out = cli("roster", "import", str(write(tmp_path, "s2.csv", schools)), "--dry-run")
    assert status == 0, out
    assert lines(out, "change") == [
        "line 2: school N1 changed",
        "line 3: school E1 added (Eccles Primary, Salford)",
    ]
    trios = "trio_id,school_id\nT1,N1\nT1,S1\nT1,B1\nT5,W1\n"
    status, out = cli("roster", "import", str(write(tmp_path, "t2.csv", trios)), "--dry-run")
    assert status == 0, out
    assert lines(out, "change") == [
        "line 2: trio T1 changed: now N1, S1, B1",
        "line 5: trio T5 added with W1",
    ]


# --- email ---------------------------------------------------------------------------------
WITH_EMAIL = """person_ref,name,school_id,role,trio_id,email
p-ana,Ana Lima,N1,trio_lead,T1,ana.lima@northfield.sch.uk
p-ben,Ben Okafor,S1,teacher,T1,
p-cai,Cai Jones,W1,teacher,T1,cai@westbrook.example
"""


def test_the_people_file_takes_an_optional_email_column(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    load_all(cli, tmp_path)  # a file without the column first
    path = write(tmp_path, "emails.csv", WITH_EMAIL)
    status, out = cli("roster", "import", str(path), "--dry-run")
    assert status == 0, out
    assert lines(out, "change") == [
        "line 2: p-ana (Ana Lima): email added",
        "line 4: p-cai (Cai Jones): email added",
    ]
    status, out = cli("roster", "import", str(path))
    assert status == 0, out
    assert "Imported: 0 new, 2 changed, 1 unchanged." in out
    emails = "SELECT ref, email FROM person WHERE ref LIKE 'p-%' ORDER BY ref"
    assert rows(db_path, emails) == [
        ("p-ana", "ana.lima@northfield.sch.uk"),
        ("p-ben", None),
        ("p-cai", "cai@westbrook.example"),
    ]
    # A file without the column leaves the addresses alone; one with it is the truth.
    status, out = cli("roster", "import", str(write(tmp_path, "p.csv", PEOPLE)))
    assert status == 0 and "0 new, 0 changed" in out
    changed = WITH_EMAIL.replace("cai@westbrook.example", "").replace(
        "ana.lima@northfield.sch.uk", "a.lima@northfield.sch.uk"
    )
    status, out = cli("roster", "import", str(write(tmp_path, "e2.csv", changed)), "--dry-run")
    assert lines(out, "change") == [
        "line 2: p-ana (Ana Lima): email changed",
        "line 4: p-cai (Cai Jones): email removed",
    ]


def test_a_malformed_email_rejects_the_file_with_its_line(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    load_all(cli, tmp_path)
    before = snapshot(db_path)
    bad = WITH_EMAIL.replace("cai@westbrook.example", "cai at westbrook") + (
        "p-dot,Dot Finch,N1,teacher,T1,dot@localhost\n"
    )
    status, out = cli("roster", "import", str(write(tmp_path, "bad.csv", bad)))
    assert status == 1
    assert lines(out, "error") == [
        "line 4: email 'cai at westbrook' is not an email address",
        "line 5: email 'dot@localhost' is not an email address",
    ]
    assert snapshot(db_path) == before


def test_an_email_is_in_the_persons_download_and_gone_when_they_are_erased(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    load_all(cli, tmp_path)
    assert cli("roster", "import", str(write(tmp_path, "e.csv", WITH_EMAIL)))[0] == 0

    async def download(ref: str) -> dict[str, object]:
        db = await open_store(db_path)
        try:
            rights = DataRights(db, db.clock)
            person = await rights.find(ref)
            assert person is not None
            held: dict[str, object] = json.loads(await rights.export(person.id))
            return held
        finally:
            await db.close()

    assert asyncio.run(download("p-cai"))["contact"] == [{"email": "cai@westbrook.example"}]
    assert asyncio.run(download("p-ben"))["contact"] == []
    status, out = cli("person", "erase", "p-cai", "--yes")
    assert status == 0, out
    assert traces(db_path, "cai@westbrook.example", "westbrook.example") == []
    held = query(db_path, "SELECT email FROM person WHERE ref = 'p-ana'")[0]
    assert held == ("ana.lima@northfield.sch.uk",)  # only theirs went


async def test_an_email_is_shown_nowhere_in_telegram(
    bot: BotUnderTest, cli: Cli, tmp_path: Path
) -> None:
    people = (
        "person_ref,name,school_id,role,trio_id,email\n"
        "q-ola,Ola Brandt,DEMO-S,teacher,DEMO-T1,ola.brandt@south.example\n"
    )
    path = write(tmp_path, "people.csv", people)
    assert (await asyncio.to_thread(cli, "roster", "import", str(path)))[0] == 0
    merge = tmp_path / "merge.csv"
    assert (await asyncio.to_thread(cli, "invite", "batch", "--out", str(merge)))[0] == 0
    with merge.open(encoding="utf-8") as f:
        (invite,) = list(csv.DictReader(f))
    assert invite["email"] == "ola.brandt@south.example"  # the mail merge has it
    ola = bot.person(971, "Ola")
    await join(ola, invite["code"])
    for command in ("/privacy", "/status", "/settings", "/help"):
        await ola.says(command)
    assert len(ola.inbox) > 4
    assert [m.plain_text for m in ola.inbox if "south.example" in m.plain_text] == []
