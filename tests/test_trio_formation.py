"""Trio formation: the hard rules always hold, leftovers are explained, the output imports."""

from __future__ import annotations

import csv
import math
import random
import re
import sqlite3
from itertools import combinations
from pathlib import Path

from bot.programme.trio_formation import (
    PreviousTrio,
    Proposal,
    School,
    group_cost,
    propose_trios,
    standardise,
)
from tests.conftest import Cli

LAS = ("Oldham", "Stockport", "Wigan", "Bolton", "Bury", "Salford")


def generated(count: int, seed: int, *, phases: tuple[str, ...] = ("primary",)) -> list[School]:
    rng = random.Random(seed)
    schools = []
    for i in range(count):
        phase = phases[i % len(phases)]
        fsm = rng.uniform(5, 60)
        schools.append(
            School(
                f"S{i:03d}",
                f"School {i}",
                LAS[rng.randrange(len(LAS))] if i >= len(LAS) else LAS[i],
                phase,
                300,
                round(fsm, 1),
                round(105 - 0.15 * fsm + rng.gauss(0, 2), 2),
            )
        )
    return schools


def check_rules(proposal: Proposal, schools: list[School], previous: list[PreviousTrio]) -> None:
    by_id = {s.school_id: s for s in schools}
    banned = {frozenset(pair) for trio in previous for pair in combinations(trio.school_ids, 2)}
    fourth = {f.school_id: f.trio_id for f in proposal.fourth_members}
    placed: list[str] = []
    for trio in proposal.trios:
        members = [by_id[i] for i in trio.school_ids]
        extra = [m for m in members if fourth.get(m.school_id) == trio.trio_id]
        assert len(members) - len(extra) == 3, trio
        assert len({m.phase for m in members}) == 1 and members[0].phase == trio.phase
        assert len({m.local_authority for m in members}) == len(members), trio
        for a, b in combinations(trio.school_ids, 2):
            assert frozenset((a, b)) not in banned, (trio, a, b)
        placed.extend(trio.school_ids)
    assert len(placed) == len(set(placed))
    unplaced = [u.school_id for u in proposal.unplaced]
    assert sorted(placed + unplaced) == sorted(by_id)
    z = standardise(schools)
    costs = [group_cost([z[i] for i in t.school_ids]) for t in proposal.trios]
    assert math.isclose(proposal.total_cost, sum(costs), rel_tol=1e-9)


def test_every_trio_is_one_phase_from_three_local_authorities() -> None:
    schools = generated(60, seed=3, phases=("primary", "secondary"))
    proposal = propose_trios(schools)
    check_rules(proposal, schools, [])
    assert len(proposal.trios) == 20
    assert not proposal.fourth_members and not proposal.unplaced


def test_no_pair_from_the_previous_round_meets_again() -> None:
    schools = generated(45, seed=5)
    first = propose_trios(schools)
    previous = [PreviousTrio(t.trio_id, t.school_ids) for t in first.trios]
    second = propose_trios(schools, previous)
    check_rules(second, schools, previous)
    assert len(second.trios) == 15
    # The first round's trios were the cheapest; banning all their pairs costs something.
    assert second.total_cost > first.total_cost


def test_it_keeps_similar_communities_together() -> None:
    # Two clear clusters of three (three LAs each): mixing them would cost far more.
    schools = [
        School("A1", "A1", "Oldham", "primary", 1, 10.0, 110.0),
        School("A2", "A2", "Wigan", "primary", 1, 11.0, 109.0),
        School("A3", "A3", "Bury", "primary", 1, 12.0, 111.0),
        School("B1", "B1", "Oldham", "primary", 1, 50.0, 95.0),
        School("B2", "B2", "Wigan", "primary", 1, 52.0, 94.0),
        School("B3", "B3", "Bury", "primary", 1, 51.0, 96.0),
    ]
    proposal = propose_trios(schools)
    assert sorted(t.school_ids for t in proposal.trios) == [("A1", "A2", "A3"), ("B1", "B2", "B3")]


def test_leftovers_become_fourth_members_or_are_reported_with_reasons() -> None:
    schools = generated(31, seed=8)  # one too many for trios
    proposal = propose_trios(schools)
    check_rules(proposal, schools, [])
    assert len(proposal.fourth_members) == 1
    assert "do not divide into trios" in proposal.fourth_members[0].reason

    # Two local authorities only: no trio is possible, and the reason says why.
    pairs = [
        School(f"P{i}", f"P{i}", ("Oldham", "Wigan")[i % 2], "secondary", 1, 10.0 + i, 100.0)
        for i in range(4)
    ]
    proposal = propose_trios(pairs)
    assert not proposal.trios
    assert {u.school_id for u in proposal.unplaced} == {"P0", "P1", "P2", "P3"}
    assert all("2 local authorities; a trio needs three" in u.reason for u in proposal.unplaced)


def test_a_school_no_trio_can_take_is_left_unplaced_with_the_reason() -> None:
    schools = [
        School("O1", "O1", "Oldham", "primary", 1, 10.0, 100.0),
        School("W1", "W1", "Wigan", "primary", 1, 11.0, 101.0),
        School("B1", "B1", "Bury", "primary", 1, 12.0, 102.0),
        School("O2", "O2", "Oldham", "primary", 1, 13.0, 103.0),  # Oldham is taken
    ]
    proposal = propose_trios(schools)
    assert [u.school_id for u in proposal.unplaced] == ["O2"]
    assert "in Oldham" in proposal.unplaced[0].reason
    assert "1 already have a school from there" in proposal.unplaced[0].reason


# --- the command line --------------------------------------------------------------------
def write_schools(path: Path, schools: list[School]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "school_id",
                "name",
                "local_authority",
                "phase",
                "pupils",
                "fsm_pct",
                "prior_attainment",
            ]
        )
        for s in schools:
            writer.writerow(
                [
                    s.school_id,
                    s.name,
                    s.local_authority,
                    s.phase,
                    300,
                    s.fsm_pct,
                    s.prior_attainment,
                ]
            )


def read_trios(path: Path) -> dict[str, list[str]]:
    trios: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        assert next(reader) == ["trio_id", "school_id"]
        for trio, school in reader:
            trios.setdefault(trio, []).append(school)
    return trios


def test_trios_propose_writes_a_file_that_imports_directly(
    cli: Cli, tmp_path: Path, db_path: Path
) -> None:
    schools = generated(31, seed=11, phases=("primary", "secondary"))
    write_schools(tmp_path / "schools.csv", schools)
    status, out = cli(
        "trios", "propose", str(tmp_path / "schools.csv"), "--out", str(tmp_path / "t.csv")
    )
    assert status == 0, out
    cost = re.search(r"Total cost: (\d+\.\d+)", out)
    assert cost is not None
    proposal = propose_trios(schools)
    assert float(cost[1]) == round(proposal.total_cost, 4)
    assert "fourth member of" in out  # 31 schools: one left over, and said so
    written = read_trios(tmp_path / "t.csv")
    assert written == {t.trio_id: list(t.school_ids) for t in proposal.trios}

    assert cli("roster", "import", str(tmp_path / "schools.csv"))[0] == 0
    status, out = cli("roster", "import", str(tmp_path / "t.csv"))
    assert status == 0, out
    with sqlite3.connect(db_path) as conn:
        held = conn.execute(
            "SELECT t.ref, s.ref FROM trio_school ts JOIN trio t ON t.id = ts.trio_id"
            " JOIN school s ON s.id = ts.school_id ORDER BY t.ref, s.ref"
        ).fetchall()
    assert held == [(t, s) for t, ids in sorted(written.items()) for s in sorted(ids)]


def test_trios_propose_honours_the_previous_round_and_a_prefix(cli: Cli, tmp_path: Path) -> None:
    schools = generated(30, seed=12)
    write_schools(tmp_path / "schools.csv", schools)
    first = tmp_path / "round1.csv"
    assert cli("trios", "propose", str(tmp_path / "schools.csv"), "--out", str(first))[0] == 0
    second = tmp_path / "round2.csv"
    status, out = cli(
        "trios",
        "propose",
        str(tmp_path / "schools.csv"),
        "--out",
        str(second),
        "--previous",
        str(first),
        "--prefix",
        "Y2-",
    )
    assert status == 0, out
    before = {frozenset(p) for ids in read_trios(first).values() for p in combinations(ids, 2)}
    after = read_trios(second)
    assert all(t.startswith("Y2-") for t in after)
    assert not any(frozenset(p) in before for ids in after.values() for p in combinations(ids, 2))
    previous = [PreviousTrio(t, tuple(ids)) for t, ids in read_trios(first).items()]
    check_rules(propose_trios(schools, previous), schools, previous)


def test_trios_propose_refuses_a_schools_file_with_errors(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "schools.csv").write_text(
        "school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment\n"
        "A,A,Oldham,primary,1,20,100\n"
        "B,B,Wigan,primary,1,,100\n"
        "C,C,Bury,primary,1,20,high\n",
        encoding="utf-8",
    )
    status, out = cli(
        "trios", "propose", str(tmp_path / "schools.csv"), "--out", str(tmp_path / "t.csv")
    )
    assert status == 1
    assert "line 3: fsm_pct is empty: it is needed to match" in out
    assert "line 4: prior_attainment 'high' is not a number" in out
    assert not (tmp_path / "t.csv").exists()
