"""Invites from the command line and in the bot: codes, links, uses, expiry, revocation."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.dbscan import query
from tests.harness import BotUnderTest, join

pytestmark = pytest.mark.both_stores

SCHOOLS = """school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment
N1,Northfield Primary,Oldham,primary,310,41.0,98.5
S1,Southgate Primary,Stockport,primary,280,38.5,99.2
W1,Westbrook Primary,Wigan,primary,350,44.0,97.8
"""
TRIOS = "trio_id,school_id\nT1,N1\nT1,S1\nT1,W1\n"
PEOPLE = """person_ref,name,school_id,role,trio_id
p-ana,Ana Lima,N1,trio_lead,T1
p-ben,Ben Okafor,S1,teacher,T1
r-dee,Dee Research,,researcher,
"""


def roster(cli: Cli, tmp_path: Path) -> None:
    for name, text in (("s.csv", SCHOOLS), ("t.csv", TRIOS), ("p.csv", PEOPLE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        status, out = cli("roster", "import", str(tmp_path / name))
        assert status == 0, out


def invite_row(db_path: Path, code: str) -> tuple[object, ...]:
    found = query(
        db_path,
        "SELECT i.role, s.ref, t.ref, i.max_uses, i.uses, i.expires_at, i.revoked_at"
        " FROM invite i LEFT JOIN school s ON s.id = i.school_id"
        " LEFT JOIN trio t ON t.id = i.trio_id WHERE i.code = ?",
        (code,),
    )
    assert found
    return tuple(found[0])


def test_invite_create_prints_the_code_and_deep_link(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster(cli, tmp_path)
    status, out = cli(
        "invite", "create", "--role", "teacher", "--school", "S1", "--trio", "T1", "--uses", "5"
    )
    assert status == 0, out
    code, link = out.splitlines()[:2]
    assert len(code) == 12 and code.isalnum() and code.isupper()
    assert link == f"https://t.me/trio_test_bot?start={code}"
    role, school, trio, uses, used, expires, revoked = invite_row(db_path, code)
    assert (role, school, trio, uses, used, revoked) == ("teacher", "S1", "T1", 5, 0, None)
    assert expires is not None  # 14 days by default
    status, out = cli("invite", "create", "--role", "researcher", "--expires", "never")
    assert status == 0
    assert invite_row(db_path, out.splitlines()[0])[5] is None


def test_invite_create_refuses_what_does_not_fit(cli: Cli, tmp_path: Path) -> None:
    roster(cli, tmp_path)
    assert cli("invite", "create", "--role", "teacher", "--school", "ZZ")[1].startswith(
        "--school: no school"
    )
    assert "--trio: no trio" in cli("invite", "create", "--role", "teacher", "--trio", "T9")[1]
    assert "is not like 14d" in cli("invite", "create", "--role", "teacher", "--expires", "soon")[1]
    assert "at least 1" in cli("invite", "create", "--role", "teacher", "--uses", "0")[1]
    (tmp_path / "s2.csv").write_text(SCHOOLS + "B1,Brook,Bolton,primary,1,1,1\n", encoding="utf-8")
    cli("roster", "import", str(tmp_path / "s2.csv"))
    status, out = cli("invite", "create", "--role", "teacher", "--school", "B1", "--trio", "T1")
    assert status == 2 and "not one of trio T1's schools" in out


def test_batch_writes_one_personal_invite_per_pre_registered_person(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    roster(cli, tmp_path)
    out_file = tmp_path / "merge.csv"
    status, out = cli("invite", "batch", "--out", str(out_file))
    assert status == 0, out
    assert "3 new personal invite(s)" in out
    with out_file.open(encoding="utf-8") as f:
        merge = list(csv.DictReader(f))
    assert [(r["person_ref"], r["name"], r["role"]) for r in merge] == [
        ("p-ana", "Ana Lima", "trio_lead"),
        ("p-ben", "Ben Okafor", "teacher"),
        ("r-dee", "Dee Research", "researcher"),
    ]
    assert all(r["link"] == f"https://t.me/trio_test_bot?start={r['code']}" for r in merge)
    assert len({r["code"] for r in merge}) == 3
    assert out_file.stat().st_mode & 0o077 == 0  # live codes: owner-only
    personal = query(
        db_path,
        "SELECT p.ref, i.max_uses FROM invite i JOIN person p ON p.id = i.person_id"
        " ORDER BY p.ref",
    )
    assert personal == [("p-ana", 1), ("p-ben", 1), ("r-dee", 1)]
    # Everyone already has a usable invite: a second batch makes none.
    status, out = cli("invite", "batch", "--out", str(tmp_path / "again.csv"))
    assert status == 0 and "0 new personal invite(s)" in out


def test_list_and_revoke(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    roster(cli, tmp_path)
    code = cli("invite", "create", "--role", "teacher", "--trio", "T1")[1].splitlines()[0]
    status, out = cli("invite", "list")
    assert status == 0 and code in out and "1 invite(s)" in out
    status, out = cli("invite", "revoke", code.lower())
    assert status == 0 and f"{code}: revoked" in out
    assert invite_row(db_path, code)[6] is not None
    assert code not in cli("invite", "list")[1]
    assert "revoked" in cli("invite", "list", "--all")[1]
    status, out = cli("invite", "revoke", code)
    assert status == 1 and "already revoked" in out
    assert "no such invite" in cli("invite", "revoke", "NOSUCHCODE00")[1]


async def test_codes_expire_run_out_and_can_be_revoked_for_joiners(
    bot: BotUnderTest, cli: Cli
) -> None:
    async def make(*args: str) -> str:
        status, out = await asyncio.to_thread(cli, "invite", "create", *args)
        assert status == 0, out
        return out.splitlines()[0]

    single = await make("--role", "teacher", "--trio", "DEMO-T1", "--school", "DEMO-W")
    double = await make("--role", "teacher", "--trio", "DEMO-T1", "--uses", "2")
    brief = await make("--role", "researcher", "--expires", "48h")
    pulled = await make("--role", "teacher")

    first = bot.person(901, "Fern")
    await join(first, single)
    row = await bot.db.fetchone(
        "SELECT s.ref FROM person p JOIN school s ON s.id = p.school_id WHERE telegram_id = 901"
    )
    assert row is not None and row[0] == "DEMO-W"
    second = bot.person(902, "Gus")
    await second.says(f"/start {single}")
    assert "already been used" in second.last_text

    await join(second, double)
    third = bot.person(903, "Hal")
    await join(third, double)
    fourth = bot.person(904, "Ivy")
    await fourth.says(f"/start {double}")
    assert "already been used" in fourth.last_text

    # Expiry is checked against real time, as the command line set it: move it into the past.
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE invite SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE code = ?",
            (brief,),
        )
    await fourth.says(f"/start {brief}")
    assert "expired" in fourth.last_text

    await asyncio.to_thread(cli, "invite", "revoke", pulled)
    await fourth.says(f"/start {pulled}")
    assert "withdrawn" in fourth.last_text
    strangers = await bot.db.fetchval("SELECT COUNT(*) FROM person WHERE telegram_id = 904")
    assert strangers == 0  # refused codes store nothing about the person


async def test_a_coordinator_makes_an_invite_in_the_bot(bot: BotUnderTest) -> None:
    eve = bot.person(905, "Eve")
    await join(eve, "DEMOEVE")
    await eve.says("/invite")
    assert "Who is it for?" in eve.last_text
    await eve.taps("trio lead")
    await eve.taps("Oldham–Stockport–Wigan trio")
    await eve.taps("Northfield Primary")
    await eve.taps("3")
    assert "Invite ready" in eve.last_text
    row = await bot.db.fetchone(
        "SELECT i.code, i.role, i.max_uses, i.expires_at, s.ref, t.ref, p.telegram_id"
        " FROM invite i JOIN school s ON s.id = i.school_id JOIN trio t ON t.id = i.trio_id"
        " JOIN person p ON p.id = i.created_by"
    )
    assert row is not None
    code, role, uses, expires, school, trio, maker = tuple(row)
    assert (role, uses, school, trio, maker) == ("trio_lead", 3, "DEMO-N", "DEMO-T1", 905)
    assert f"start={code}" in eve.last_text and code in eve.last_text
    assert expires.startswith((bot.clock() + timedelta(days=14)).strftime("%Y-%m"))

    newcomer = bot.person(906, "Jo")
    await join(newcomer, code)
    lead = await bot.db.fetchval(
        "SELECT m.is_lead FROM trio_member m JOIN person p ON p.id = m.person_id"
        " WHERE p.telegram_id = 906"
    )
    assert lead == 1


async def test_a_researcher_invite_in_the_bot_skips_the_trio(bot: BotUnderTest) -> None:
    eve = bot.person(907, "Eve")
    await join(eve, "DEMOEVE")
    await eve.says("/invite")
    await eve.taps("researcher")
    assert "How many people may use this invite?" in eve.last_text
    await eve.says("12")
    assert "Invite ready" in eve.last_text
    row = await bot.db.fetchone(
        "SELECT role, max_uses, trio_id, school_id FROM invite WHERE created_by IS NOT NULL"
    )
    assert row is not None and tuple(row) == ("researcher", 12, None, None)


def test_batch_writes_what_a_mail_merge_needs(cli: Cli, tmp_path: Path, db_path: Path) -> None:
    """Name, email, school, trio, code and link: the six columns it always had first, then
    email and the person's trios (their names as the bot shows them, and references)."""
    roster(cli, tmp_path)
    emails = PEOPLE.replace("trio_id\n", "trio_id,email\n").replace(
        "p-ana,Ana Lima,N1,trio_lead,T1", "p-ana,Ana Lima,N1,trio_lead,T1,ana@northfield.example"
    )
    (tmp_path / "e.csv").write_text(emails, encoding="utf-8")
    (tmp_path / "ls.csv").write_text(
        "trio_id,kind,person_ref\nLS1,teachers,p-ana\nLS1,teachers,p-ben\n", encoding="utf-8"
    )
    for name in ("e.csv", "ls.csv"):
        status, out = cli("roster", "import", str(tmp_path / name))
        assert status == 0, out
    # A trio with a name of its own.
    query(db_path, "UPDATE trio SET name = 'North–South trio' WHERE ref = 'T1'")
    out_file = tmp_path / "merge.csv"
    status, out = cli("invite", "batch", "--out", str(out_file))
    assert status == 0, out
    with out_file.open(encoding="utf-8", newline="") as f:
        header, *lines = list(csv.reader(f))
    assert header == [
        "person_ref",
        "name",
        "school",
        "role",
        "code",
        "link",
        "email",
        "trio",
        "trio_id",
    ]
    merge = [dict(zip(header, line, strict=True)) for line in lines]
    picked = [(r["name"], r["email"], r["school"], r["trio"], r["trio_id"]) for r in merge]
    assert picked == [
        (
            "Ana Lima",
            "ana@northfield.example",
            "Northfield Primary",
            "North–South trio; LS1",
            "T1; LS1",
        ),
        ("Ben Okafor", "", "Southgate Primary", "North–South trio; LS1", "T1; LS1"),
        ("Dee Research", "", "", "", ""),
    ]
    assert all(r["link"].endswith(f"?start={r['code']}") and r["code"] for r in merge)
