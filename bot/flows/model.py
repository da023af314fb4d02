"""Flows declared as data: a flow is a list of steps; one engine runs any of them.

A step asks one question. A `Repeat` runs a `SubFlow` (a few steps, declared once) for each
item of a list and stores the items as a list under its own key: the practices each school
shared, the barriers, the actions, the case pupils. `Repeat(..., max_items=1, min_items=1,
single=True)`, spelt `run(key, subflow)`, runs a sub-flow once and takes its answers as one
answer, the way aiogram_dialog starts a sub-dialog and takes its result.
"""

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
# May return a Rejected, before writing anything, to refuse the finished flow (the person may
# no longer do this): the engine closes the flow and replies with prompts/<lang>/refused/<reason>.
Complete = Callable[[Transaction, StepContext], Awaitable[Rejected | None]]
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


class _Sequence:
    """Steps in order, each `next` naming the one that follows (or a function choosing it)."""

    name: str
    steps: tuple[Any, ...]
    _index: dict[str, int]

    def _build_index(self) -> None:
        keys = [step.key for step in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError(f"flow {self.name}: duplicate step keys")
        if not self.steps:
            raise ValueError(f"flow {self.name}: no steps")
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(keys)})

    def find(self, key: str) -> Any:
        """The step or repeat declared under `key`, or None."""
        position = self._index.get(key)
        return None if position is None else self.steps[position]

    def after(self, step: Step | Repeat, view: View) -> str | None:
        """Key of the step that follows `step` given the answers, or None at the end."""
        if step.next == FOLLOWING:
            position = self._index[step.key] + 1
            return self.steps[position].key if position < len(self.steps) else None
        if callable(step.next):
            return step.next(view)
        return step.next


@dataclass(frozen=True)
class SubFlow(_Sequence):
    """Plain steps run as one answer: their answers, a mapping, are the item they make."""

    name: str
    steps: tuple[Step, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._build_index()

    @property
    def first(self) -> Step:
        return self.steps[0]


def _done(index: int) -> Label:
    return Label("done")


@dataclass(frozen=True)
class Repeat:
    """The answer is a list of items, each made by running `body`.

    With `each`, one item per element it returns (the schools of the trio, last time's
    actions): nothing to add or end. Otherwise up to `max_items`; after `min_items` the
    person ends the list — by an explicit "add another / done" question after each item
    when `more` names its template, else on the first question of the next item: by a done
    button labelled `done(index)`, or by skipping that question where it is optional ("no
    more barriers"). Either way a typed "done" (or "add another") works too.
    """

    key: str
    body: SubFlow
    max_items: int
    min_items: int = 0
    each: Callable[[View], Sequence[JSON]] | None = None
    more: str | None = None
    more_context: Callable[[View], Mapping[str, Any]] | None = None  # its values, per item
    done: Callable[[int], Label] | None = _done
    single: bool = False  # one item, stored as a mapping rather than a list of one
    next: NextStep = FOLLOWING
    optional: bool = False

    def __post_init__(self) -> None:
        if self.single and (self.max_items, self.min_items) != (1, 1):
            raise ValueError(f"repeat {self.key}: a single sub-flow has exactly one item")

    def count(self, view: View) -> int:
        """How many items there may be at most, given the answers so far."""
        return len(self.each(view)) if self.each is not None else self.max_items

    def ends_by_done(self, index: int) -> bool:
        """Whether item `index`'s first question offers "done" instead of an answer."""
        return self.each is None and self.more is None and index >= self.min_items


def run(key: str, body: SubFlow, *, next: NextStep = FOLLOWING) -> Repeat:
    """A step that runs the sub-flow `body` once and takes its answers as one answer."""
    return Repeat(key, body, max_items=1, min_items=1, single=True, next=next)


@dataclass(frozen=True)
class Flow(_Sequence):
    name: str
    steps: tuple[Step | Repeat, ...]
    done_template: str
    command: str  # how a person starts it again, e.g. "/reflect"
    complete: Complete | None = None
    done_context: Callable[[View], Mapping[str, Any]] | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._build_index()

    @property
    def title(self) -> Label:
        return Label(f"flow_{self.name}")


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
