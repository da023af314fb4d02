"""How a flow state moves: an answer stored and the next question, the end of a list, the
finished flow handed to its `complete`, and what each button of a question does.

Every method runs inside the caller's write transaction (see FlowEngine).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.flows.answers import (
    HOLD,
    JSON,
    Accepted,
    ChoiceIn,
    FreeText,
    Input,
    ManyOf,
    Rejected,
    TextIn,
    View,
    VoiceIn,
    holding,
)
from bot.flows.drafts import DRAFT, asks_split, draft_for, parts_of, splittable
from bot.flows.model import Flow, FlowRegistry, Repeat, StepContext
from bot.flows.positions import (
    DONE_WORDS,
    Place,
    ended,
    enter,
    following,
    leave,
    on_path,
    stored,
    typed_word,
    view_at,
)
from bot.flows.render import Prompter, place_of
from bot.flows.replies import Actor, Outcome, Reply, Say, Tapped, Toast
from bot.texts import Label
from storage.db import Database, Transaction
from storage.flow_states import FlowState, FlowStateRepo


def asks_before_cancel(flow: Flow) -> bool:
    """Whether Cancel asks first: in flows of more than three questions, where a slip would
    cost the most typing. A list (a repeat of more than one item) counts as long: it asks
    its questions once per item."""
    if any(isinstance(s, Repeat) and not s.single for s in flow.steps):
        return True
    questions = sum(len(s.body.steps) if isinstance(s, Repeat) else 1 for s in flow.steps)
    return questions > 3


class Transitions:
    db: Database
    registry: FlowRegistry
    render: Prompter
    expiry: timedelta

    async def _open(
        self, tx: Transaction, actor: Actor, flow: Flow, context: dict[str, JSON], now: datetime
    ) -> FlowState:
        first = enter(flow, flow.steps[0].key, View({}, context, now, actor.tz))
        if first is None:
            raise ValueError(f"flow {flow.name} asks nothing")
        draft = FlowState(
            id=0,
            person_id=actor.person_id,
            chat_id=actor.chat_id,
            flow=flow.name,
            step=first,
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

    def _again(
        self, flow: Flow, state: FlowState, problem: Rejected, now: datetime, tz: ZoneInfo
    ) -> Outcome:
        reason = Say(f"reasons/{problem.reason}", dict(problem.params))
        return Outcome([reason, self.render.question(flow, state, now, tz, again=True)])

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
        place = place_of(flow, state)
        typed = typed_word(given.text) if isinstance(given, TextIn) else None
        if place.offers_done and typed in DONE_WORDS:
            return await self._end_list(tx, flow, state, place, now, tz, None)
        if asks_split(given) and draft_for(state.context, state.step) is not None:
            return await self._save_parts(tx, flow, state, place, now, tz, tapped=False)
        view = view_at(place, state.answers, state.context, now, tz)
        parsed = place.step.answer.parse(given, view)
        if isinstance(parsed, Rejected):
            if parsed.reason == "too_long" and isinstance(given, TextIn):
                limit = int(parsed.params.get("max", 0))
                return await self._keep_draft(tx, state, place, given.text, limit, now)
            if parsed.hold is not None or HOLD in state.context:
                # Kept for the step's next parse; a new seq, so only this question's buttons live.
                state = state.but(context=holding(state.context, parsed.hold), seq=state.seq + 1)
                await FlowStateRepo.save(tx, state)
            return self._again(flow, state, parsed, now, tz)
        return await self._advance(tx, flow, state, place, parsed, now, tz, tapped=tapped)

    async def _keep_draft(
        self, tx: Transaction, state: FlowState, place: Place, text: str, limit: int,
        now: datetime,
    ) -> Outcome:  # fmt: skip
        """Too long for the step (over `limit`): kept, in the flow state so a restart keeps it
        too, and they choose to shorten it or, where the step allows, to save it in parts."""
        draft = {"step": state.step, "text": text.strip()}
        state = state.but(context={**state.context, DRAFT: draft}, updated_at=now)
        await FlowStateRepo.save(tx, state)
        count = len(parts_of(text, limit)) if splittable(place.step) else 0
        actions = [("p", Label("split_save", {"number": count}))] if count else []
        keyboard = self.render.keyboard(state, [*actions, ("w", Label("shorten"))])
        values = {"length": len(text.strip()), "max": limit, "parts": count}
        return Outcome([Say("engine/too_long", values, keyboard)])

    async def _save_parts(
        self, tx: Transaction, flow: Flow, state: FlowState, place: Place, now: datetime,
        tz: ZoneInfo, *, tapped: bool,
    ) -> Outcome:  # fmt: skip
        draft = draft_for(state.context, state.step)
        if draft is None or not splittable(place.step):
            return Outcome([Toast(Label("button_stale")), Tapped(keyboard=None)])
        assert isinstance(place.step.answer, FreeText)
        parts: list[JSON] = list(parts_of(draft, place.step.answer.max_len))
        label = Label("split_save", {"number": len(parts)}) if tapped else None
        return await self._advance(tx, flow, state, place, Accepted(parts), now, tz, tapped=label)

    async def _advance(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        place: Place,
        parsed: Accepted,
        now: datetime,
        tz: ZoneInfo,
        *,
        tapped: Label | None = None,
    ) -> Outcome:
        step = place.step
        answers = state.answers if place.is_more else stored(state.answers, place, parsed.value)
        inner = view_at(place, answers, state.context, now, tz)
        if step.apply is not None:
            # An apply hook may refuse an answer only the database can judge (an unknown
            # reference, someone else's trio): the step is asked again, nothing moves on.
            ctx = StepContext(state.person_id, state.chat_id, state.id, answers, state.context)
            problem = await step.apply(tx, ctx, parsed.value)
            if isinstance(problem, Rejected):
                return self._again(flow, state, problem, now, tz)
        if place.is_more and place.repeat is not None and not parsed.value:
            answers = ended(answers, place.repeat, place.index + 1)
        nxt = following(flow, place, answers, inner, parsed.value)
        chosen: list[Reply] = [] if tapped is None else [Tapped(keyboard=None, chosen=tapped)]
        outcome = await self._move(tx, flow, state, answers, nxt, now, tz, chosen)
        outcome.refresh_person |= step.apply is not None
        return outcome

    async def _end_list(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        place: Place,
        now: datetime,
        tz: ZoneInfo,
        tapped: Label | None,
    ) -> Outcome:
        """Done, where an item's first question offers it: the list ends before this item."""
        assert place.repeat is not None
        answers = ended(state.answers, place.repeat, place.index)
        nxt = leave(flow, place.repeat, View(answers, state.context, now, tz))
        chosen: list[Reply] = [] if tapped is None else [Tapped(keyboard=None, chosen=tapped)]
        return await self._move(tx, flow, state, answers, nxt, now, tz, chosen)

    async def _move(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        answers: dict[str, JSON],
        nxt: str | None,
        now: datetime,
        tz: ZoneInfo,
        replies: list[Reply],
    ) -> Outcome:
        """On to the question at path `nxt`, or (None) finish the flow."""
        # A draft kept for a question is done with once the question is answered.
        context = {k: v for k, v in state.context.items() if k != DRAFT}
        if nxt is not None:
            moved = state.but(
                context=context,
                step=nxt,
                answers=answers,
                trail=[*state.trail, state.step],
                seq=state.seq + 1,
                held_input=None,
                updated_at=now,
                expires_at=now + self.expiry,
            )
            await FlowStateRepo.save(tx, moved)
            return Outcome([*replies, self.render.question(flow, moved, now, tz)])
        kept = on_path(flow, answers, [*state.trail, state.step])
        done = state.but(context=context, answers=kept)
        if flow.complete is not None:
            final = StepContext(state.person_id, state.chat_id, state.id, kept, context)
            refused = await flow.complete(tx, final)
            if isinstance(refused, Rejected):
                # They may no longer do this (a role changed, the meeting went): the flow
                # ends, kindly, and its answers stay on record in the closed flow state.
                await FlowStateRepo.close(tx, done, "cancelled", now)
                values = {"title": flow.title, "command": flow.command, **refused.params}
                return Outcome([*replies, Say(f"refused/{refused.reason}", values)])
        await FlowStateRepo.close(tx, done, "done", now)
        view = View(kept, context, now, tz)
        extra = flow.done_context(view) if flow.done_context else {}
        replies.append(Say(flow.done_template, {"answers": kept, **extra}))
        return Outcome(replies, finished=flow.name, refresh_person=True, answers=kept)

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
        return Outcome([self.render.offer(flow, state)])

    async def _act(
        self,
        tx: Transaction,
        flow: Flow,
        state: FlowState,
        action: str,
        now: datetime,
        tz: ZoneInfo,
    ) -> Outcome:
        place = place_of(flow, state)
        step = place.step
        view = view_at(place, state.answers, state.context, now, tz)
        if action.startswith("o") and action[1:].isdigit():
            index = int(action[1:])
            options = step.answer.options(view)
            chosen = options[index].label if index < len(options) else None
            return await self._answer(tx, flow, state, ChoiceIn(index), now, tz, tapped=chosen)
        if action.startswith("t") and action[1:].isdigit() and isinstance(step.answer, ManyOf):
            return await self._toggle(tx, flow, state, int(action[1:]), now, tz)
        if action == "d" and isinstance(step.answer, ManyOf):
            picked = list(state.context.get("_picks", {}).get(state.step, []))
            parsed = step.answer.check(picked)
            if isinstance(parsed, Rejected):
                return Outcome([Toast(Label(f"toast_{parsed.reason}", parsed.params), alert=True)])
            return await self._advance(
                tx, flow, state, place, parsed, now, tz, tapped=Label("done")
            )
        # Where the first question of an item may end its list, skipping it ends the list.
        if place.offers_done and place.repeat is not None and action in ("e", "s"):
            done = place.repeat.done
            if action == "s" and step.optional:
                return await self._end_list(tx, flow, state, place, now, tz, Label("skip"))
            if action == "e" and done is not None:
                return await self._end_list(tx, flow, state, place, now, tz, done(place.index))
        if action == "b" and state.trail:
            back = state.but(
                step=state.trail[-1], trail=state.trail[:-1], seq=state.seq + 1, updated_at=now
            )
            await FlowStateRepo.save(tx, back)
            went_back = Tapped(keyboard=None, chosen=Label("back"))
            return Outcome([went_back, self.render.question(flow, back, now, tz)])
        if action == "s" and step.optional:
            return await self._advance(
                tx, flow, state, place, Accepted(None), now, tz, tapped=Label("skip")
            )
        if action == "x" and asks_before_cancel(flow):
            # Long flows ask once; the answers stay either way. The question keeps its seq,
            # so a typed answer still answers it, and "No, go on" sits where Cancel was: the
            # same spot tapped twice goes on rather than cancelling.
            return Outcome(
                [Toast(Label("cancel_ask")), Tapped(keyboard=self.render.confirm_cancel(state))]
            )
        if action == "xn":
            question = self.render.question(flow, state, now, tz)
            return Outcome([Tapped(keyboard=question.keyboard)])
        if action in ("nb", "ns"):
            return Outcome([Toast(Label("toast_no_back" if action == "nb" else "toast_no_skip"))])
        if action in ("x", "xy"):
            await FlowStateRepo.close(tx, state, "cancelled", now)
            return Outcome(
                [
                    Tapped(keyboard=None, chosen=Label("cancel")),
                    Say("engine/cancelled", {"title": flow.title}),
                ]
            )
        if action == "p":
            return await self._save_parts(tx, flow, state, place, now, tz, tapped=True)
        if action == "w":
            again = self.render.question(flow, state, now, tz)
            return Outcome([Tapped(keyboard=None, chosen=Label("shorten")), again])
        if action == "r":
            return await self._resume(tx, flow, state, now, tz)
        if action == "k":
            return await self._discard(tx, flow, state, now, tz)
        return Outcome([Toast(Label("button_stale")), Tapped(keyboard=None)])

    async def _toggle(
        self, tx: Transaction, flow: Flow, state: FlowState, index: int, now: datetime, tz: ZoneInfo
    ) -> Outcome:
        place = place_of(flow, state)
        options = place.step.answer.options(view_at(place, state.answers, state.context, now, tz))
        if index >= len(options):
            return Outcome([Toast(Label("button_stale"))])
        # Picks so far, by position: the same step in two items of a list picks apart.
        picks = dict(state.context.get("_picks", {}))
        chosen = list(picks.get(state.step, []))
        value = options[index].value
        chosen = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
        picks[state.step] = chosen
        state = state.but(
            context={**state.context, "_picks": picks}, seq=state.seq + 1, updated_at=now
        )
        await FlowStateRepo.save(tx, state)
        prompt = self.render.question(flow, state, now, tz)
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
            outcome.replies.append(self.render.question(flow, state, now, tz))
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
        replies.append(self.render.question(wanted, fresh, now, tz))
        return Outcome(replies)
