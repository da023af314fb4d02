"""Who may do what: the whole role × action table, and people trying what is not theirs.

The expectations below are the programme's decisions written out again, on purpose: a change
to bot/people/permissions.py MATRIX must be made here too, and a new action fails until it is.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.people.permissions import ACTIONS, CLI_ROLES, MATRIX, Action, allowed, may, permits
from bot.programme.roster import RosterImport
from storage.db import Database
from storage.people import ROLES, Grants, PeopleRepo, Role
from storage.programme import ProgrammeRepo
from tests.dbscan import snapshot
from tests.harness import BotUnderTest, join

# teacher, trio_lead, researcher, coordinator: "all", "own" (a trio of theirs; for the
# trio_lead role, a trio they lead) or "" (never).
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "join": ("all", "all", "all", "all"),
    "roster.import": ("", "", "", "all"),
    "trios.propose": ("", "", "", "all"),
    "settings": ("all", "all", "all", "all"),
    "privacy": ("all", "all", "all", "all"),
    "invite.create": ("", "", "", "all"),
    "invite.create_for_own_trio": ("", "own", "", "all"),
    "meeting.view": ("own", "own", "", ""),
    "meeting.schedule": ("", "own", "", ""),
    "summary.run": ("", "own", "", ""),
    "summary.approve": ("own", "own", "", ""),
    "reflect": ("all", "all", "", ""),
    "lesson_study.run": ("own", "own", "", ""),
    "digest.researcher": ("", "", "all", "all"),
    "digest.shared": ("all", "all", "all", "all"),
    "status.programme": ("", "", "", "all"),
    "status.trio": ("", "own", "", "all"),
    "person.erase": ("", "", "", "all"),
    "export.all": ("", "", "all", "all"),
    "questions.answer": ("", "", "all", "all"),
    "questions.comment": ("", "", "all", "all"),
    "questions.discuss": ("own", "own", "", ""),
    "questions.view_answers": ("own", "own", "all", "all"),
}

OWN, LED, OTHER = 10, 11, 20  # trio ids: a member of 10, the lead of 11, not in 20
MEMBERSHIPS = {OWN: False, LED: True}
SCOPES = {
    "own trio (member)": OWN,
    "own trio (lead)": LED,
    "other trio": OTHER,
}


def test_every_action_has_an_expectation() -> None:
    assert set(EXPECTED) == set(MATRIX) == set(ACTIONS)


def _expected(role: Role, action: str, trio_id: int) -> bool:
    cell = EXPECTED[action][ROLES.index(role)]
    if cell == "all":
        return True
    if cell == "own":
        if trio_id not in MEMBERSHIPS:
            return False
        return MEMBERSHIPS[trio_id] if role == "trio_lead" else True
    return False


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_matrix(action: Action, role: Role, scope: str) -> None:
    trio_id = SCOPES[scope]
    got = allowed([role], action, trio_id=trio_id, memberships=MEMBERSHIPS)
    assert got is _expected(role, action, trio_id), (action, role, scope)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_without_a_trio_named_it_asks_whether_some_trio_of_theirs_allows_it(
    action: Action, role: Role
) -> None:
    cell = EXPECTED[action][ROLES.index(role)]
    # Offered to someone in trios; never to someone in none, unless allowed everywhere.
    assert allowed([role], action, memberships=MEMBERSHIPS) is (cell != "")
    assert allowed([role], action, memberships={}) is (cell == "all")


def test_roles_combine_and_nonsense_is_refused() -> None:
    # A lead is also a teacher: a trio they only belong to allows what teachers may do there.
    assert allowed(
        ["trio_lead", "teacher"], "summary.approve", trio_id=OWN, memberships=MEMBERSHIPS
    )
    assert not allowed(
        ["trio_lead", "teacher"], "summary.run", trio_id=OWN, memberships=MEMBERSHIPS
    )
    assert not allowed(["janitor"], "settings")  # type: ignore[list-item]
    assert not allowed(["coordinator"], "launch.rockets")  # type: ignore[arg-type]
    assert not allowed([], "settings")


async def test_grants_are_read_afresh_and_may_answers_from_them(db: Database) -> None:
    """One read of a person's roles and trios, and the one check built on it: a lead may
    schedule in the trio they lead, not in one they only belong to, and loses it at once
    when the lead passes (inside the caller's transaction too)."""
    async with db.transaction() as tx:
        led = await ProgrammeRepo.upsert_trio(tx, ref="T1", kind="schools", name="One")
        joined = await ProgrammeRepo.upsert_trio(tx, ref="T2", kind="schools", name="Two")
        lead = await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="trio_lead")
        await PeopleRepo.add_role(tx, lead, "teacher")
        await ProgrammeRepo.add_member(tx, led, lead, lead=True)
        await ProgrammeRepo.add_member(tx, joined, lead, lead=False)
    grants = await PeopleRepo.grants(db, lead)
    assert grants == Grants(frozenset({"trio_lead", "teacher"}), {led: True, joined: False})
    assert permits(grants, "meeting.schedule", led)
    assert not permits(grants, "meeting.schedule", joined)
    assert permits(grants, "summary.approve", joined)
    assert await may(db, lead, "meeting.schedule", led)
    async with db.transaction() as tx:
        await tx.execute("UPDATE trio_member SET is_lead = 0 WHERE person_id = ?", (lead,))
        assert not await may(tx, lead, "meeting.schedule", led)
    assert not await may(db, lead + 1, "settings")  # nobody: no roles, no rights


def test_the_command_line_holds_the_coordinators_rights() -> None:
    for action in ("roster.import", "trios.propose", "invite.create", "person.erase"):
        assert allowed(CLI_ROLES, action)  # type: ignore[arg-type]


# --- through the bot ---------------------------------------------------------------------
OTHER_TRIO = (
    b"school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment\n"
    b"X1,Xylo Primary,Bolton,primary,200,30,100\n"
    b"X2,Yarrow Primary,Bury,primary,200,31,100\n"
    b"X3,Zinnia Primary,Salford,primary,200,32,100\n",
    b"trio_id,kind,school_id\nT2,schools,X1\nT2,schools,X2\nT2,schools,X3\n",
    b"person_ref,name,school_id,role,trio_id\nx-xena,Xena Other,X1,trio_lead,T2\n",
)


async def _other_trio(bot: BotUnderTest) -> None:
    for content in OTHER_TRIO:
        report = await RosterImport(bot.db).run(content)
        assert report.imported, report.errors


async def _untouched(bot: BotUnderTest) -> dict[str, Any]:
    state = snapshot(bot.settings.db_path)
    return {table: state[table] for table in ("invite", "trio_member", "person_role", "trio")}


async def test_a_teacher_is_refused_coordinator_commands_kindly(bot: BotUnderTest) -> None:
    bruno = bot.person(801, "Bruno")
    await join(bruno, "DEMOBRUNO")
    before = await _untouched(bot)
    await bruno.says("/invite")
    assert "invites are made by programme coordinators" in bruno.last_text
    await bruno.says("/status")
    assert "/status is for programme coordinators" in bruno.last_text
    assert await _untouched(bot) == before
    open_flows = await bot.db.fetchval("SELECT COUNT(*) FROM flow_state WHERE status = 'open'")
    assert open_flows == 0


async def test_someone_elses_forged_or_replayed_buttons_change_nothing(bot: BotUnderTest) -> None:
    eve = bot.person(802, "Eve")
    await join(eve, "DEMOEVE")
    await eve.says("/invite")
    role_question = eve.last
    assert role_question is not None and "Who is it for?" in role_question.plain_text
    coordinator_button = next(
        data for row in role_question.buttons for label, data in row if "coordinator" in label
    )
    bruno = bot.person(803, "Bruno")
    await join(bruno, "DEMOBRUNO")
    before = snapshot(bot.settings.db_path)

    # Eve's button, sent from Bruno's chat: not his conversation.
    await bruno.taps_data(coordinator_button, message_id=role_question.message_id)
    assert "someone else's conversation" in (bruno.last_answer or {}).get("text", "")
    # Eve's button with the choice altered: the signature no longer holds.
    payload, _, mac = coordinator_button.rpartition("~")
    altered = payload.rsplit(":", 1)[0] + ":o0~" + mac
    await bruno.taps_data(altered, message_id=role_question.message_id)
    assert "isn't one I made" in (bruno.last_answer or {}).get("text", "")
    assert snapshot(bot.settings.db_path) == before

    # Eve answers, then her first keyboard is replayed: stale, nothing moves.
    await eve.taps("teacher")
    after_answer = snapshot(bot.settings.db_path)
    await eve.taps_data(coordinator_button, message_id=role_question.message_id)
    assert "earlier question" in (eve.last_answer or {}).get("text", "")
    assert snapshot(bot.settings.db_path) == after_answer
    assert "Which trio" in eve.last_text


async def test_a_lead_cannot_invite_into_another_trio_or_see_it(bot: BotUnderTest) -> None:
    await _other_trio(bot)
    alice = bot.person(804, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/invite")
    trio_question = alice.last
    assert trio_question is not None and "Which trio will they join?" in trio_question.plain_text
    labels = [label for row in trio_question.buttons for label, _ in row]
    assert "Oldham–Stockport–Wigan trio" in labels
    assert not any("T2" in label or "No trio" in label for label in labels)
    before = await _untouched(bot)

    # Typing the other trio's reference (data the buttons do not offer).
    replies = await alice.says("T2")
    assert "only into a trio you lead" in replies[0].plain_text
    assert "Which trio will they join?" in alice.last_text  # asked again
    # A school of the other trio inside her own.
    await alice.says("DEMO-T1")
    replies = await alice.says("X1")
    assert "isn’t one of this trio’s schools" in replies[0].plain_text
    assert await _untouched(bot) == before

    await alice.taps("Southgate Primary")
    await alice.taps("1")
    assert "Invite ready" in alice.last_text
    made = await bot.db.fetchone(
        "SELECT i.role, t.ref AS trio, s.ref AS school, i.max_uses, p.telegram_id"
        " FROM invite i JOIN trio t ON t.id = i.trio_id JOIN school s ON s.id = i.school_id"
        " JOIN person p ON p.id = i.created_by WHERE i.created_by IS NOT NULL"
    )
    assert made is not None
    assert tuple(made) == ("teacher", "DEMO-T1", "DEMO-S", 1, 804)

    # Her /status shows her trio, nothing of the other one.
    await alice.says("/status")
    assert "Oldham–Stockport–Wigan trio" in alice.last_text
    assert "Xena" not in alice.last_text and "T2" not in alice.last_text


async def test_a_teacher_cannot_reach_another_trio_through_typed_references(
    bot: BotUnderTest,
) -> None:
    await _other_trio(bot)
    bruno = bot.person(805, "Bruno")
    await join(bruno, "DEMOBRUNO")
    before = await _untouched(bot)
    for command in ("/invite T2", "/status T2", "/start x-xena"):
        await bruno.says(command)
        assert "Xena" not in bruno.last_text
    assert await _untouched(bot) == before
