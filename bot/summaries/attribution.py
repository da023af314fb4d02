"""Which school each part of a summary belongs to (README, "Attribution").

Digests and exports attribute a summary's rows by these schools and their local authorities,
not by the writer's: a practice Castle shared is Castle's even when the lead at another school
typed it.

- a school's shared practice: the school it was asked for (one question per school);
- a barrier: the school chosen in the summary flow, the writer's school first among the
  buttons; a trio with one school is not asked;
- an action: its owner's school; an action for the whole trio, the writer's;
- evidence, questions for the researchers, anything else: the writer's school.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def barrier_default(writer_school: int | None, trio_schools: Sequence[int]) -> int | None:
    """The school a barrier belongs to when nobody chose one: the writer's when it is one of
    the trio's, else the trio's first (its only one, in a one-school trio)."""
    if writer_school in trio_schools or not trio_schools:
        return writer_school
    return trio_schools[0]


def barrier_school(
    chosen: object, writer_school: int | None, trio_schools: Sequence[int]
) -> int | None:
    """The school a barrier was given in the flow (a school id as text), or the default when
    the question was not asked or its answer names no school of the trio."""
    if isinstance(chosen, str | int) and str(chosen).isdigit() and int(chosen) in trio_schools:
        return int(chosen)
    return barrier_default(writer_school, trio_schools)


def action_school(
    owner_id: int | None, writer_id: int | None, schools_of: Mapping[int, int | None]
) -> int | None:
    """An action's school: its owner's; for the whole trio (or an owner with no school),
    the writer's."""
    owner_school = schools_of.get(owner_id) if owner_id is not None else None
    if owner_school is not None:
        return owner_school
    return schools_of.get(writer_id) if writer_id is not None else None
