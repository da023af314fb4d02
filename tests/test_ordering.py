"""Per-chat ordering: one chat's updates never overtake each other; chats run side by side."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from bot.telegram.ordering import PerChatOrder, chat_key


def _update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "T", False)
    chat = Chat(chat_id, Chat.PRIVATE)
    message = Message(update_id, None, chat, from_user=user, text="x")  # type: ignore[arg-type]
    return Update(update_id, message=message)


async def test_same_chat_in_order_other_chats_concurrently() -> None:
    processor = PerChatOrder(max_concurrent_updates=16)
    log: list[tuple[int, int, str]] = []

    async def work(chat: int, n: int, pause: float) -> None:
        log.append((chat, n, "start"))
        await asyncio.sleep(pause)
        log.append((chat, n, "end"))

    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 10), work(10, 1, 0.05))),
        asyncio.create_task(processor.process_update(_update(2, 10), work(10, 2, 0.0))),
        asyncio.create_task(processor.process_update(_update(3, 20), work(20, 1, 0.0))),
    ]
    await asyncio.gather(*tasks)
    chat10 = [(n, what) for chat, n, what in log if chat == 10]
    assert chat10 == [(1, "start"), (1, "end"), (2, "start"), (2, "end")]
    # Chat 20 did not wait for chat 10's slow first update.
    assert log.index((20, 1, "end")) < log.index((10, 1, "end"))
    assert not processor._locks


def test_chat_key_prefers_the_chat() -> None:
    assert chat_key(_update(1, 42)) == 42
    assert chat_key(object()) is None
