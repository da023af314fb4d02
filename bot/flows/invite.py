"""/invite: a coordinator invites anyone; a trio lead invites teachers into a trio they lead.

Two flows share their steps: `invite` (role → trio → school → uses) for coordinators and
`invite_teacher` (trio → school → uses) for leads. The code is drawn when the flow starts
(kept in its context) and created when the last answer is stored. Every reference typed or
tapped is checked again in the database, with the permission table, before it is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.flows.answers import JSON, Accepted, OneOf, Option, Parsed, Rejected, View
from bot.flows.model import Flow, Step, StepContext
from bot.people.permissions import Action, may
from bot.texts import Label
from storage.db import Transaction
from storage.invites import InviteRepo
from storage.people import ROLES, Role
from storage.programme import ProgrammeRepo
from storage.trio_membership import trio_by_ref

NO_TRIO = "-"
INVITE_LIFETIME = timedelta(days=14)
MAX_USES = 500
USES = ("1", "3", "10", "30")

ROLE_OPTIONS = tuple(Option(role, Label("role", {"name": role})) for role in ROLES)


def parse_ref(text: str) -> Parsed:
    """A roster reference as typed: one word; whether it exists is the database's to say."""
    ref = text.strip()
    if not ref or len(ref) > 64 or any(ch.isspace() for ch in ref) or ref.startswith("/"):
        return Rejected("unknown_ref", {"given": ref[:64]})
    return Accepted(ref)


def parse_uses(text: str) -> Parsed:
    try:
        uses = int(text.strip())
    except ValueError:
        return Rejected("number_format")
    if not 1 <= uses <= MAX_USES:
        return Rejected("number_range", {"min": 1, "max": MAX_USES})
    return Accepted(str(uses))


def trio_options(view: View) -> Sequence[Option]:
    offered = [Option(ref, Label(text=name)) for ref, name in view.context.get("trios", [])]
    if not view.context.get("lead_only"):
        offered.append(Option(NO_TRIO, Label("no_trio")))
    return offered


def school_options(view: View) -> Sequence[Option]:
    schools = view.context.get("trio_schools", {}).get(str(view.answers.get("trio")), [])
    return [Option(ref, Label(text=name)) for ref, name in schools]


def _action(ctx: StepContext) -> Action:
    return "invite.create_for_own_trio" if ctx.context.get("lead_only") else "invite.create"


async def _check_trio(tx: Transaction, ctx: StepContext, value: JSON) -> Rejected | None:
    if value == NO_TRIO and not ctx.context.get("lead_only"):
        return None
    trio = await trio_by_ref(tx, str(value))
    if trio is None:
        return Rejected("unknown_ref", {"given": str(value)})
    if not await may(tx, ctx.person_id, "invite.create_for_own_trio", trio.id):
        return Rejected("not_your_trio")
    return None


async def _check_school(tx: Transaction, ctx: StepContext, value: JSON) -> Rejected | None:
    if value is None:
        return None
    school_id = await ProgrammeRepo.school_id(tx, str(value))
    if school_id is None:
        return Rejected("unknown_ref", {"given": str(value)})
    trio_ref = ctx.answers.get("trio")
    trio = await trio_by_ref(tx, str(trio_ref)) if trio_ref and trio_ref != NO_TRIO else None
    if trio is not None and trio.school_ids and school_id not in trio.school_ids:
        return Rejected("school_not_in_trio")
    return None


async def _create(tx: Transaction, ctx: StepContext) -> Rejected | None:
    trio_ref, school_ref = ctx.answers.get("trio"), ctx.answers.get("school")
    trio = await trio_by_ref(tx, str(trio_ref)) if trio_ref and trio_ref != NO_TRIO else None
    trio_id = None if trio is None else trio.id
    # Checked once more as the invite is made: roles may have changed while the flow was open.
    if not await may(tx, ctx.person_id, _action(ctx), trio_id):
        return Rejected("invite_not_allowed")
    school_id = await ProgrammeRepo.school_id(tx, str(school_ref)) if school_ref else None
    role: Role = "teacher" if ctx.context.get("lead_only") else ctx.answers["role"]
    await InviteRepo.create(
        tx,
        role=role,
        school_id=school_id,
        trio_id=trio_id,
        max_uses=int(ctx.answers["uses"]),
        expires_at=tx.clock() + INVITE_LIFETIME,
        code=str(ctx.context["code"]),
        created_by=ctx.person_id,
    )
    return None


def _after_role(view: View) -> str:
    return "trio" if view.answers.get("role") in ("teacher", "trio_lead") else "uses"


def _done(view: View) -> dict[str, JSON]:
    code = str(view.context["code"])
    return {"code": code, "link": f"{view.context['link_base']}{code}"}


TRIO = Step("trio", "invite/trio", OneOf(trio_options, typed=parse_ref), apply=_check_trio)
SCHOOL = Step(
    "school",
    "invite/school",
    OneOf(school_options, typed=parse_ref),
    optional=True,
    apply=_check_school,
)
USES_STEP = Step(
    "uses",
    "invite/uses",
    OneOf(tuple(Option(n, Label(text=n)) for n in USES), typed=parse_uses),
)


def invite_flows() -> tuple[Flow, Flow]:
    coordinator = Flow(
        name="invite",
        command="/invite",
        done_template="invite/created",
        done_context=_done,
        complete=_create,
        steps=(
            Step("role", "invite/role", OneOf(ROLE_OPTIONS), next=_after_role),
            TRIO,
            SCHOOL,
            USES_STEP,
        ),
    )
    lead = Flow(
        name="invite_teacher",
        command="/invite",
        done_template="invite/created",
        done_context=_done,
        complete=_create,
        steps=(TRIO, SCHOOL, USES_STEP),
    )
    return coordinator, lead
