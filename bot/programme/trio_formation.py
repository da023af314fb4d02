"""Propose trios of schools: similar communities, same phase, three different local authorities.

Pure: no Telegram, no database. `propose_trios` takes schools and earlier trios and returns a
`Proposal`. Per phase it builds trios greedily (the least typical schools first, each with the
closest schools it may join), attaches any school left over as a fourth member where the rules
allow, then improves the grouping by local search (swapping two schools between groups, moving
a fourth member, and rotating three schools round three groups) with seeded random kicks.
Every move keeps the hard rules, so no proposal ever breaks them.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

_EPS = 1e-9
_LOCAL = 6  # how many nearest schools define a group's neighbouring groups
_Move = tuple[tuple[int, int], ...]  # (school, group it moves to), applied in order


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


def propose_trios(
    schools: Sequence[School],
    previous: Iterable[PreviousTrio] = (),
    options: SearchOptions | None = None,
    *,
    prefix: str = "T",
) -> Proposal:
    """Trios named `prefix`001, `prefix`002… (by phase, then by their schools' ids)."""
    options = options or SearchOptions()
    z = standardise(schools)
    banned = previous_pairs(previous)
    deadline = time.monotonic() + options.time_limit_s
    trios: list[tuple[str, list[School], float]] = []
    attached: list[tuple[School, int]] = []  # (school, index into trios)
    unplaced: list[Unplaced] = []
    for phase in sorted({s.phase for s in schools}):
        members = sorted((s for s in schools if s.phase == phase), key=lambda s: s.school_id)
        search = _PhaseSearch(members, z, banned, options, deadline)
        search.run()
        for group in search.groups:
            index = len(trios)
            chosen = [members[i] for i in group]
            trios.append((phase, chosen, group_cost([z[s.school_id] for s in chosen])))
            attached.extend((members[i], index) for i in group[3:])
        unplaced.extend(search.unplaced_reasons())
    # Ids in a stable, readable order: by phase, then by the schools' own ids.
    order = sorted(range(len(trios)), key=lambda i: (trios[i][0], _ids(trios[i][1])))
    trio_id = {old: f"{prefix}{new + 1:03d}" for new, old in enumerate(order)}
    proposal_trios = tuple(
        Trio(trio_id[i], trios[i][0], tuple(_ids(trios[i][1])), trios[i][2]) for i in order
    )
    fourth = tuple(
        FourthMember(
            school.school_id,
            trio_id[index],
            f"the {school.phase} schools do not divide into trios",
        )
        for school, index in sorted(attached, key=lambda a: trio_id[a[1]])
    )
    total = sum(t.cost for t in proposal_trios)
    return Proposal(proposal_trios, fourth, tuple(unplaced), total)


def _ids(schools: Sequence[School]) -> list[str]:
    return sorted(s.school_id for s in schools)


@dataclass
class _PhaseSearch:
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

    # ---- construction ----------------------------------------------------------------

    def run(self) -> None:
        self.repair(self.build())
        if self.options.allow_fourth_member:
            self.attach_spares()
        self.anneal()
        self.descend(range(self.n))
        self.regroup_neighbours()
        for g in self.groups:
            g.sort()
        self.spare.sort()

    def build(self) -> int:
        """Trios, least typical school first, while the local authorities can still fill them.

        Returns how many trios the local authorities allow (the greedy may fall short).
        """
        counts = Counter(self.la)
        target = _max_trios(list(counts.values()))
        centre = (
            sum(self.z[s.school_id][0] for s in self.schools) / max(self.n, 1),
            sum(self.z[s.school_id][1] for s in self.schools) / max(self.n, 1),
        )
        order = sorted(
            range(self.n), key=lambda i: -math.dist(self.z[self.schools[i].school_id], centre)
        )
        free = set(range(self.n))
        for x in order:
            if x not in free or len(self.groups) >= target:
                continue
            best: tuple[float, int, int] | None = None
            candidates = [
                j for j in sorted(free, key=self.d[x].__getitem__) if j != x and self.fits(j, [x])
            ]
            for a_pos, a in enumerate(candidates):
                if best is not None and 2 * self.d[x][a] >= best[0]:
                    break
                for b in candidates[a_pos + 1 :]:
                    if best is not None and 2 * self.d[x][b] >= best[0]:
                        break
                    if not self.fits(b, [a]):
                        continue
                    trio_cost = self.d[x][a] + self.d[x][b] + self.d[a][b]
                    if best is not None and trio_cost >= best[0]:
                        continue
                    left = counts.copy()
                    for m in (x, a, b):
                        left[self.la[m]] -= 1
                    if _max_trios(list(left.values())) >= target - len(self.groups) - 1:
                        best = (trio_cost, a, b)
            if best is None:
                continue
            group = [x, best[1], best[2]]
            for m in group:
                free.discard(m)
                counts[self.la[m]] -= 1
                self.where[m] = len(self.groups)
            self.groups.append(group)
        self.spare = sorted(free)
        return target

    def repair(self, target: int) -> None:
        """Form the trios the greedy missed: three spares regrouped with two nearby trios."""
        stuck: set[int] = set()
        while len(self.groups) < target and len(self.spare) - len(stuck) >= 3:
            x = min(set(self.spare) - stuck)
            mates = sorted((m for m in self.spare if m != x), key=self.d[x].__getitem__)[:2]
            seeds = [x, *mates]
            around = sorted(range(self.n), key=lambda j: min(self.d[m][j] for m in seeds))
            near = list(dict.fromkeys(self.where[j] for j in around if self.where[j] >= 0))
            best: tuple[float, list[int], list[list[int]]] = (math.inf, [], [])
            for pair in combinations(near[:_LOCAL], 2):
                items = seeds + [m for gi in pair for m in self.groups[gi]]
                sizes = [3] + [len(self.groups[gi]) for gi in pair]
                cost, parts = self.best_partition(items, sizes)
                if cost < best[0]:
                    best = (cost, list(pair), parts)
            if not best[1]:
                stuck.add(x)
                continue
            for m in seeds:
                self.spare.remove(m)
            self.groups.append([])
            for gi, part in zip([*best[1], len(self.groups) - 1], best[2], strict=True):
                self.groups[gi] = part
                for m in part:
                    self.where[m] = gi

    def attach_spares(self) -> None:
        """Each school left over joins, as a fourth member, the trio it is closest to."""
        for x in sorted(self.spare, key=lambda i: self.schools[i].school_id):
            options = [
                (self.pull(x, g), gi)
                for gi, g in enumerate(self.groups)
                if len(g) == 3 and self.fits(x, g)
            ]
            if options:
                _, gi = min(options)
                self.groups[gi].append(x)
                self.where[x] = gi
                self.spare.remove(x)

    # ---- local search ----------------------------------------------------------------

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

    def improve(self, x: int) -> list[int]:
        """Apply the best improving move for x; return the groups it touched."""
        gx = self.where[x]
        near_groups = sorted({self.where[j] for j in self.near[x]} - {gx})
        move = self.best_swap(x, gx, near_groups)
        if move is None:
            return []
        touched = {self.where[m] for m, _ in move} | {to for _, to in move}
        for m, to in move:
            self.place(m, self.where[m], to)
        return sorted(touched)

    def best_swap(self, x: int, gx: int, near_groups: list[int]) -> _Move | None:
        """x and y change groups, or a fourth member moves to a trio of three."""
        best: tuple[float, _Move | None] = (-_EPS, None)
        for gy in near_groups:
            for y in self.members(gy):
                delta = self.move_delta(x, y)
                if delta is not None and delta < best[0]:
                    best = (delta, ((x, gy), (y, gx)))
            if min(gx, gy) >= 0 and len(self.groups[gx]) == 4 and len(self.groups[gy]) == 3:
                rest = [m for m in self.groups[gx] if m != x]
                if self.fits(x, self.groups[gy]):
                    delta = self.pull(x, self.groups[gy]) - self.pull(x, rest)
                    if delta < best[0]:
                        best = (delta, ((x, gy),))
        return best[1]

    def descend(self, start: Iterable[int]) -> None:
        queue = deque(start)
        queued = set(queue)
        while queue:
            x = queue.popleft()
            queued.discard(x)
            for gi in self.improve(x):
                for m in self.members(gi):
                    if m not in queued:
                        queued.add(m)
                        queue.append(m)
            if queued and time.monotonic() > self.deadline:
                return

    def anneal(self) -> None:
        """Simulated annealing on swaps: worse swaps are taken early on, to leave local optima."""
        placed = [x for g in self.groups for x in g]
        if len(self.groups) < 2:
            return
        steps = min(self.options.anneal_steps_per_school * self.n, self.options.max_anneal_steps)
        rng, near, where = self.rng, self.near, self.where
        # The hot loop of a city-region run: move_delta and place, inlined (both schools are
        # in groups here), which halves the time for 1,100 schools.
        d, la, banned, groups = self.d, self.la, self.banned, self.groups
        randrange, random_, exp = rng.randrange, rng.random, math.exp
        temperature = self.options.start_temperature
        cooling = (0.001) ** (1 / max(steps, 1))
        count = len(placed)
        for step in range(steps):
            temperature *= cooling
            x = placed[randrange(count)]
            near_x = near[x]
            y = near_x[randrange(len(near_x))]
            gx, gy = where[x], where[y]
            if gy < 0 or gy == gx:
                continue
            dx, dy, la_x, la_y, banned_x, banned_y = d[x], d[y], la[x], la[y], banned[x], banned[y]
            group_x, group_y = groups[gx], groups[gy]
            delta = 0.0
            allowed = True
            for m in group_x:
                if m != x:
                    if la[m] == la_y or m in banned_y:
                        allowed = False
                        break
                    delta += dy[m] - dx[m]
            if not allowed:
                continue
            for m in group_y:
                if m != y:
                    if la[m] == la_x or m in banned_x:
                        allowed = False
                        break
                    delta += dx[m] - dy[m]
            if not allowed:
                continue
            if delta < 0 or random_() < exp(-delta / temperature):
                group_x.remove(x)
                group_y.append(x)
                group_y.remove(y)
                group_x.append(y)
                where[x], where[y] = gy, gx
            if step % 4096 == 0 and time.monotonic() > self.deadline:
                return

    def regroup_neighbours(self) -> None:
        """Large-neighbourhood search: regroup three neighbouring groups in the best way."""
        if len(self.groups) < 3:
            return
        order = list(range(len(self.groups)))
        stall = 0
        for step in range(self.options.regroup_rounds * len(order)):
            if stall > self.options.patience * len(order) or time.monotonic() > self.deadline:
                return
            if step % len(order) == 0:
                self.rng.shuffle(order)
            g = order[step % len(order)]
            local = self.options.local
            around = {self.where[j] for m in self.groups[g] for j in self.near[m][:local]}
            near = sorted(around - {g, -1})
            if len(near) < 2:
                continue
            chosen = [g, *self.rng.sample(near, min(len(near), self.options.regroup - 1))]
            items = [m for gi in chosen for m in self.groups[gi]]
            before = sum(self.group_cost(self.groups[gi]) for gi in chosen)
            after, parts = self.best_partition(items, [len(self.groups[gi]) for gi in chosen])
            if after >= before - _EPS:
                stall += 1
                continue
            stall = 0
            for gi, part in zip(chosen, parts, strict=True):
                self.groups[gi] = part
                for m in part:
                    self.where[m] = gi
            self.descend(items)

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
                if cost + group_cost >= best[0] - _EPS:
                    break
                if mask & used or size not in sizes_left:
                    continue
                rest = sizes_left.copy()
                rest.remove(size)
                extend(used | mask, rest, [*masks, mask], cost + group_cost)

        extend(0, sizes, [], 0.0)
        parts = [[items[i] for i in range(k) if mask >> i & 1] for mask in best[1]]
        return best[0], parts

    # ---- reporting ---------------------------------------------------------------------

    def unplaced_reasons(self) -> list[Unplaced]:
        phase = self.schools[0].phase if self.schools else ""
        counts = Counter(self.schools[i].local_authority for i in range(self.n))
        result = []
        for x in self.spare:
            school = self.schools[x]
            if len(counts) < 3:
                reason = (
                    f"the {phase} schools come from {len(counts)} local authorit"
                    f"{'y' if len(counts) == 1 else 'ies'}; a trio needs three"
                )
            elif self.n - len(self.spare) == 0:
                reason = f"no three {phase} schools can form a trio under the rules"
            else:
                same_la = sum(1 for g in self.groups if any(self.la[m] == self.la[x] for m in g))
                paired = sum(1 for g in self.groups if any(m in self.banned[x] for m in g))
                full = sum(1 for g in self.groups if len(g) > 3)
                reason = (
                    f"{counts[school.local_authority]} of the {self.n} {phase} schools are in "
                    f"{school.local_authority}; of the {len(self.groups)} trios, {same_la} already "
                    f"have a school from there, {paired} have a school it was with before, "
                    f"{full} already have a fourth member"
                )
                if not self.options.allow_fourth_member:
                    reason = f"the {phase} schools do not divide into trios (fourth members off)"
            result.append(Unplaced(school.school_id, phase, reason))
        return result


def _max_trios(la_counts: list[int]) -> int:
    """Most trios with three different local authorities each: largest t, sum min(c, t) >= 3t."""
    total = sum(la_counts)
    t = total // 3
    while t > 0 and sum(min(c, t) for c in la_counts) < 3 * t:
        t -= 1
    return t
