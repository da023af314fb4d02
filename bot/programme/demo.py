"""A small demo programme for the console: three schools in three local authorities, a trio."""

from __future__ import annotations

from dataclasses import dataclass

from storage import meta
from storage.db import Database
from storage.invites import InviteRepo
from storage.people import Role
from storage.programme import ProgrammeRepo

SCHOOLS = (
    ("DEMO-N", "Northfield Primary", "Oldham", "primary", 310, 41.0, 98.5),
    ("DEMO-S", "Southgate Primary", "Stockport", "primary", 280, 38.5, 99.2),
    ("DEMO-W", "Westbrook Primary", "Wigan", "primary", 350, 44.0, 97.8),
)
# Who the console lets you be, and the invite each one uses.
CAST: tuple[tuple[str, Role, str | None], ...] = (
    ("Alice", "trio_lead", "DEMO-N"),
    ("Bruno", "teacher", "DEMO-S"),
    ("Carmen", "teacher", "DEMO-W"),
    ("Dana", "researcher", None),
    ("Eve", "coordinator", None),
)


@dataclass(frozen=True, slots=True)
class DemoInvite:
    name: str
    role: Role
    code: str


async def seed_demo(db: Database) -> list[DemoInvite]:
    """Create the demo programme once; later calls return the invites not yet used."""
    async with db.transaction() as tx:
        seeded = await meta.value(tx, "demo_seeded")
        if seeded is None:
            school_ids = {}
            for ref, name, la, phase, pupils, fsm, prior in SCHOOLS:
                school_ids[ref] = await ProgrammeRepo.upsert_school(
                    tx,
                    ref=ref,
                    name=name,
                    local_authority=la,
                    phase=phase,
                    pupils=pupils,
                    fsm_pct=fsm,
                    prior_attainment=prior,
                )
            trio_id = await ProgrammeRepo.upsert_trio(
                tx, ref="DEMO-T1", kind="schools", name="Oldham–Stockport–Wigan trio"
            )
            for school_id in school_ids.values():
                await ProgrammeRepo.add_trio_school(tx, trio_id, school_id)
            for name, role, school in CAST:
                in_trio = role in ("teacher", "trio_lead")
                await InviteRepo.create(
                    tx,
                    role=role,
                    school_id=school_ids[school] if school else None,
                    trio_id=trio_id if in_trio else None,
                    code=f"DEMO{name.upper()}",
                )
            await meta.keep(tx, "demo_seeded", "1")
        left = await InviteRepo.with_uses_left(tx, "DEMO")
    names = {f"DEMO{name.upper()}": name for name, _, _ in CAST}
    return [DemoInvite(names.get(i.code, i.code), i.role, i.code) for i in left]


DEMO_CODES = tuple(f"DEMO{name.upper()}" for name, _, _ in CAST)


async def withdraw_demo_invites(db: Database) -> int:
    """Revoke the demo's invites (their codes are printed in the README, and one makes a
    coordinator); how many were still open. Done before the bot meets real Telegram."""
    async with db.transaction() as tx:
        withdrawn = 0
        for code in DEMO_CODES:
            withdrawn += int(await InviteRepo.revoke(tx, code))
    return withdrawn
