"""Propose trios of schools: similar communities, same phase, three different local authorities.

Pure: no Telegram, no database. `propose_trios` takes schools and earlier trios and returns a
`Proposal`. Per phase it builds trios greedily (the least typical schools first, each with the
closest schools it may join), attaches any school left over as a fourth member where the rules
allow, then improves the grouping by local search (swapping two schools between groups, moving
a fourth member, and rotating three schools round three groups) with seeded random kicks; a
small phase is searched from a few seeds and the cheapest grouping kept.
Every move keeps the hard rules, so no proposal ever breaks them.

The parts: model.py (inputs, options, the answer, the cost), phase.py
(one phase's schools, distances and rules, and the exact regrouping of a few groups),
build.py (the first grouping), search.py (improving it); this module
runs them phase by phase and names and explains the result.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence

from bot.programme.trio_formation.model import (
    FourthMember,
    PreviousTrio,
    Proposal,
    School,
    SearchOptions,
    Trio,
    Unplaced,
    group_cost,
    previous_pairs,
    standardise,
)
from bot.programme.trio_formation.phase import PhaseSearch
from bot.programme.trio_formation.search import search_phase

__all__ = [
    "FourthMember",
    "PreviousTrio",
    "Proposal",
    "School",
    "SearchOptions",
    "Trio",
    "Unplaced",
    "group_cost",
    "previous_pairs",
    "propose_trios",
    "standardise",
]


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
        search = search_phase(members, z, banned, options, deadline)
        for group in search.groups:
            index = len(trios)
            chosen = [members[i] for i in group]
            trios.append((phase, chosen, group_cost([z[s.school_id] for s in chosen])))
            attached.extend((members[i], index) for i in group[3:])
        unplaced.extend(unplaced_reasons(search))
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


def unplaced_reasons(search: PhaseSearch) -> list[Unplaced]:
    """Why each school the search left over could not be placed, in the rules' terms."""
    phase = search.schools[0].phase if search.schools else ""
    counts = Counter(search.schools[i].local_authority for i in range(search.n))
    result = []
    for x in search.spare:
        school = search.schools[x]
        if len(counts) < 3:
            reason = (
                f"the {phase} schools come from {len(counts)} local authorit"
                f"{'y' if len(counts) == 1 else 'ies'}; a trio needs three"
            )
        elif search.n - len(search.spare) == 0:
            reason = f"no three {phase} schools can form a trio under the rules"
        else:
            same_la = sum(1 for g in search.groups if any(search.la[m] == search.la[x] for m in g))
            paired = sum(1 for g in search.groups if any(m in search.banned[x] for m in g))
            full = sum(1 for g in search.groups if len(g) > 3)
            reason = (
                f"{counts[school.local_authority]} of the {search.n} {phase} schools are in "
                f"{school.local_authority}; of the {len(search.groups)} trios, {same_la} already "
                f"have a school from there, {paired} have a school it was with before, "
                f"{full} already have a fourth member"
            )
            if not search.options.allow_fourth_member:
                reason = f"the {phase} schools do not divide into trios (fourth members off)"
        result.append(Unplaced(school.school_id, phase, reason))
    return result
