"""What trio formation works on and what it gives back: schools in, a `Proposal` out.

The inputs (schools, earlier trios), the search's options, the answer (trios, fourth members,
schools left unplaced) and the measure every grouping is judged by (`group_cost`, on
standardised fsm_pct and prior attainment).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True)
class School:
    school_id: str
    name: str
    local_authority: str
    phase: str
    pupils: int
    fsm_pct: float
    prior_attainment: float


@dataclass(frozen=True)
class PreviousTrio:
    trio_id: str
    school_ids: tuple[str, ...]


@dataclass(frozen=True)
class Trio:
    trio_id: str
    phase: str
    school_ids: tuple[str, ...]  # three, or four when a fourth member joined
    cost: float


@dataclass(frozen=True)
class FourthMember:
    school_id: str
    trio_id: str
    reason: str


@dataclass(frozen=True)
class Unplaced:
    school_id: str
    phase: str
    reason: str


@dataclass(frozen=True)
class Proposal:
    trios: tuple[Trio, ...]
    fourth_members: tuple[FourthMember, ...]
    unplaced: tuple[Unplaced, ...]
    total_cost: float


@dataclass(frozen=True)
class SearchOptions:
    seed: int = 0
    allow_fourth_member: bool = True
    # Candidate moves look at the groups of each school's nearest schools only: the whole
    # phase when it is small, enough on a city region to stay fast.
    neighbours: int = 14
    # Regrouping three neighbouring groups at a time: at most this many passes over the
    # groups, ending early after this many passes in a row that found nothing better.
    regroup_rounds: int = 200
    patience: int = 3
    regroup: int = 3
    # 2,000 steps a school up to 100 schools (every instance with a proven optimum in
    # bench/trios.py); beyond that 200,000 steps in all: measured on 1,100 schools, twice
    # as many steps bought nothing measurable (cost within ±0.7%, seed to seed) for ~1.5 s.
    anneal_steps_per_school: int = 2000
    max_anneal_steps: int = 200_000
    start_temperature: float = 0.5
    # A phase of up to `restart_up_to` schools is searched from `restarts` seeds (seed,
    # seed + 1, ...) and the cheapest grouping kept: one run can stall in a poor local optimum
    # (on bench/trios.py's 30-90-school instances, seed by seed the worst gap to the optimum
    # ranged from 0.9% to 9.8%), and a run takes 0.03-0.3 s at that size.
    restarts: int = 4
    restart_up_to: int = 100
    local: int = 6
    # A safety net only: the budgets above, not the clock, normally ends the search, so the
    # result does not depend on the machine.
    time_limit_s: float = 20.0


def standardise(schools: Sequence[School]) -> dict[str, tuple[float, float]]:
    """z-scores of fsm_pct and prior_attainment over the whole input (population s.d.)."""

    def z(values: list[float]) -> list[float]:
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return [(v - mean) / sd if sd > 0 else 0.0 for v in values]

    if not schools:
        return {}
    fsm = z([s.fsm_pct for s in schools])
    prior = z([s.prior_attainment for s in schools])
    return {s.school_id: (f, p) for s, f, p in zip(schools, fsm, prior, strict=True)}


def group_cost(points: Sequence[tuple[float, float]]) -> float:
    """Sum of the pairwise Euclidean distances within one group."""
    return sum(math.dist(a, b) for a, b in combinations(points, 2))


def previous_pairs(previous: Iterable[PreviousTrio]) -> set[frozenset[str]]:
    pairs: set[frozenset[str]] = set()
    for trio in previous:
        for a, b in combinations(sorted(set(trio.school_ids)), 2):
            pairs.add(frozenset((a, b)))
    return pairs
