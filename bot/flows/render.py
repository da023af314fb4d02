"""The question a flow is waiting on, as a message: its template, values and buttons.

Every button carries the flow state's id and seq, signed: a tap counts only for the question
that is still waiting (see FlowEngine.tap).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons import ButtonSigner
from bot.flows.answers import ManyOf, YesNo
from bot.flows.model import Flow
from bot.flows.positions import Place, locate, view_at
from bot.flows.replies import Button, Keyboard, Say
from bot.texts import Label
from storage.flow_states import FlowState


def b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def place_of(flow: Flow, state: FlowState) -> Place:
    place = locate(flow, state.step)
    if place is None:  # the engine restarts such a flow before it gets here
        raise LookupError(f"flow {flow.name} has no step {state.step!r}")
    return place


class Prompter:
    def __init__(self, signer: ButtonSigner) -> None:
        self.signer = signer

    def data(self, state: FlowState, action: str) -> str:
        return self.signer.sign("f", b36(state.id), b36(state.seq), action)

    def keyboard(self, state: FlowState, actions: list[tuple[str, Label]]) -> Keyboard:
        return (tuple(Button(label, self.data(state, act)) for act, label in actions),)

    def navigation(self, state: FlowState, *, back: bool, skip: bool) -> tuple[Button, ...]:
        """Back, Skip, Cancel: always three, always in this order, on the last row, so the
        same spot means the same thing on every question. Where going back or skipping is
        not possible its place holds a dot that only says so (a toast), never another action.
        """
        return (
            Button(Label("back"), self.data(state, "b")) if back else
            Button(Label("nav_none"), self.data(state, "nb")),
            Button(Label("skip"), self.data(state, "s")) if skip else
            Button(Label("nav_none"), self.data(state, "ns")),
            Button(Label("cancel"), self.data(state, "x")),
        )  # fmt: skip

    def confirm_cancel(self, state: FlowState) -> Keyboard:
        """The question's buttons while "cancel?" is asked: Yes, cancel / No, go on."""
        return self.keyboard(state, [("xy", Label("cancel_yes")), ("xn", Label("cancel_no"))])

    def offer(self, flow: Flow, state: FlowState) -> Say:
        """Continue the flow left open, or discard it (with what they sent meanwhile)."""
        keyboard = self.keyboard(state, [("r", Label("continue")), ("k", Label("discard"))])
        held = len((state.held_input or {}).get("inputs", []))
        return Say("engine/resume", {"title": flow.title, "held": held}, keyboard)

    def conflict(self, state: FlowState, current: Flow, wanted: Flow) -> Say:
        keyboard = self.keyboard(state, [("r", Label("continue")), ("k", Label("discard"))])
        return Say("engine/in_progress", {"title": current.title, "wanted": wanted.title}, keyboard)

    def question(
        self, flow: Flow, state: FlowState, now: datetime, tz: ZoneInfo, *, again: bool = False
    ) -> Say:
        place = place_of(flow, state)
        step = place.step
        view = view_at(place, state.answers, state.context, now, tz)

        def button(label: Label, action: str) -> Button:
            return Button(label, self.data(state, action))

        rows: list[tuple[Button, ...]] = []
        options = step.answer.options(view)
        if isinstance(step.answer, ManyOf):
            picked = set(state.context.get("_picks", {}).get(state.step, []))
            for i, option in enumerate(options):
                label = option.label
                mark = Label("picked", {"label": label}) if option.value in picked else label
                rows.append((button(mark, f"t{i}"),))
            rows.append((button(Label("done"), "d"),))
        elif isinstance(step.answer, YesNo) or place.is_more:
            rows.append(tuple(button(o.label, f"o{i}") for i, o in enumerate(options)))
        else:
            rows.extend((button(o.label, f"o{i}"),) for i, o in enumerate(options))
        done = place.repeat.done if place.offers_done and place.repeat is not None else None
        if done is not None:
            rows.append((button(done(place.index), "e"),))
        rows.append(self.navigation(state, back=bool(state.trail), skip=step.optional))
        context: dict[str, Any] = {
            "answers": state.answers,
            "ctx": state.context,
            "current": view.answers.get(step.key),
            "again": again,
            "step_number": len(state.trail) + 1,
        }
        if place.repeat is not None:
            context["number"] = place.index + 1
            if place.repeat.each is not None and view.outer is not None:
                context["total"] = place.repeat.count(view.outer)
        context.update(step.prompt_context(view) if step.prompt_context else {})
        return Say(step.prompt, context, tuple(rows), ask=True)
