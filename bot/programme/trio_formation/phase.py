"""One phase's schools as the search sees them: distances, the hard rules, the groups so far.

Schools are indices into `schools`; a group is a list of them; the spare bin holds those not
(yet) placed. The hard rules (three different local authorities, no two schools together
again) live here only: `fits` for one school and a group, `apart` (the same pairs as a matrix)
for costing many splits at once. So every construction and every move keeps them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import combinations

import numpy as np
import numpy.typing as npt

from bot.programme.trio_formation.model import School, SearchOptions

EPS = 1e-9
LOCAL = 6  # how many nearest schools define a group's neighbouring groups


@dataclass
class PhaseSearch:
    """Groups of one phase, as lists of school indices; the spare bin holds the unplaced."""

    schools: list[School]
    z: dict[str, tuple[float, float]]
    banned_pairs: set[frozenset[str]]
    options: SearchOptions
    deadline: float
    groups: list[list[int]] = field(default_factory=list)
    spare: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.schools)
        self.n = n
        las = sorted({s.local_authority for s in self.schools})
        self.la = [las.index(s.local_authority) for s in self.schools]
        index = {s.school_id: i for i, s in enumerate(self.schools)}
        self.banned: list[set[int]] = [set() for _ in range(n)]
        for pair in self.banned_pairs:
            a, b = sorted(pair)
            if a in index and b in index:
                self.banned[index[a]].add(index[b])
                self.banned[index[b]].add(index[a])
        # The distances once, as a matrix (numpy: a Python double loop cost 0.15 s on 880
        # schools) and as lists, which the search's scalar loops index faster.
        points = np.array([self.z[s.school_id] for s in self.schools], dtype=float).reshape(n, 2)
        fsm, prior = points[:, 0], points[:, 1]
        self.dist = np.hypot(fsm[:, None] - fsm[None, :], prior[:, None] - prior[None, :])
        self.d: list[list[float]] = self.dist.tolist()
        # Pairs the rules keep apart: the same local authority, or together before.
        la = np.array(self.la, dtype=int)
        self.apart = la[:, None] == la[None, :]
        for x, together_before in enumerate(self.banned):
            for y in together_before:
                self.apart[x, y] = True
        k = min(n - 1, self.options.neighbours if n > 60 else n - 1)
        # Nearest first, ties by index; a school is never its own neighbour.
        away = self.dist + np.diag(np.full(n, np.inf))
        self.near: list[list[int]] = np.argsort(away, axis=1, kind="stable")[:, :k].tolist()
        self.rng = random.Random(self.options.seed)  # noqa: S311 - seeded for repeatability
        self.where: list[int] = [-1] * n  # group index, or -1 for the spare bin

    # ---- rules and costs -------------------------------------------------------------

    def fits(self, x: int, others: Iterable[int]) -> bool:
        """May school x sit in a group with these schools?"""
        return all(self.la[m] != self.la[x] and m not in self.banned[x] for m in others)

    def pull(self, x: int, others: Iterable[int]) -> float:
        row = self.d[x]
        return sum(row[m] for m in others)

    def group_cost(self, group: Sequence[int]) -> float:
        return sum(self.pull(a, group[i + 1 :]) for i, a in enumerate(group))

    # ---- moving schools ----------------------------------------------------------------

    def members(self, gi: int) -> list[int]:
        return self.groups[gi] if gi >= 0 else self.spare

    def move_delta(self, x: int, y: int) -> float | None:
        """Cost change from swapping x and y between their groups, or None if not allowed."""
        gx, gy = self.where[x], self.where[y]
        rest_x = [m for m in self.members(gx) if m != x]
        rest_y = [m for m in self.members(gy) if m != y]
        delta = 0.0
        if gx >= 0:
            if not self.fits(y, rest_x):
                return None
            delta += self.pull(y, rest_x) - self.pull(x, rest_x)
        if gy >= 0:
            if not self.fits(x, rest_y):
                return None
            delta += self.pull(x, rest_y) - self.pull(y, rest_y)
        return delta

    def place(self, x: int, old: int, new: int) -> None:
        self.members(old).remove(x)
        self.members(new).append(x)
        self.where[x] = new

    def best_partition(self, items: list[int], sizes: list[int]) -> tuple[float, list[list[int]]]:
        """The cheapest split of items into groups of these sizes that keeps the rules.

        Every split is costed at once from a table of the splits of that many items (the
        regrouping calls this thousands of times on a city region); (inf, []) if none keeps
        the rules.
        """
        table = split_table(tuple(sorted(sizes)))
        at = np.array(items, dtype=np.intp)
        pairs = at[table.pair_a] * self.n + at[table.pair_b]  # into the flattened matrices
        weight = np.where(self.apart.take(pairs), np.inf, self.dist.take(pairs))
        totals = weight[table.split_pairs].sum(axis=1)
        best = int(np.argmin(totals))
        if not math.isfinite(totals[best]):
            return math.inf, []
        parts = [[items[i] for i in table.groups[g]] for g in table.splits[best]]
        return float(totals[best]), parts


@dataclass(frozen=True)
class SplitTable:
    """Every split of k items into groups of given sizes, as positions 0..k-1.

    `groups` are the groups any split uses and `splits` names each split's groups; pair_a and
    pair_b list every pair of positions, and `split_pairs` each split's pairs among them, so a
    split's cost is a sum along its row.
    """

    groups: tuple[tuple[int, ...], ...]
    splits: npt.NDArray[np.intp]
    pair_a: npt.NDArray[np.intp]
    pair_b: npt.NDArray[np.intp]
    split_pairs: npt.NDArray[np.intp]


@cache
def split_table(sizes: tuple[int, ...]) -> SplitTable:
    """Built by always placing the first item not yet placed, so each split is met once."""
    number: dict[tuple[int, ...], int] = {}
    rows: list[list[int]] = []

    def extend(free: tuple[int, ...], sizes_left: tuple[int, ...], row: list[int]) -> None:
        if not free:
            rows.append(row)
            return
        first, rest = free[0], free[1:]
        for size in sorted(set(sizes_left)):
            left = list(sizes_left)
            left.remove(size)
            for others in combinations(rest, size - 1):
                group = (first, *others)
                g = number.setdefault(group, len(number))
                remaining = tuple(m for m in rest if m not in others)
                extend(remaining, tuple(left), [*row, g])

    extend(tuple(range(sum(sizes))), sizes, [])
    groups = tuple(number)
    pairs = list(combinations(range(sum(sizes)), 2))
    pair = {p: i for i, p in enumerate(pairs)}
    split_pairs = [[pair[p] for g in row for p in combinations(groups[g], 2)] for row in rows]
    return SplitTable(
        groups,
        np.array(rows, dtype=np.intp),
        np.array([a for a, _ in pairs], dtype=np.intp),
        np.array([b for _, b in pairs], dtype=np.intp),
        np.array(split_pairs, dtype=np.intp),
    )


def max_trios(la_counts: list[int]) -> int:
    """Most trios with three different local authorities each: largest t, sum min(c, t) >= 3t."""
    total = sum(la_counts)
    t = total // 3
    while t > 0 and sum(min(c, t) for c in la_counts) < 3 * t:
        t -= 1
    return t
