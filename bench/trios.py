"""Trio formation: cost gap to the proven optimum, and run time at city-region scale.

Instances look like a city region: 10 local authorities of different sizes and deprivation,
about three primary schools to each secondary, the share of disadvantaged pupils varying by
authority and school, and prior attainment falling as disadvantage rises (with noise). Half
of the small instances carry a previous round (trios formed on last year's figures), whose
pairs may not meet again: the realistic second-round case, where the closest pairs are banned.

The exact optimum comes from OR-Tools CP-SAT: one boolean per feasible triple (same phase,
three local authorities, no previous pair), each school covered exactly once, minimising the
total cost scaled to integers. Each phase is solved on its own, as the heuristic does.

    .venv/bin/pip install -e '.[bench]'          # once: OR-Tools, for the exact optimum
    .venv/bin/python bench/trios.py
    .venv/bin/python bench/trios.py --seeds 5 --exact-seconds 120

"seconds" is wall time; "cpu s" is this process's CPU time, which other work on a shared
machine does not inflate.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe, peak_rss_mb
from bot.programme.trio_formation import (
    PreviousTrio,
    School,
    SearchOptions,
    group_cost,
    previous_pairs,
    propose_trios,
    standardise,
)

LAS = [f"LA{i:02d}" for i in range(10)]


def city_region(
    primary: int, secondary: int, seed: int, with_previous: bool
) -> tuple[list[School], list[PreviousTrio]]:
    rng = random.Random(seed)
    weight = [rng.uniform(0.6, 1.6) for _ in LAS]
    deprivation = {la: rng.uniform(12, 38) for la in LAS}
    schools = []
    for phase, count in (("primary", primary), ("secondary", secondary)):
        for i in range(count):
            la = rng.choices(LAS, weights=weight)[0] if i >= len(LAS) else LAS[i]
            fsm = min(75.0, max(2.0, rng.gauss(deprivation[la], 10)))
            base = 104.5 if phase == "primary" else 46.0
            slope = 0.12 if phase == "primary" else 0.25
            prior = base - slope * fsm + rng.gauss(0, 2.0 if phase == "primary" else 4.0)
            pupils = rng.randint(120, 650) if phase == "primary" else rng.randint(500, 1700)
            sid = f"{phase[0].upper()}{i:04d}"
            schools.append(
                School(sid, f"School {sid}", la, phase, pupils, round(fsm, 1), round(prior, 2))
            )
    previous: list[PreviousTrio] = []
    if with_previous:
        last_year = [
            School(
                s.school_id,
                s.name,
                s.local_authority,
                s.phase,
                s.pupils,
                s.fsm_pct + rng.gauss(0, 3),
                s.prior_attainment + rng.gauss(0, 1),
            )
            for s in schools
        ]
        earlier = propose_trios(last_year, options=SearchOptions(seed=seed))
        previous = [PreviousTrio(t.trio_id, t.school_ids) for t in earlier.trios]
    return schools, previous


def exact_optimum(
    schools: list[School], previous: list[PreviousTrio], seconds: float
) -> tuple[float, bool, int]:
    """(optimal cost, proven optimal?, triples in the model) with OR-Tools CP-SAT."""
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        sys.exit("bench/trios.py needs OR-Tools: .venv/bin/pip install -e '.[bench]'")

    z = standardise(schools)
    banned = previous_pairs(previous)
    total, proven, triples = 0.0, True, 0
    for phase in sorted({s.phase for s in schools}):
        members = [s for s in schools if s.phase == phase]
        model = cp_model.CpModel()
        chosen: list[tuple[object, float, tuple[School, ...]]] = []
        cover: dict[str, list[object]] = {s.school_id: [] for s in members}
        for trio in combinations(members, 3):
            if len({s.local_authority for s in trio}) < 3:
                continue
            if any(
                frozenset((a.school_id, b.school_id)) in banned for a, b in combinations(trio, 2)
            ):
                continue
            cost = group_cost([z[s.school_id] for s in trio])
            var = model.new_bool_var("")
            chosen.append((var, cost, trio))
            for s in trio:
                cover[s.school_id].append(var)
        triples += len(chosen)
        for vars_ in cover.values():
            model.add_exactly_one(vars_)  # type: ignore[arg-type]
        model.minimize(sum(round(c * 10_000) * v for v, c, _ in chosen))  # type: ignore[misc]
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = seconds
        solver.parameters.num_workers = 8
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return math.nan, False, triples
        proven = proven and status == cp_model.OPTIMAL
        total += sum(c for v, c, _ in chosen if solver.value(v))  # type: ignore[arg-type]
    return total, proven, triples


def split(n: int) -> tuple[int, int]:
    secondary = 3 * round(n / 3 / 3)
    return n - secondary, secondary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--exact-seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print()
    print("Cost gap to the proven optimum (CP-SAT), per instance")
    header = (
        f"{'schools':>7} {'seed':>4} {'prev':>4} {'triples':>8} {'optimum':>9} "
        f"{'ours':>9} {'gap %':>6} {'proven':>6} {'ours s':>7} {'exact s':>8}"
    )
    print(header)
    print("-" * len(header))
    gaps: dict[int, list[float]] = {}
    all_proven = True
    for n in (30, 45, 60, 90):
        primary, secondary = split(n)
        for seed in range(1, args.seeds + 1):
            with_previous = seed % 2 == 0
            schools, previous = city_region(primary, secondary, seed, with_previous)
            started = time.perf_counter()
            proposal = propose_trios(schools, previous)
            ours_s = time.perf_counter() - started
            started = time.perf_counter()
            optimum, proven, triples = exact_optimum(schools, previous, args.exact_seconds)
            exact_s = time.perf_counter() - started
            all_proven = all_proven and proven
            gap = 100 * (proposal.total_cost - optimum) / optimum
            gaps.setdefault(n, []).append(gap)
            print(
                f"{n:>7} {seed:>4} {'yes' if with_previous else 'no':>4} {triples:>8} "
                f"{optimum:>9.3f} {proposal.total_cost:>9.3f} {gap:>6.2f} "
                f"{'yes' if proven else 'NO':>6} {ours_s:>7.3f} {exact_s:>8.2f}"
            )
    print()
    print("Gap summary (mean / worst, %):")
    for n, values in gaps.items():
        print(f"  {n:>3} schools: {sum(values) / len(values):.2f} / {max(values):.2f}")
    every = [g for values in gaps.values() for g in values]
    print(
        f"  all {len(every)} instances: mean {sum(every) / len(every):.2f}, "
        f"worst {max(every):.2f}; optimality proven on all: {'yes' if all_proven else 'NO'}"
    )
    print()
    print("Run time at scale (no exact optimum: too large)")
    print(
        f"{'schools':>7} {'primary':>7} {'second.':>7} {'prev':>4} {'trios':>5} "
        f"{'4th':>3} {'unpl.':>5} {'cost':>9} {'seconds':>7} {'cpu s':>6}"
    )
    for n in (150, 1100):
        primary = round(n * 0.8)
        for with_previous in (False, True):
            schools, previous = city_region(primary, n - primary, 7, with_previous)
            started, cpu = time.perf_counter(), time.process_time()
            proposal = propose_trios(schools, previous)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"{n:>7} {primary:>7} {n - primary:>7} {'yes' if with_previous else 'no':>4} "
                f"{len(proposal.trios):>5} {len(proposal.fourth_members):>3} "
                f"{len(proposal.unplaced):>5} {proposal.total_cost:>9.3f} {seconds:>7.2f}"
                f" {cpu:>6.2f}"
            )
    print()
    print(f"peak memory: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
