"""Flows declared as data: a flow is a list of steps; one engine runs any of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.flows.answers import JSON, AnswerType, Rejected, View
from bot.texts import Label
from storage.db import Transaction


@dataclass(frozen=True, slots=True)
class StepContext:
    """Handed to a step's `apply` and a flow's `complete`, inside the answer's transaction."""

    person_id: int
    chat_id: int
    state_id: int
    answers: Mapping[str, JSON]
    context: Mapping[str, JSON]


# May return a Rejected to refuse the answer (checked against the database); None accepts.
Apply = Callable[[Transaction, StepContext, JSON], Awaitable[Rejected | None]]
Complete = Callable[[Transaction, StepContext], Awaitable[None]]
NextStep = str | Callable[[View], str | None] | None

FOLLOWING = "__following__"  # default `next`: the step declared after this one
END = None


@dataclass(frozen=True)
class Step:
    key: str
    prompt: str  # template name under prompts/<lang>/
    answer: AnswerType
    optional: bool = False
    next: NextStep = FOLLOWING
    # Side effects of an answer (e.g. the chosen language applies at once), same transaction.
    apply: Apply | None = None
    # Extra values for the prompt template, computed from the answers so far.
    prompt_context: Callable[[View], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    done_template: str
    command: str  # how a person starts it again, e.g. "/reflect"
    complete: Complete | None = None
    done_context: Callable[[View], Mapping[str, Any]] | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = [step.key for step in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError(f"flow {self.name}: duplicate step keys")
        if not self.steps:
            raise ValueError(f"flow {self.name}: no steps")
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(keys)})

    @property
    def title(self) -> Label:
        return Label(f"flow_{self.name}")

    @property
    def first(self) -> Step:
        return self.steps[0]

    def step(self, key: str) -> Step:
        return self.steps[self._index[key]]

    def has_step(self, key: str) -> bool:
        return key in self._index

    def after(self, step: Step, view: View) -> str | None:
        """Key of the step that follows `step` given the answers, or None at the end."""
        if step.next == FOLLOWING:
            position = self._index[step.key] + 1
            return self.steps[position].key if position < len(self.steps) else None
        if callable(step.next):
            return step.next(view)
        return step.next


class FlowRegistry:
    def __init__(self, flows: Sequence[Flow] = ()) -> None:
        self._flows: dict[str, Flow] = {}
        for flow in flows:
            self.add(flow)

    def add(self, flow: Flow) -> None:
        if flow.name in self._flows:
            raise ValueError(f"flow {flow.name} declared twice")
        self._flows[flow.name] = flow

    def get(self, name: str) -> Flow | None:
        return self._flows.get(name)

    def __getitem__(self, name: str) -> Flow:
        return self._flows[name]

    def __iter__(self) -> Any:
        return iter(self._flows.values())
