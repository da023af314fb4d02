"""A finished flow its author may no longer complete is refused kindly, in their language."""

from __future__ import annotations

from tests.harness import BotUnderTest, join


async def test_a_lead_who_lost_the_role_mid_flow_is_told_kindly_in_spanish(
    bot: BotUnderTest,
) -> None:
    alice = bot.person(801, "Alice", language="es")
    await join(alice, "DEMOALICE", consent="Sí", language="Español")
    await alice.says("/meeting")
    await alice.taps("Nueva reunión")
    await alice.says("1/12/2026")
    await alice.says("16:00")
    await alice.taps("Saltar")
    await alice.says("La retroalimentación")
    async with bot.db.transaction() as tx:  # meanwhile the coordinator made someone else lead
        await tx.execute(
            "DELETE FROM person_role WHERE role = 'trio_lead'"
            " AND person_id = (SELECT id FROM person WHERE telegram_id = 801)"
        )
    await alice.taps("Enviar las invitaciones")
    assert "ya no eres quien coordina este trío" in alice.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM meeting") == 0
    assert await bot.db.fetchval("SELECT status FROM flow_state WHERE flow = 'meeting_new'") == (
        "cancelled"
    )
    await alice.says("hola")  # and nothing is left open to answer
    assert "ya no eres" not in alice.last_text
