"""The one engine that runs every flow. No Telegram here: inputs in, replies out.

Every entry point reads and writes the person's flow state inside one write transaction,
and returns only after it committed, so a reply is never sent for an answer not stored.
Where a flow stands (a step, an item of a repeat) is `bot.flows.positions`; how its question
looks is `bot.flows.render`; this module moves the state from one question to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from bot.buttons import ButtonSigner
from bot.clock import Clock
from bot.flows.answers import JSON, Input, TextIn, VoiceIn, taken
from bot.flows.model import Flow, FlowRegistry
from bot.flows.positions import fits
from bot.flows.render import Prompter, b36
from bot.flows.replies import Actor, Button, Keyboard, Outcome, Reply, Say, Tapped, Toast
from bot.flows.transitions import Transitions
from bot.texts import Label
from storage.db import Database, Transaction
from storage.flow_states import TAKEN, FlowState, FlowStateRepo
from storage.turns import person_transaction

__all__ = ["Actor", "Button", "FlowEngine", "Keyboard", "Outcome", "Reply", "Say", "Tapped",
           "Toast"]  # fmt: skip


class FlowEngine(Transitions):
    def __init__(
        self,
        db: Database,
        registry: FlowRegistry,
        signer: ButtonSigner,
        *,
        expiry: timedelta,
        resume_after: timedelta,
        clock: Clock,
    ) -> None:
        self.db = db
        self.registry = registry
        self.signer = signer
        self.render = Prompter(signer)
        self.expiry = expiry
        self.resume_after = resume_after
        self.clock = clock

    # --- entry points -------------------------------------------------------------------
    async def current(self, actor: Actor) -> FlowState | None:
        state = await FlowStateRepo.open_for(self.db, actor.person_id, actor.chat_id)
        if state is None or state.expires_at <= self.clock():
            return None
        return state

    async def start(
        self, actor: Actor, name: str, context: Mapping[str, JSON] | None = None
    ) -> Outcome:
        """Open flow `name`, or offer to continue the one already open."""
        flow = self.registry[name]
        now = self.clock()
        async with self._turn(actor) as tx:
            existing, notice = await self._load_open(tx, actor, now)
            if existing is not None and notice and existing.flow == name:
                return Outcome([*notice, self.render.question(flow, existing, now, actor.tz)])
            if existing is not None:
                held = {"start": name, "context": dict(context or {})}
                existing = existing.but(held_input=held, seq=existing.seq + 1)
                await FlowStateRepo.save(tx, existing)
                current = self.registry[existing.flow]
                return Outcome([*notice, self.render.conflict(existing, current, flow)])
            kept = await self._kept(tx, actor, flow, dict(context or {}), now)
            if kept is not None:
                return Outcome([*notice, *await self._restore(tx, actor, flow, kept, now)])
            state = await self._open(tx, actor, flow, dict(context or {}), now)
        return Outcome([*notice, self.render.question(flow, state, now, actor.tz)])

    async def handle(self, actor: Actor, given: Input) -> Outcome:
        """Text, a voice note or another kind of message, from a person in a chat."""
        now = self.clock()
        async with self._turn(actor) as tx:
            state, notice = await self._load_open(tx, actor, now)
            if state is None:
                return Outcome(notice, handled=False)
            flow = self.registry[state.flow]
            if notice:  # restarted: what they sent answered a question no longer there
                return Outcome([*notice, self.render.question(flow, state, now, actor.tz)])
            if isinstance(given, TextIn | VoiceIn) and (
                state.held_input is not None or now - state.updated_at > self.resume_after
            ):
                return await self._hold(tx, flow, state, given)
            return await self._answer(tx, flow, state, given, now, actor.tz)

    async def answer_with(
        self, actor: Actor, name: str, context: Mapping[str, JSON], given: Input
    ) -> Outcome:
        """Open flow `name` and take `given` as the answer to its first question, in one
        transaction: what someone sends under a prompt is its answer, stored before the reply
        (not handled if a flow is open here: that flow's question comes first)."""
        flow, now = self.registry[name], self.clock()
        async with self._turn(actor) as tx:
            existing, notice = await self._load_open(tx, actor, now)
            if existing is not None:
                return Outcome(notice, handled=False)
            # What was taken is kept with the flow, so "not an answer" can keep it elsewhere.
            state = await self._open(tx, actor, flow, {**context, TAKEN: taken(given)}, now)
            outcome = await self._answer(tx, flow, state, given, now, actor.tz)
            after = await FlowStateRepo.get(tx, state.id)
        outcome.replies[0:0] = notice
        # Still open, and the message was taken (not refused, say as too short): undoable.
        if outcome.finished is None and after is not None and after.answers != state.answers:
            outcome.opened = state.id
        return outcome

    async def tap(self, actor: Actor, data: str) -> Outcome:
        """A button press. Nothing in `data` is trusted until the signature and state agree."""
        fields = self.signer.verify(data)
        if fields is None or len(fields) != 4 or fields[0] != "f":
            return Outcome([Toast(Label("button_forged"), alert=True)])
        try:
            state_id, seq = int(fields[1], 36), int(fields[2], 36)
        except ValueError:
            return Outcome([Toast(Label("button_forged"), alert=True)])
        action, now = fields[3], self.clock()
        async with self._turn(actor) as tx:
            state = await FlowStateRepo.get(tx, state_id)
            if state is None or state.person_id != actor.person_id:
                return Outcome([Toast(Label("button_not_yours"), alert=True)])
            if state.status != "open" or state.chat_id != actor.chat_id:
                return Outcome([Toast(Label("button_stale")), Tapped(keyboard=None)])
            if state.expires_at <= now or not self._fits(state):
                fresh, notice = await self._load_open(tx, actor, now)
                replies: list[Reply] = [Tapped(keyboard=None), *notice]
                if fresh is not None:
                    flow = self.registry[fresh.flow]
                    replies.append(self.render.question(flow, fresh, now, actor.tz))
                return Outcome(replies)
            flow = self.registry[state.flow]
            if state.seq != seq:
                # An earlier question of the flow still open here. Answering it took its
                # buttons away, so tapping it again usually means that reply never reached
                # them (a crash, a lost message): nothing changes, and they are shown where
                # they are.
                return Outcome(
                    [
                        Toast(Label("button_stale")),
                        Tapped(keyboard=None),
                        self.render.question(flow, state, now, actor.tz),
                    ]
                )
            if action == "z":
                return await self._afresh(tx, actor, flow, state, now)
            return await self._act(tx, flow, state, action, now, actor.tz)

    async def navigate(self, actor: Actor, action: str) -> Outcome:
        """Back ("b") or skip ("s") sent as a command (/back, /skip) instead of a tap: where
        a question carries no buttons, e.g. a ForceReply in a group."""
        state = await self.current(actor)
        if state is None:
            return Outcome([Say("engine/nothing_to_cancel")], handled=False)
        return await self.tap(actor, self.signer.sign("f", b36(state.id), b36(state.seq), action))

    async def repeat(self, actor: Actor, name: str) -> Outcome | None:
        """Ask the current step of flow `name` again if it is open here (None if not): for
        someone who asks for the same thing twice, usually because a reply never reached them."""
        now = self.clock()
        async with self._turn(actor) as tx:
            state, _ = await self._load_open(tx, actor, now)
            if state is None or state.flow != name:
                return None
            # The same seq: the buttons of the earlier copy, if it did arrive, still work.
            return Outcome([self.render.question(self.registry[name], state, now, actor.tz)])

    async def offer_resume(self, actor: Actor) -> Outcome:
        """If a flow is open here, ask whether to continue or discard it."""
        now = self.clock()
        async with self._turn(actor) as tx:
            state, notice = await self._load_open(tx, actor, now)
            if state is None:
                return Outcome(notice, handled=False)
            state = state.but(seq=state.seq + 1)
            await FlowStateRepo.save(tx, state)
            return Outcome([*notice, self.render.offer(self.registry[state.flow], state)])

    async def cancel(self, actor: Actor) -> Outcome:
        now = self.clock()
        async with self._turn(actor) as tx:
            state, _ = await self._load_open(tx, actor, now)
            if state is None:
                return Outcome([Say("engine/nothing_to_cancel")], handled=False)
            await FlowStateRepo.close(tx, state, "cancelled", now)
        return Outcome([Say("engine/cancelled", {"title": self.registry[state.flow].title})])

    async def expire_due(self) -> int:
        """Close every open flow past its expiry; the person is told when they next write."""
        async with self.db.transaction() as tx:
            return await FlowStateRepo.expire_due(tx, self.clock())

    # --- the work -----------------------------------------------------------------------
    def _turn(self, actor: Actor) -> AbstractAsyncContextManager[Transaction]:
        """The transaction of one of this person's updates: with several workers on one
        PostgreSQL, their updates take turns across all of them (storage/turns.py)."""
        return person_transaction(self.db, actor.person_id)

    async def _kept(
        self, tx: Transaction, actor: Actor, flow: Flow, context: dict[str, JSON], now: datetime
    ) -> FlowState | None:
        """The same flow, for the same thing, cancelled with answers not long ago: "anything
        you already answered is kept" means it is there when they start it again."""
        last = await FlowStateRepo.last_closed(tx, actor.person_id, actor.chat_id, flow.name)
        if last is None or last.status != "cancelled" or not last.answers:
            return None
        same = all(last.context.get(key) == value for key, value in context.items())
        recent = now - last.updated_at <= self.expiry
        return last if same and recent and self._fits(last) else None

    async def _restore(
        self, tx: Transaction, actor: Actor, flow: Flow, kept: FlowState, now: datetime
    ) -> list[Reply]:
        """Open `flow` again where the cancelled run stood, its answers (and any draft) in."""
        draft = kept.but(
            id=0, seq=0, status="open", held_input=None, started_at=now, updated_at=now,
            expires_at=now + self.expiry,
        )  # fmt: skip
        state = draft.but(id=await FlowStateRepo.insert(tx, draft))
        afresh = self.render.keyboard(state, [("z", Label("start_afresh"))])
        told = Say("engine/restored", {"title": flow.title, "answered": len(kept.answers)}, afresh)
        return [told, self.render.question(flow, state, now, actor.tz)]

    async def _afresh(
        self, tx: Transaction, actor: Actor, flow: Flow, state: FlowState, now: datetime
    ) -> Outcome:
        """Start afresh after a restore: the restored run is set aside (kept on record)."""
        await FlowStateRepo.close(tx, state, "discarded", now)
        context = {k: v for k, v in state.context.items() if not k.startswith("_")}
        fresh = await self._open(tx, actor, flow, context, now)
        chosen = Tapped(keyboard=None, chosen=Label("start_afresh"))
        return Outcome([chosen, self.render.question(flow, fresh, now, actor.tz)])

    def _fits(self, state: FlowState) -> bool:
        flow = self.registry.get(state.flow)
        return flow is not None and fits(flow, state.step, state.trail)

    async def _load_open(
        self, tx: Transaction, actor: Actor, now: datetime
    ) -> tuple[FlowState | None, list[Reply]]:
        """The flow open here, if any. One past its expiry is closed, and they are told. One
        stored by an earlier version of the bot whose steps its flow no longer has (numbered
        slots, before Repeat) is closed too, its answers kept on record, and opened again
        from the start with the same context; the notice says so (the state returned is the
        new one, its question not yet asked)."""
        state = await FlowStateRepo.open_for(tx, actor.person_id, actor.chat_id)
        if state is None:
            return None, []
        flow = self.registry.get(state.flow)
        if state.expires_at <= now:
            await FlowStateRepo.close(tx, state, "expired", now)
            if flow is None:
                return None, []
            return None, [Say("engine/expired", {"title": flow.title, "command": flow.command})]
        if flow is None or not fits(flow, state.step, state.trail):
            await FlowStateRepo.close(tx, state, "discarded", now)
            if flow is None:
                return None, []
            context = {k: v for k, v in state.context.items() if k != "_picks"}
            fresh = await self._open(tx, actor, flow, context, now)
            return fresh, [Say("engine/restarted", {"title": flow.title})]
        return state, []
