"""Nothing a stranger could guess: invite codes, the digest's pseudonymous ids, the key that
signs buttons; and the demo's published invite codes never open the bot on real Telegram."""

from __future__ import annotations

import math
import re
import secrets
from pathlib import Path

import pytest

from bot.app.runner import close_demo_door
from bot.buttons import _MAC_CHARS, ButtonSigner
from bot.digest.exports import pseudonym
from bot.programme.demo import DEMO_CODES, seed_demo
from bot.telegram.context import button_key
from storage import invites
from storage.db import Database
from storage.digests import pseudonym_key
from tests.harness import BotUnderTest, settings_for


def test_invite_codes_carry_60_bits_from_the_system_random_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alphabet = invites._ALPHABET
    assert len(set(alphabet)) == len(alphabet) == 32
    assert not set("01IO") & set(alphabet)  # nothing to misread when typed from paper
    assert invites.CODE_LENGTH * math.log2(len(alphabet)) >= 60
    calls = []
    system_choice = secrets.choice

    def choice(seq: str) -> str:
        calls.append(seq)
        return system_choice(seq)

    monkeypatch.setattr(invites.secrets, "choice", choice)
    code = invites.new_code()
    assert len(calls) == invites.CODE_LENGTH and re.fullmatch(f"[{alphabet}]{{12}}", code)
    codes = {invites.new_code() for _ in range(5000)}
    assert len(codes) == 5000
    counts = {c: sum(code.count(c) for code in codes) for c in alphabet}
    expected = 5000 * invites.CODE_LENGTH / len(alphabet)
    assert all(abs(n - expected) < 0.15 * expected for n in counts.values())


async def test_an_invite_made_without_a_code_gets_a_random_one(db: Database) -> None:
    async with db.transaction() as tx:
        made = {await invites.InviteRepo.create(tx, role="teacher") for _ in range(20)}
    assert len(made) == 20
    assert all(re.fullmatch(f"[{invites._ALPHABET}]{{12}}", c) for c in made)


async def test_pseudonymous_ids_are_keyed_long_enough_and_do_not_collide(
    tmp_path: Path,
) -> None:
    keys = []
    for name in ("a.db", "b.db"):
        db = await Database.open(tmp_path / name)
        try:
            async with db.transaction() as tx:
                first = await pseudonym_key(tx)
            async with db.transaction() as tx:
                assert await pseudonym_key(tx) == first  # stable across weeks
            keys.append(first)
        finally:
            await db.close()
    assert all(len(k) == 32 for k in keys) and keys[0] != keys[1]
    ids = [pseudonym(keys[0], person_id) for person_id in range(1, 10_001)]
    assert len(set(ids)) == 10_000
    assert all(re.fullmatch(r"P-[0-9a-f]{12}", i) for i in ids)
    # 48 bits: the chance that any two of 10,000 people share an id is about n²/2⁴⁹.
    assert 10_000**2 / 2**49 < 1e-6
    # Without the key the ids say nothing: another key gives unrelated ids.
    assert not set(ids) & {pseudonym(keys[1], person_id) for person_id in range(1, 10_001)}


async def test_button_key_is_random_kept_and_forgeries_fail(tmp_path: Path) -> None:
    first_db = await Database.open(tmp_path / "a.db")
    other_db = await Database.open(tmp_path / "b.db")
    try:
        key = await button_key(first_db)
        assert await button_key(first_db) == key and len(key) == 32
        assert await button_key(other_db) != key
    finally:
        await first_db.close()
        await other_db.close()
    assert _MAC_CHARS * 6 >= 64  # base64 characters of HMAC-SHA256
    signer = ButtonSigner(key)
    data = signer.sign("f", 12, 3, "yes")
    assert signer.verify(data) == ["f", "12", "3", "yes"]
    payload, mac = data.rsplit("~", 1)
    assert signer.verify(f"f:12:3:no~{mac}") is None  # another action, same signature
    other = "B" if mac[-1] == "A" else "A"
    assert signer.verify(f"{payload}~{mac[:-1]}{other}") is None
    assert ButtonSigner(secrets.token_bytes(32)).verify(data) is None  # another bot's key
    with pytest.raises(ValueError, match="too short"):
        ButtonSigner(b"short")


async def test_real_telegram_never_sees_the_demo_invite_codes(
    bot: BotUnderTest, tmp_path: Path
) -> None:
    """The console seeds the demo, with codes printed in the README (DEMOEVE makes a
    coordinator), into the default database; `triobot run` on real Telegram withdraws them."""
    on_stand_in = settings_for(tmp_path / "sim.db", telegram_api_url="http://127.0.0.1:8081")
    sim = await Database.open(on_stand_in.db_path)
    await seed_demo(sim)
    await sim.close()
    assert await close_demo_door(on_stand_in, bot.clock) == 0  # simulations keep them

    real = settings_for(bot.settings.db_path)
    assert real.telegram_api_url == "https://api.telegram.org"
    await bot.stop()
    assert await close_demo_door(real, bot.clock) == len(DEMO_CODES)
    assert await close_demo_door(real, bot.clock) == 0
    await bot.start()
    stranger = bot.person(666, "Mallory")
    await stranger.says("/start DEMOEVE")
    roles = await bot.db.fetchall(
        "SELECT r.role FROM person p JOIN person_role r ON r.person_id = p.id"
        " WHERE p.telegram_id = 666"
    )
    assert roles == []
    assert "invite" in stranger.last_text.lower()
