"""What a newcomer missed: everything a trio was told before they joined it.

Joining is decided here, in `people/`, but what there is to catch up on belongs to the
domains above it (meetings' invitations, reflections' open prompts). Each gives a `Part`;
the services wire them together (bot/telegram/context.py), so this layer imports neither.
A part runs inside the joining's transaction and must be idempotent: it runs when someone
redeems an invite as an active member and again when a newcomer finishes joining.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from storage.db import Transaction

# (transaction, person id) -> how many messages or deliveries it queued
Part = Callable[[Transaction, int], Awaitable[int]]


class CatchUp:
    def __init__(self, parts: Sequence[Part] = ()) -> None:
        self.parts = tuple(parts)

    async def __call__(self, tx: Transaction, person_id: int) -> int:
        """Queue, in `tx`, what this person missed; how many things were queued."""
        queued = 0
        for part in self.parts:
            queued += await part(tx, person_id)
        return queued
