"""One phase's schools as the search sees them: distances, the hard rules, the groups so far.

Schools are indices into `schools`; a group is a list of them; the spare bin holds those not
(yet) placed. `fits` is the one place the hard rules live (three different local authorities,
no two schools together again), so every construction and every move keeps them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from bot.programme.trio_formation.model import School, SearchOptions

EPS = 1e-9
LOCAL = 6  # how many nearest schools define a group's neighbouring groups


@dataclass
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
        points = [self.z[s.school_id] for s in self.schools]
        self.d = [[math.dist(p, q) for q in points] for p in points]
        index = {s.school_id: i for i, s in enumerate(self.schools)}
        self.banned: list[set[int]] = [set() for _ in range(n)]
        for pair in self.banned_pairs:
            a, b = sorted(pair)
            if a in index and b in index:
                self.banned[index[a]].add(index[b])
                self.banned[index[b]].add(index[a])
        k = min(n - 1, self.options.neighbours if n > 60 else n - 1)
        self.near = [
            sorted((j for j in range(n) if j != i), key=self.d[i].__getitem__)[:k] for i in range(n)
        ]
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
        """The cheapest split of items into groups of these sizes that keeps the rules."""
        k = len(items)
        la, banned = self.la, self.banned
        ok = [
            [i != j and la[a] != la[b] and b not in banned[a] for j, b in enumerate(items)]
            for i, a in enumerate(items)
        ]
        dist = [[self.d[a][b] for b in items] for a in items]
        # Every allowed group, filed under its first item: a split is built by always placing
        # the first item not yet placed, so each split is met exactly once. (Called thousands
        # of times on a city region, so trios, the common case, are costed inline.)
        by_first: dict[int, list[tuple[float, int, int]]] = {}
        for size in set(sizes):
            for combo in combinations(range(k), size):
                if size == 3:
                    i, j, m = combo
                    if not (ok[i][j] and ok[i][m] and ok[j][m]):
                        continue
                    cost = dist[i][j] + dist[i][m] + dist[j][m]
                elif all(ok[i][j] for i, j in combinations(combo, 2)):
                    cost = sum(dist[i][j] for i, j in combinations(combo, 2))
                else:
                    continue
                mask = sum(1 << i for i in combo)
                by_first.setdefault(combo[0], []).append((cost, mask, size))
        for options in by_first.values():
            options.sort()
        full = (1 << k) - 1
        best: tuple[float, list[int]] = (math.inf, [])

        def extend(used: int, sizes_left: list[int], masks: list[int], cost: float) -> None:
            nonlocal best
            if used == full:
                best = (cost, masks)
                return
            first = (~used & (used + 1)).bit_length() - 1
            for group_cost, mask, size in by_first.get(first, ()):
                if cost + group_cost >= best[0] - EPS:
                    break
                if mask & used or size not in sizes_left:
                    continue
                rest = sizes_left.copy()
                rest.remove(size)
                extend(used | mask, rest, [*masks, mask], cost + group_cost)

        extend(0, sizes, [], 0.0)
        parts = [[items[i] for i in range(k) if mask >> i & 1] for mask in best[1]]
        return best[0], parts


def max_trios(la_counts: list[int]) -> int:
    """Most trios with three different local authorities each: largest t, sum min(c, t) >= 3t."""
    total = sum(la_counts)
    t = total // 3
    while t > 0 and sum(min(c, t) for c in la_counts) < 3 * t:
        t -= 1
    return t
