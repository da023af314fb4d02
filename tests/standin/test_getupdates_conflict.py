"""Telegram serves one getUpdates at a time: a second concurrent long poll ends the first
with 409 Conflict, which is what two bots on one token see; and a group upgraded to a
supergroup is refused at its old id with migrate_to_chat_id."""

from __future__ import annotations

import asyncio

from bot.standin.api import TERMINATED, FakeTelegram


async def test_a_second_concurrent_get_updates_meets_409() -> None:
    api = FakeTelegram()
    first = asyncio.create_task(api.handle("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0.05)  # the first long poll is waiting
    second = asyncio.create_task(api.handle("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0.05)
    status, body = await asyncio.wait_for(first, timeout=1)
    assert (status, body["error_code"], body["description"]) == (409, 409, TERMINATED)
    api.add_user(1, "Ana")
    api.push_update(api.text(1, "hello"))
    status, body = await asyncio.wait_for(second, timeout=1)
    assert status == 200 and len(body["result"]) == 1
    assert api.conflicts == 1


async def test_polls_one_after_another_are_not_a_conflict() -> None:
    api = FakeTelegram()
    for _ in range(3):
        status, _ = await api.handle("getUpdates", {"timeout": 0.05})
        assert status == 200
    assert api.conflicts == 0


async def test_an_upgraded_group_is_refused_at_its_old_id_with_the_new_one() -> None:
    api = FakeTelegram()
    api.add_group(-300, "Trio", [])
    api.upgrade_group(-300, -100300)
    status, body = await api.handle("sendMessage", {"chat_id": -300, "text": "hi"})
    assert status == 400
    assert body["parameters"] == {"migrate_to_chat_id": -100300}
    status, _ = await api.handle("sendMessage", {"chat_id": -100300, "text": "hi"})
    assert status == 200
