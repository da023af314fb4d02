"""bench/trios.py checks its own work: a tiny run verifies, and a shortfall fails the check."""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import replace
from pathlib import Path

from bench.trios import Run, check, city_region
from bot.programme.trio_formation import PreviousTrio, Trio, propose_trios
from tests.bench_run import run_bench, verified_lines


def tiny(tmp_path: Path, *, hide_ortools: bool = False) -> subprocess.CompletedProcess[str]:
    if not hide_ortools:
        return run_bench("trios", "--tiny")
    # A package of that name first on the path, which refuses to import: as without it.
    (tmp_path / "ortools").mkdir()
    (tmp_path / "ortools" / "__init__.py").write_text("raise ImportError('hidden')\n")
    return run_bench("trios", "--tiny", path=(tmp_path,))


def verified(out: str) -> list[str]:
    return [line.removeprefix("verified: ") for line in verified_lines(out)]


# The tiny run: 30 schools (21 primary, 9 secondary) with seeds 1 and 2, then 152 (122 and 30)
# without and with a previous round. Seed 2 and the second 152 carry a previous round: 10
# trios of 30 schools (3 pairs each), and 48 trios and two of four from 152 (3 and 6 pairs).
SCHOOLS = 2 * 30 + 2 * 152
TRIOS = 2 * 10 + 2 * 50
FOURTH = 2 * 2  # 122 and 30 each leave one school over
BANNED = 10 * 3 + 48 * 3 + 2 * 6


def test_the_tiny_run_verifies_placement_rules_and_costs(tmp_path: Path) -> None:
    run = tiny(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = verified(run.stdout)
    assert lines[:3] == [
        f"4 instances, {SCHOOLS} schools: each in exactly one of {TRIOS} trios ({FOURTH} as a"
        f" fourth member, named with a reason) or listed unplaced with a reason (0);"
        f" {SCHOOLS} + 0 = {SCHOOLS}",
        f"the hard rules in all {TRIOS} trios: one phase, a different local authority for each"
        f" school, no pair from the previous round ({BANNED} pairs banned in all)",
        f"each of the {TRIOS} trios' costs and the 4 totals recomputed from the standardised"
        " figures",
    ]
    if importlib.util.find_spec("ortools") is not None:
        # Both 30-school instances are solved to their proven optimum (README's table).
        assert lines[3:] == [
            "the gap to the CP-SAT optimum on 2 instances, each optimum proven and ours never"
            " below it: mean 0.00%, worst 0.00%"
        ]
    else:
        assert lines[3:] == []
        assert "skipped: the exact optimum" in run.stdout


def test_without_ortools_the_gap_is_skipped_saying_so_and_the_rest_still_checked(
    tmp_path: Path,
) -> None:
    run = tiny(tmp_path, hide_ortools=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "skipped: the exact optimum and the gap to it (OR-Tools is not installed" in run.stdout
    lines = verified(run.stdout)
    assert len(lines) == 3 and lines[0].startswith(f"4 instances, {SCHOOLS} schools")
    assert "NOT VERIFIED" not in run.stdout


def a_run() -> Run:
    schools, previous = city_region(21, 9, 2, True)
    proposal = propose_trios(schools, previous)
    # CP-SAT's proven optimum for this instance is the cost we find (README: 27.631 both).
    return Run(schools, previous, proposal, proposal.total_cost, True)


def broken(run: Run, index: int, trio: Trio) -> Run:
    trios = list(run.proposal.trios)
    trios[index] = trio
    return replace(run, proposal=replace(run.proposal, trios=tuple(trios)))


def test_the_check_passes_a_sound_run_and_names_each_shortfall() -> None:
    run = a_run()
    assert check([run], 1).failures == []
    first, second = run.proposal.trios[0], run.proposal.trios[1]
    la = {s.school_id: s.local_authority for s in run.schools}

    # A trio dropped: its three schools are neither placed nor listed.
    dropped = replace(run, proposal=replace(run.proposal, trios=run.proposal.trios[1:]))
    assert any("3 neither placed nor listed" in f for f in check([dropped], 1).failures)

    # Two schools of one local authority together.
    a = first.school_ids[0]
    twin = next(s.school_id for s in run.schools if s.local_authority == la[a] and s.school_id != a)
    mixed = broken(run, 0, replace(first, school_ids=(a, first.school_ids[1], twin)))
    assert any("two schools from one local authority" in f for f in check([mixed], 1).failures)

    # A pair from the previous round together again.
    again = replace(run, previous=[*run.previous, PreviousTrio("old", first.school_ids[:2])])
    assert any("a pair from the previous round" in f for f in check([again], 1).failures)

    # A fourth school in a trio that names none.
    crowded = broken(run, 0, replace(first, school_ids=(*first.school_ids, second.school_ids[0])))
    assert any("three schools and a named fourth" in f for f in check([crowded], 1).failures)

    # A cost that is not the schools' cost, and a total that is not its trios'.
    dearer = broken(run, 0, replace(first, cost=first.cost + 1))
    failures = check([dearer], 1).failures
    assert any("cost is not its schools' cost" in f for f in failures)
    assert any("total cost" in f for f in failures)

    # An optimum not proven, ours below a proven optimum, an optimum not computed.
    assert any("did not prove" in f for f in check([replace(run, proven=False)], 1).failures)
    below = replace(run, optimum=run.proposal.total_cost + 1)
    assert any("below the proven optimum" in f for f in check([below], 1).failures)
    assert any("for 0 of 1 instances" in f for f in check([replace(run, optimum=None)], 1).failures)
