"""Building the first grouping of a phase: greedy trios, repaired, then fourth members."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

from bot.programme.trio_formation.phase import LOCAL, PhaseSearch, max_trios


def build(search: PhaseSearch) -> int:
    """Trios, least typical school first, while the local authorities can still fill them.

    Returns how many trios the local authorities allow (the greedy may fall short).
    """
    counts = Counter(search.la)
    target = max_trios(list(counts.values()))
    centre = (
        sum(search.z[s.school_id][0] for s in search.schools) / max(search.n, 1),
        sum(search.z[s.school_id][1] for s in search.schools) / max(search.n, 1),
    )
    order = sorted(
        range(search.n), key=lambda i: -math.dist(search.z[search.schools[i].school_id], centre)
    )
    free = set(range(search.n))
    for x in order:
        if x not in free or len(search.groups) >= target:
            continue
        best: tuple[float, int, int] | None = None
        candidates = [
            j for j in sorted(free, key=search.d[x].__getitem__) if j != x and search.fits(j, [x])
        ]
        for a_pos, a in enumerate(candidates):
            if best is not None and 2 * search.d[x][a] >= best[0]:
                break
            for b in candidates[a_pos + 1 :]:
                if best is not None and 2 * search.d[x][b] >= best[0]:
                    break
                if not search.fits(b, [a]):
                    continue
                trio_cost = search.d[x][a] + search.d[x][b] + search.d[a][b]
                if best is not None and trio_cost >= best[0]:
                    continue
                left = counts.copy()
                for m in (x, a, b):
                    left[search.la[m]] -= 1
                if max_trios(list(left.values())) >= target - len(search.groups) - 1:
                    best = (trio_cost, a, b)
        if best is None:
            continue
        group = [x, best[1], best[2]]
        for m in group:
            free.discard(m)
            counts[search.la[m]] -= 1
            search.where[m] = len(search.groups)
        search.groups.append(group)
    search.spare = sorted(free)
    return target


def repair(search: PhaseSearch, target: int) -> None:
    """Form the trios the greedy missed: three spares regrouped with two nearby trios."""
    stuck: set[int] = set()
    while len(search.groups) < target and len(search.spare) - len(stuck) >= 3:
        x = min(set(search.spare) - stuck)
        mates = sorted((m for m in search.spare if m != x), key=search.d[x].__getitem__)[:2]
        seeds = [x, *mates]
        around = sorted(range(search.n), key=lambda j: min(search.d[m][j] for m in seeds))
        near = list(dict.fromkeys(search.where[j] for j in around if search.where[j] >= 0))
        best: tuple[float, list[int], list[list[int]]] = (math.inf, [], [])
        for pair in combinations(near[:LOCAL], 2):
            items = seeds + [m for gi in pair for m in search.groups[gi]]
            sizes = [3] + [len(search.groups[gi]) for gi in pair]
            cost, parts = search.best_partition(items, sizes)
            if cost < best[0]:
                best = (cost, list(pair), parts)
        if not best[1]:
            stuck.add(x)
            continue
        for m in seeds:
            search.spare.remove(m)
        search.groups.append([])
        for gi, part in zip([*best[1], len(search.groups) - 1], best[2], strict=True):
            search.groups[gi] = part
            for m in part:
                search.where[m] = gi


def attach_spares(search: PhaseSearch) -> None:
    """Each school left over joins, as a fourth member, the trio it is closest to."""
    for x in sorted(search.spare, key=lambda i: search.schools[i].school_id):
        options = [
            (search.pull(x, g), gi)
            for gi, g in enumerate(search.groups)
            if len(g) == 3 and search.fits(x, g)
        ]
        if options:
            _, gi = min(options)
            search.groups[gi].append(x)
            search.where[x] = gi
            search.spare.remove(x)
