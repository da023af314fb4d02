"""Improving a phase's grouping by local search; every move keeps the hard rules.

Swaps of two schools between groups (and a fourth member moving to a trio of three), taken
greedily (`descend`) and, earlier, by simulated annealing with seeded random kicks; then
regrouping three neighbouring groups at a time in the best way (`best_partition`). A small
phase is searched so from several seeds, and the cheapest grouping kept (`search_phase`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import replace

from bot.programme.trio_formation.build import attach_spares, build, repair
from bot.programme.trio_formation.model import School, SearchOptions
from bot.programme.trio_formation.phase import EPS, PhaseSearch

_Move = tuple[tuple[int, int], ...]  # (school, group it moves to), applied in order


def search_phase(
    members: list[School],
    z: dict[str, tuple[float, float]],
    banned: set[frozenset[str]],
    options: SearchOptions,
    deadline: float,
) -> PhaseSearch:
    """The phase grouped: from several seeds when it is small, the cheapest kept (the first
    of equals, so the result depends on the seed given only)."""
    runs = options.restarts if len(members) <= options.restart_up_to else 1
    best: tuple[int, float, PhaseSearch] | None = None
    for run in range(max(runs, 1)):
        search = PhaseSearch(
            members, z, banned, replace(options, seed=options.seed + run), deadline
        )
        solve(search)
        cost = sum(search.group_cost(g) for g in search.groups)
        if best is None or (len(search.spare), cost) < (best[0], best[1] - EPS):
            best = (len(search.spare), cost, search)
    assert best is not None
    return best[2]


def solve(search: PhaseSearch) -> None:
    """Group the phase: build, attach fourth members, then improve until the budgets end."""
    repair(search, build(search))
    if search.options.allow_fourth_member:
        attach_spares(search)
    anneal(search)
    descend(search, range(search.n))
    regroup_neighbours(search)
    for g in search.groups:
        g.sort()
    search.spare.sort()


def improve(search: PhaseSearch, x: int) -> list[int]:
    """Apply the best improving move for x; return the groups it touched."""
    gx = search.where[x]
    near_groups = sorted({search.where[j] for j in search.near[x]} - {gx})
    move = best_swap(search, x, gx, near_groups)
    if move is None:
        return []
    touched = {search.where[m] for m, _ in move} | {to for _, to in move}
    for m, to in move:
        search.place(m, search.where[m], to)
    return sorted(touched)


def best_swap(search: PhaseSearch, x: int, gx: int, near_groups: list[int]) -> _Move | None:
    """x and y change groups, or a fourth member moves to a trio of three."""
    best: tuple[float, _Move | None] = (-EPS, None)
    for gy in near_groups:
        for y in search.members(gy):
            delta = search.move_delta(x, y)
            if delta is not None and delta < best[0]:
                best = (delta, ((x, gy), (y, gx)))
        if min(gx, gy) >= 0 and len(search.groups[gx]) == 4 and len(search.groups[gy]) == 3:
            rest = [m for m in search.groups[gx] if m != x]
            if search.fits(x, search.groups[gy]):
                delta = search.pull(x, search.groups[gy]) - search.pull(x, rest)
                if delta < best[0]:
                    best = (delta, ((x, gy),))
    return best[1]


def descend(search: PhaseSearch, start: Iterable[int]) -> None:
    queue = deque(start)
    queued = set(queue)
    while queue:
        x = queue.popleft()
        queued.discard(x)
        for gi in improve(search, x):
            for m in search.members(gi):
                if m not in queued:
                    queued.add(m)
                    queue.append(m)
        if queued and time.monotonic() > search.deadline:
            return


def anneal(search: PhaseSearch) -> None:
    """Simulated annealing on swaps: worse swaps are taken early on, to leave local optima."""
    placed = [x for g in search.groups for x in g]
    if len(search.groups) < 2:
        return
    steps = min(search.options.anneal_steps_per_school * search.n, search.options.max_anneal_steps)
    rng, near, where = search.rng, search.near, search.where
    # The hot loop of a city-region run: move_delta and place, inlined (both schools are
    # in groups here), which halves the time for 1,100 schools.
    d, la, banned, groups = search.d, search.la, search.banned, search.groups
    # randrange(n), inlined as the rejection sampling it is (draw n.bit_length() bits until
    # below n): the same numbers, so the same groupings, at a third of the loop's time.
    getrandbits, random_, exp = rng.getrandbits, rng.random, math.exp
    temperature = search.options.start_temperature
    cooling = (0.001) ** (1 / max(steps, 1))
    count = len(placed)
    count_bits = count.bit_length()
    for step in range(steps):
        temperature *= cooling
        r = getrandbits(count_bits)
        while r >= count:
            r = getrandbits(count_bits)
        x = placed[r]
        near_x = near[x]
        width = len(near_x)
        r = getrandbits(width.bit_length())
        while r >= width:
            r = getrandbits(width.bit_length())
        y = near_x[r]
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
        if step % 4096 == 0 and time.monotonic() > search.deadline:
            return


def regroup_neighbours(search: PhaseSearch) -> None:
    """Large-neighbourhood search: regroup three neighbouring groups in the best way."""
    if len(search.groups) < 3:
        return
    order = list(range(len(search.groups)))
    stall = 0
    for step in range(search.options.regroup_rounds * len(order)):
        if stall > search.options.patience * len(order) or time.monotonic() > search.deadline:
            return
        if step % len(order) == 0:
            search.rng.shuffle(order)
        g = order[step % len(order)]
        local = search.options.local
        around = {search.where[j] for m in search.groups[g] for j in search.near[m][:local]}
        near = sorted(around - {g, -1})
        if len(near) < 2:
            continue
        chosen = [g, *search.rng.sample(near, min(len(near), search.options.regroup - 1))]
        items = [m for gi in chosen for m in search.groups[gi]]
        before = sum(search.group_cost(search.groups[gi]) for gi in chosen)
        after, parts = search.best_partition(items, [len(search.groups[gi]) for gi in chosen])
        if after >= before - EPS:
            stall += 1
            continue
        stall = 0
        for gi, part in zip(chosen, parts, strict=True):
            search.groups[gi] = part
            for m in part:
                search.where[m] = gi
        descend(search, items)
