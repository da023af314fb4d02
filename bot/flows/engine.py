"""The one engine that runs every flow. No Telegram here: inputs in, replies out.

Every entry point reads and writes the person's flow state inside one write transaction,
and returns only after it committed, so a reply is never sent for an answer not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons import ButtonSigner
from bot.clock import Clock
from bot.flows.answers import (
    JSON,
    Accepted,
    ChoiceIn,
    Input,
    ManyOf,
    OtherIn,
    Rejected,
    TextIn,
    View,
    VoiceIn,
    YesNo,
)
from bot.flows.model import Flow, FlowRegistry, Step, StepContext
from bot.texts import Label
from storage.db import Database, Transaction
from storage.flow_states import FlowState, FlowStateRepo


@dataclass(frozen=True, slots=True)
class Actor:
    person_id: int
    chat_id: int
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Button:
    label: Label
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Say:
    """Send a message rendered from `template`. `ask` marks a question awaiting an answer."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    keyboard: Keyboard | None = None
    ask: bool = False


@dataclass(frozen=True, slots=True)
class Tapped:
    """Change the message whose button was tapped: new keyboard (None drops it)."""

    keyboard: Keyboard | None = None
    chosen: Label | None = None


@dataclass(frozen=True, slots=True)
class Toast:
    """A short notice on the tapped button (answerCallbackQuery): a label, ≤ 200 chars."""

    label: Label
    alert: bool = False


Reply = Say | Tapped | Toast


@dataclass(slots=True)
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    handled: bool = True  # False: no open flow took the input; the caller decides
    finished: str | None = None  # name of a flow that just completed
    refresh_person: bool = False  # a step changed the person (e.g. their language)
    # The answers of the flow that just finished, for follow-ups that need Telegram (a file).
    answers: Mapping[str, JSON] | None = None


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


class FlowEngine:
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
        async with self.db.transaction() as tx:
            existing, notice = await self._load_open(tx, actor, now)
            if existing is not None:
                held = {"start": name, "context": dict(context or {})}
                existing = existing.but(held_input=held, seq=existing.seq + 1)
                await FlowStateRepo.save(tx, existing)
                return Outcome([*notice, self._conflict(existing, flow)])
            state = await self._open(tx, actor, flow, dict(context or {}), now)
        return Outcome([*notice, self._prompt(flow, state, now, actor.tz)])

    async def handle(self, actor: Actor, given: Input) -> Outcome:
        """Text, a voice note or another kind of message, from a person in a chat."""
        now = self.clock()
        async with self.db.transaction() as tx:
            state, notice = await self._load_open(tx, actor, now)
            if state is None:
                return Outcome(notice, handled=False)
            flow = self.registry[state.flow]
            if isinstance(given, TextIn | VoiceIn) and (
                state.held_input is not None or now - state.updated_at > self.resume_after
            ):
                return await self._hold(tx, flow, state, given)
            return await self._answer(tx, flow, state, given, now, actor.tz)

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
        async with self.db.transaction() as tx:
            state = await FlowStateRepo.get(tx, state_id)
            if state is None or state.person_id != actor.person_id:
                return Outcome([Toast(Label("button_not_yours"), alert=True)])
            if state.status != "open" or state.chat_id != actor.chat_id:
                return Outcome([Toast(Label("button_stale")), Tapped(keyboard=None)])
            if state.expires_at <= now:
                _, notice = await self._load_open(tx, actor, now)
                return Outcome([Tapped(keyboard=None), *notice])
            if state.seq != seq:
                # An earlier question of the flow still open here. Answering it took its
                # buttons away, so tapping it again usually means that reply never reached
                # them (a crash, a lost message): nothing changes, and they are shown where
                # they are.
                flow = self.registry[state.flow]
                return Outcome(
                    [
                        Toast(Label("button_stale")),
                        Tapped(keyboard=None),
                        self._prompt(flow, state, now, actor.tz),
                    ]
                )
            return await self._act(tx, self.registry[state.flow], state, action, now, actor.tz)

    async def navigate(self, actor: Actor, action: str) -> Outcome:
        """Back ("b") or skip ("s") sent as a command (/back, /skip) instead of a tap: where
        a question carries no buttons, e.g. a ForceReply in a group."""
        state = await self.current(actor)
        if state is None:
            return Outcome([Say("engine/nothing_to_cancel")], handled=False)
        return await self.tap(actor, self.signer.sign("f", _b36(state.id), _b36(state.seq), action))

    async def repeat(self, actor: Actor, name: str) -> Outcome | None:
        """Ask the current step of flow `name` again if it is open here (None if not): for
        someone who asks for the same thing twice, usually because a reply never reached them."""
        now = self.clock()
        async with self.db.transaction() as tx:
            state, _ = await self._load_open(tx, actor, now)
            if state is None or state.flow != name:
                return None
            # The same seq: the buttons of the earlier copy, if it did arrive, still work.
            return Outcome([self._prompt(self.registry[name], state, now, actor.tz)])

    async def offer_resume(self, actor: Actor) -> Outcome:
        """If a flow is open here, ask whether to continue or discard it."""
        now = self.clock()
        async with self.db.transaction() as tx:
            state, notice = await self._load_open(tx, actor, now)
            if state is None:
                return Outcome(notice, handled=False)
            state = state.but(seq=state.seq + 1)
            await FlowStateRepo.save(tx, state)
            return Outcome([*notice, self._offer(self.registry[state.flow], state)])

    async def cancel(self, actor: Actor) -> Outcome:
        now = self.clock()
        async with self.db.transaction() as tx:
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
    async def _load_open(
        self, tx: Transaction, actor: Actor, now: datetime
    ) -> tuple[FlowState | None, list[Reply]]:
        state = await FlowStateRepo.open_for(tx, actor.person_id, actor.chat_id)
        if state is None or state.expires_at > now:
            return state, []
        await FlowStateRepo.close(tx, state, "expired", now)
        flow = self.registry.get(state.flow)
        if flow is None:
            return None, []
        return None, [Say("engine/expired", {"title": flow.title, "command": flow.command})]

    async def _open(
        self, tx: Transaction, actor: Actor, flow: Flow, context: dict[str, JSON], now: datetime
    ) -> FlowState:
        draft = FlowState(
            id=0,
            person_id=actor.person_id,
            chat_id=actor.chat_id,
            flow=flow.name,
            step=flow.first.key,
            answers={},
            trail=[],
            context=context,
            seq=0,
            status="open",
            held_input=None,
            started_at=now,
            updated_at=now,
            expires_at=now + self.expiry,
        )
        return draft.but(id=await FlowStateRepo.insert(tx, draft))

    async def _answer(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        given: Input,
        now: datetime,
        tz: ZoneInfo,
        *,
        tapped: Label | None = None,
    ) -> Outcome:
        step = flow.step(state.step)
        view = View(state.answers, state.context, now, tz)
        parsed = step.answer.parse(given, view)
        if isinstance(parsed, Rejected):
            reason = Say(f"reasons/{parsed.reason}", dict(parsed.params))
            return Outcome([reason, self._prompt(flow, state, now, tz, again=True)])
        return await self._advance(tx, flow, state, step, parsed, now, tz, tapped=tapped)

    async def _advance(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        step: Step,
        parsed: Accepted,
        now: datetime,
        tz: ZoneInfo,
        *,
        tapped: Label | None = None,
    ) -> Outcome:
        answers = {**state.answers, step.key: parsed.value}
        view = View(answers, state.context, now, tz)
        following = flow.after(step, view)
        ctx = StepContext(state.person_id, state.chat_id, state.id, answers, state.context)
        if step.apply is not None:
            # An apply hook may refuse an answer only the database can judge (an unknown
            # reference, someone else's trio): the step is asked again, nothing moves on.
            problem = await step.apply(tx, ctx, parsed.value)
            if isinstance(problem, Rejected):
                reason = Say(f"reasons/{problem.reason}", dict(problem.params))
                return Outcome([reason, self._prompt(flow, state, now, tz, again=True)])
        replies: list[Reply] = [] if tapped is None else [Tapped(keyboard=None, chosen=tapped)]
        if following is None:
            # Only answers on the path actually taken count (Back may have changed it).
            path = [*state.trail, step.key]
            kept = {key: answers[key] for key in path if key in answers}
            done = state.but(answers=kept)
            final = StepContext(state.person_id, state.chat_id, state.id, kept, state.context)
            if flow.complete is not None:
                await flow.complete(tx, final)
            await FlowStateRepo.close(tx, done, "done", now)
            extra = (
                flow.done_context(View(kept, state.context, now, tz)) if flow.done_context else {}
            )
            replies.append(Say(flow.done_template, {"answers": kept, **extra}))
            return Outcome(replies, finished=flow.name, refresh_person=True, answers=kept)
        moved = state.but(
            step=following,
            answers=answers,
            trail=[*state.trail, step.key],
            seq=state.seq + 1,
            held_input=None,
            updated_at=now,
            expires_at=now + self.expiry,
        )
        await FlowStateRepo.save(tx, moved)
        replies.append(self._prompt(flow, moved, now, tz))
        return Outcome(replies, refresh_person=step.apply is not None)

    async def _hold(
        self, tx: Transaction, flow: Flow, state: FlowState, given: TextIn | VoiceIn
    ) -> Outcome:
        """Keep what they sent and ask whether it belongs to the half-finished flow."""
        held = dict(state.held_input or {})
        item = (
            {"text": given.text}
            if isinstance(given, TextIn)
            else {"voice": given.file_id, "duration": given.duration}
        )
        held["inputs"] = [*held.get("inputs", []), item]
        state = state.but(held_input=held, seq=state.seq + 1)
        await FlowStateRepo.save(tx, state)
        return Outcome([self._offer(flow, state)])

    def _offer(self, flow: Flow, state: FlowState) -> Say:
        keyboard = self._keyboard(state, [("r", Label("continue")), ("k", Label("discard"))])
        held = len((state.held_input or {}).get("inputs", []))
        return Say("engine/resume", {"title": flow.title, "held": held}, keyboard)

    def _conflict(self, state: FlowState, wanted: Flow) -> Say:
        keyboard = self._keyboard(state, [("r", Label("continue")), ("k", Label("discard"))])
        current = self.registry[state.flow]
        return Say("engine/in_progress", {"title": current.title, "wanted": wanted.title}, keyboard)

    async def _act(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        action: str,
        now: datetime,
        tz: ZoneInfo,
    ) -> Outcome:
        step = flow.step(state.step)
        view = View(state.answers, state.context, now, tz)
        if action.startswith("o") and action[1:].isdigit():
            index = int(action[1:])
            options = step.answer.options(view)
            chosen = options[index].label if index < len(options) else None
            return await self._answer(tx, flow, state, ChoiceIn(index), now, tz, tapped=chosen)
        if action.startswith("t") and action[1:].isdigit() and isinstance(step.answer, ManyOf):
            return await self._toggle(tx, flow, state, int(action[1:]), now, tz)
        if action == "d" and isinstance(step.answer, ManyOf):
            picked = list(state.context.get("_picks", {}).get(step.key, []))
            parsed = step.answer.check(picked)
            if isinstance(parsed, Rejected):
                return Outcome([Toast(Label(f"toast_{parsed.reason}", parsed.params), alert=True)])
            return await self._advance(tx, flow, state, step, parsed, now, tz, tapped=Label("done"))
        if action == "b" and state.trail:
            back = state.but(
                step=state.trail[-1], trail=state.trail[:-1], seq=state.seq + 1, updated_at=now
            )
            await FlowStateRepo.save(tx, back)
            return Outcome(
                [Tapped(keyboard=None, chosen=Label("back")), self._prompt(flow, back, now, tz)]
            )
        if action == "s" and step.optional:
            return await self._advance(
                tx, flow, state, step, Accepted(None), now, tz, tapped=Label("skip")
            )
        if action == "x":
            await FlowStateRepo.close(tx, state, "cancelled", now)
            return Outcome(
                [
                    Tapped(keyboard=None, chosen=Label("cancel")),
                    Say("engine/cancelled", {"title": flow.title}),
                ]
            )
        if action == "r":
            return await self._resume(tx, flow, state, now, tz)
        if action == "k":
            return await self._discard(tx, flow, state, now, tz)
        return Outcome([Toast(Label("button_stale")), Tapped(keyboard=None)])

    async def _toggle(
        self, tx: Transaction, flow: Flow, state: FlowState, index: int, now: datetime, tz: ZoneInfo
    ) -> Outcome:
        step = flow.step(state.step)
        options = step.answer.options(View(state.answers, state.context, now, tz))
        if index >= len(options):
            return Outcome([Toast(Label("button_stale"))])
        picks = dict(state.context.get("_picks", {}))
        chosen = list(picks.get(step.key, []))
        value = options[index].value
        chosen = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
        picks[step.key] = chosen
        state = state.but(
            context={**state.context, "_picks": picks}, seq=state.seq + 1, updated_at=now
        )
        await FlowStateRepo.save(tx, state)
        prompt = self._prompt(flow, state, now, tz)
        return Outcome([Tapped(keyboard=prompt.keyboard)])

    async def _resume(
        self, tx: Transaction, flow: Flow, state: FlowState, now: datetime, tz: ZoneInfo
    ) -> Outcome:
        held = state.held_input or {}
        state = state.but(held_input=None, seq=state.seq + 1, updated_at=now)
        await FlowStateRepo.save(tx, state)
        outcome = Outcome([Tapped(keyboard=None, chosen=Label("continue"))])
        inputs = held.get("inputs", [])
        if not inputs:
            outcome.replies.append(self._prompt(flow, state, now, tz))
            return outcome
        # What they typed while the flow sat idle was meant for it: apply it in order. Only
        # the last one's replies are sent: each ends by asking the question that is now
        # waiting, so earlier ones would only repeat it, and a burst of them in one chat is
        # refused by Telegram (one tap, at most a refusal and the question).
        step_replies: list[Reply] = []
        for item in inputs:
            given: Input = (
                TextIn(item["text"]) if "text" in item else VoiceIn(item["voice"], item["duration"])
            )
            step_outcome = await self._answer(tx, flow, state, given, now, tz)
            step_replies = step_outcome.replies
            outcome.finished = step_outcome.finished
            outcome.answers = step_outcome.answers
            outcome.refresh_person |= step_outcome.refresh_person
            refreshed = await FlowStateRepo.get(tx, state.id)
            if refreshed is None or refreshed.status != "open":
                break
            state = refreshed
        outcome.replies.extend(step_replies)
        return outcome

    async def _discard(
        self, tx: Transaction, flow: Flow, state: FlowState, now: datetime, tz: ZoneInfo
    ) -> Outcome:
        held = state.held_input or {}
        await FlowStateRepo.close(tx, state, "discarded", now)
        replies: list[Reply] = [
            Tapped(keyboard=None, chosen=Label("discard")),
            Say("engine/discarded", {"title": flow.title}),
        ]
        wanted = self.registry.get(str(held.get("start", "")))
        if wanted is None:
            return Outcome(replies)
        actor = Actor(state.person_id, state.chat_id, tz)
        fresh = await self._open(tx, actor, wanted, dict(held.get("context", {})), now)
        replies.append(self._prompt(wanted, fresh, now, tz))
        return Outcome(replies)

    # --- rendering the question ---------------------------------------------------------
    def _keyboard(self, state: FlowState, actions: list[tuple[str, Label]]) -> Keyboard:
        sid, seq = _b36(state.id), _b36(state.seq)
        row = tuple(Button(label, self.signer.sign("f", sid, seq, act)) for act, label in actions)
        return (row,)

    def _prompt(
        self, flow: Flow, state: FlowState, now: datetime, tz: ZoneInfo, *, again: bool = False
    ) -> Say:
        step = flow.step(state.step)
        view = View(state.answers, state.context, now, tz)
        sid, seq = _b36(state.id), _b36(state.seq)

        def button(label: Label, action: str) -> Button:
            return Button(label, self.signer.sign("f", sid, seq, action))

        rows: list[tuple[Button, ...]] = []
        options = step.answer.options(view)
        if isinstance(step.answer, ManyOf):
            picked = set(state.context.get("_picks", {}).get(step.key, []))
            for i, option in enumerate(options):
                label = option.label
                mark = Label("picked", {"label": label}) if option.value in picked else label
                rows.append((button(mark, f"t{i}"),))
            rows.append((button(Label("done"), "d"),))
        elif isinstance(step.answer, YesNo):
            rows.append(tuple(button(o.label, f"o{i}") for i, o in enumerate(options)))
        else:
            rows.extend((button(o.label, f"o{i}"),) for i, o in enumerate(options))
        nav = []
        if state.trail:
            nav.append(button(Label("back"), "b"))
        if step.optional:
            nav.append(button(Label("skip"), "s"))
        nav.append(button(Label("cancel"), "x"))
        rows.append(tuple(nav))
        extra = step.prompt_context(view) if step.prompt_context else {}
        context = {
            "answers": state.answers,
            "ctx": state.context,
            "current": state.answers.get(step.key),
            "again": again,
            "step_number": len(state.trail) + 1,
            **extra,
        }
        return Say(step.prompt, context, tuple(rows), ask=True)


def input_kind(given: Input) -> str:
    if isinstance(given, OtherIn):
        return given.kind
    return type(given).__name__
