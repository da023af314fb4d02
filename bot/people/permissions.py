"""Who may do what: one table of role × action, and one function every entry point asks.

Handlers and command-line commands call `allowed` before acting; button data never decides
anything on its own. A refusal is answered with the `permissions/refused` template.

Cells:
    ALL  — anywhere in the programme (for trio-scoped actions: any trio)
    OWN  — only for a trio the person belongs to; a `trio_lead` cell counts only for a trio
           they lead (being a lead of one trio gives no lead rights in another)
    NO   — never

To check a person before acting, call `may(q, person_id, "meeting.schedule", trio_id)`: it
reads their grants afresh (in the caller's transaction, when `q` is one) and asks `allowed`.
When it is False, reply with `refusal(...)`. A new action is a new row in `MATRIX`; the
parametrised test in tests/test_permissions.py then demands an expectation for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Literal

from storage.db import Reader
from storage.people import ROLES, Grants, PeopleRepo, Role
from storage.programme import Membership


class Cell(Enum):
    NO = "no"
    OWN = "own trio"
    ALL = "all"


NO, OWN, ALL = Cell.NO, Cell.OWN, Cell.ALL

Action = Literal[
    "join",
    "roster.import",
    "trios.propose",
    "settings",
    "privacy",
    "invite.create",
    "invite.create_for_own_trio",
    "meeting.view",
    "meeting.schedule",
    "summary.run",
    "summary.approve",
    "reflect",
    "lesson_study.run",
    "digest.researcher",
    "digest.shared",
    "status.programme",
    "status.trio",
    "person.erase",
    "export.all",
    "questions.answer",
    "questions.comment",
    "questions.discuss",
    "questions.view_answers",
]

# fmt: off
#                                      teacher  trio_lead  researcher  coordinator
MATRIX: dict[Action, tuple[Cell, Cell, Cell, Cell]] = {
    "join":                            (ALL,    ALL,       ALL,        ALL),
    "roster.import":                   (NO,     NO,        NO,         ALL),
    "trios.propose":                   (NO,     NO,        NO,         ALL),
    "settings":                        (ALL,    ALL,       ALL,        ALL),
    "privacy":                         (ALL,    ALL,       ALL,        ALL),
    "invite.create":                   (NO,     NO,        NO,         ALL),
    # A lead invites teachers into a trio they lead; a coordinator into any trio.
    "invite.create_for_own_trio":      (NO,     OWN,       NO,         ALL),
    # Seeing a trio's meetings is a member's; convening them the lead's.
    "meeting.view":                    (OWN,    OWN,       NO,         NO),
    "meeting.schedule":                (NO,     OWN,       NO,         NO),
    # The lead runs the summary (naming a member to run it is the summary work's own check).
    "summary.run":                     (NO,     OWN,       NO,         NO),
    "summary.approve":                 (OWN,    OWN,       NO,         NO),
    # Reflections are on one's own teaching: researchers and coordinators teach no trio.
    "reflect":                         (ALL,    ALL,       NO,         NO),
    "lesson_study.run":                (OWN,    OWN,       NO,         NO),
    "digest.researcher":               (NO,     NO,        ALL,        ALL),
    "digest.shared":                   (ALL,    ALL,       ALL,        ALL),
    "status.programme":                (NO,     NO,        NO,         ALL),
    "status.trio":                     (NO,     OWN,       NO,         ALL),
    # Erasing someone else; everyone may erase themselves through /privacy.
    "person.erase":                    (NO,     NO,        NO,         ALL),
    "export.all":                      (NO,     NO,        ALL,        ALL),
    # The partnership loop: the university team answer the trios' questions and comment on
    # their agreed work as critical friends; the trios themselves do neither.
    "questions.answer":                (NO,     NO,        ALL,        ALL),
    "questions.comment":               (NO,     NO,        ALL,        ALL),
    # The partnership loop: a trio marks its own researchers' replies discussed, and only its
    # members (and the research side) see them.
    "questions.discuss":               (OWN,    OWN,       NO,         NO),
    "questions.view_answers":          (OWN,    OWN,       ALL,        ALL),
}
# fmt: on

ACTIONS: tuple[Action, ...] = tuple(MATRIX)

# Each command, in the menu's order, and the action that makes it of use to someone: /help,
# the welcome and the person's command menu list only the commands they may use, so nothing
# listed is refused. A command's handler checks the same action (or a stricter one inside it,
# like "summary.run" to write a summary rather than see where it stands). Where the third
# action is not theirs, the command is described by its `cmd_<name>_member` label (a teacher's
# /meeting lists the trio's meetings; only the lead's schedules them).
COMMANDS: tuple[tuple[str, Action, Action | None], ...] = (
    ("start", "join", None),
    ("help", "join", None),
    ("meeting", "meeting.view", "meeting.schedule"),
    ("summary", "summary.approve", "summary.run"),
    ("reflect", "reflect", None),
    ("digest", "digest.shared", None),
    ("lessonstudy", "lesson_study.run", None),
    ("status", "status.trio", None),
    ("invite", "invite.create_for_own_trio", None),
    ("questions", "questions.answer", None),
    ("comment", "questions.comment", None),
    ("settings", "settings", None),
    ("privacy", "privacy", None),
    ("cancel", "join", None),
)
# Whoever runs the `triobot` command line has the machine, hence the coordinator's rights.
CLI_ROLES: frozenset[Role] = frozenset({"coordinator"})


def cell(role: Role, action: Action) -> Cell:
    return MATRIX[action][ROLES.index(role)]


def allowed(
    roles: Iterable[Role],
    action: Action,
    *,
    trio_id: int | None = None,
    memberships: Iterable[Membership] | Mapping[int, bool] = (),
) -> bool:
    """May someone with `roles` do `action` (to trio `trio_id`, for trio-scoped actions)?

    `memberships` are the person's trios, as `Membership`s or {trio_id: is_lead}. A
    trio-scoped action asked without a `trio_id` means "in some trio of theirs": it is allowed
    when it would be allowed for at least one of them (used to decide whether to offer it).
    """
    if action not in MATRIX:
        return False
    leads: dict[int, bool] = (
        dict(memberships)
        if isinstance(memberships, Mapping)
        else {m.trio.id: m.is_lead for m in memberships}
    )
    for role in set(roles):
        if role not in ROLES:
            continue
        rule = cell(role, action)
        if rule is ALL:
            return True
        if rule is OWN and _in_own_trio(role, trio_id, leads):
            return True
    return False


def permits(grants: Grants, action: Action, trio_id: int | None = None) -> bool:
    """`allowed`, for the grants `PeopleRepo.grants` read."""
    return allowed(grants.roles, action, trio_id=trio_id, memberships=grants.trios)


async def may(q: Reader, person_id: int, action: Action, trio_id: int | None = None) -> bool:
    """The permission table's answer for this person, from their grants read now (in the
    caller's transaction when `q` is one: roles and trios may have changed meanwhile)."""
    return permits(await PeopleRepo.grants(q, person_id), action, trio_id)


def _in_own_trio(role: Role, trio_id: int | None, leads: Mapping[int, bool]) -> bool:
    candidates = leads.items() if trio_id is None else [(trio_id, leads.get(trio_id))]
    for _, is_lead in candidates:
        if is_lead is None:
            continue  # not a member of that trio
        if role == "trio_lead" and not is_lead:
            continue
        return True
    return False


def commands(grants: Grants) -> dict[str, str]:
    """The commands this person may use (in some trio of theirs, for trio-scoped ones), in
    the menu's order, each with the key of the label that describes it for them."""
    return {
        name: f"cmd_{name}" if fuller is None or permits(grants, fuller) else f"cmd_{name}_member"
        for name, action, fuller in COMMANDS
        if permits(grants, action)
    }


def refusal(action: Action) -> tuple[str, dict[str, object]]:
    """The template and values for a kind refusal of `action`."""
    return "permissions/refused", {"action": action}
