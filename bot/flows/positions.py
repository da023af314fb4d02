"""Where a flow stands, and where it goes next: plain steps, items of repeats, sub-flows.

A position is a path, stored as the flow state's `step`: `focus` for a step of the flow,
`barriers/1/level` for the step `level` of the second item of the repeat `barriers`, and
`edits/0/+` for the "add another / done" question after the first item. Items are stored as
a list of mappings under the repeat's key (a mapping for a single sub-flow), so a restart
resumes inside an item as anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.flows.answers import (
    JSON,
    NO_WORDS,
    YES_WORDS,
    Accepted,
    ChoiceIn,
    Input,
    Option,
    OtherIn,
    Parsed,
    Rejected,
    TextIn,
    View,
    VoiceIn,
)
from bot.flows.model import Flow, Repeat, Step
from bot.texts import Label

MORE = "+"  # the path's last part for the question after an item

# Typed instead of tapping "done" or "add another" at the end of an item, in any of the
# bot's languages (en, es, pt): people type what the button says, or its usual short form.
DONE_WORDS = frozenset(
    {"done", "finished", "that's all", "thats all", "no more", "none", "nothing else",
     "listo", "hecho", "terminado", "ya está", "ya esta", "nada más", "nada mas", "ninguno",
     "eso es todo",
     "pronto", "feito", "terminei", "concluído", "concluido", "mais nada", "nada mais",
     "nenhum", "é tudo", "e tudo"}
)  # fmt: skip
ADD_WORDS = frozenset(
    {"add another", "another", "add", "more", "one more",
     "añadir otro", "añadir otra", "otro", "otra", "añadir", "más", "mas",
     "adicionar outro", "adicionar outra", "outro", "outra", "adicionar", "mais"}
)  # fmt: skip


def typed_word(text: str) -> str:
    """What a short typed reply says, without case, spaces around it or a full stop."""
    return " ".join(text.strip().casefold().rstrip(".!✓ ").split())


@dataclass(frozen=True)
class AddOrDone:
    """The question after an item of a list: add another (True), or done (False)."""

    def options(self, view: View) -> Sequence[Option]:
        return (Option("add", Label("add_another")), Option("done", Label("done")))

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn) and given.index in (0, 1):
            return Accepted(given.index == 0)
        if isinstance(given, TextIn):
            word = typed_word(given.text).lstrip("➕+ ")
            if word in ADD_WORDS or word in YES_WORDS:
                return Accepted(True)
            if word in DONE_WORDS or word in NO_WORDS:
                return Accepted(False)
        if isinstance(given, OtherIn):
            return Rejected("wrong_kind", {"kind": given.kind})
        if isinstance(given, VoiceIn):
            return Rejected("wrong_kind", {"kind": "voice"})
        return Rejected("add_or_done")


@dataclass(frozen=True, slots=True)
class Place:
    path: str
    step: Step
    repeat: Repeat | None = None
    index: int = 0

    @property
    def is_more(self) -> bool:
        return self.path.endswith(f"/{MORE}")

    @property
    def offers_done(self) -> bool:
        """The first question of an item that may instead end the list."""
        r = self.repeat
        return (
            r is not None
            and not self.is_more
            and self.step is r.body.first
            and r.ends_by_done(self.index)
        )


def _more_step(repeat: Repeat) -> Step:
    return Step(MORE, str(repeat.more), AddOrDone(), prompt_context=repeat.more_context)


def locate(flow: Flow, path: str) -> Place | None:
    """The place `path` names in `flow`; None if it names nothing there (a flow state kept
    from an earlier version of the flow, say, whose steps were numbered)."""
    parts = path.split("/")
    if len(parts) == 1:
        node = flow.find(path)
        return Place(path, node) if isinstance(node, Step) else None
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    repeat, index, inner = flow.find(parts[0]), int(parts[1]), parts[2]
    if not isinstance(repeat, Repeat) or index >= repeat.max_items:
        return None
    if inner == MORE:
        return Place(path, _more_step(repeat), repeat, index) if repeat.more else None
    step = repeat.body.find(inner)
    return Place(path, step, repeat, index) if step is not None else None


def items_of(answers: Mapping[str, JSON], repeat: Repeat) -> list[dict[str, JSON]]:
    stored = answers.get(repeat.key)
    if repeat.single:
        return [dict(stored)] if isinstance(stored, dict) else []
    return [dict(item) for item in stored] if isinstance(stored, list) else []


def view_at(
    place: Place, answers: Mapping[str, JSON], context: Mapping[str, JSON], now: datetime,
    tz: ZoneInfo,
) -> View:  # fmt: skip
    """What the step at `place` sees: the flow's answers, or inside an item the item's."""
    outer = View(answers, context, now, tz)
    repeat = place.repeat
    if repeat is None:
        return outer
    items = items_of(answers, repeat)
    mine = items[place.index] if place.index < len(items) else {}
    each = repeat.each(outer) if repeat.each is not None else None
    item = each[place.index] if each is not None and place.index < len(each) else None
    return View(mine, context, now, tz, index=place.index, item=item, outer=outer)


def stored(answers: Mapping[str, JSON], place: Place, value: JSON) -> dict[str, JSON]:
    """`answers` with `value` as the answer at `place`."""
    repeat = place.repeat
    if repeat is None:
        return {**answers, place.step.key: value}
    items = items_of(answers, repeat)
    while len(items) <= place.index:
        items.append({})
    items[place.index][place.step.key] = value
    return {**answers, repeat.key: items[0] if repeat.single else items}


def ended(answers: Mapping[str, JSON], repeat: Repeat, count: int) -> dict[str, JSON]:
    """`answers` with the list of `repeat` ended after `count` items."""
    return {**answers, repeat.key: items_of(answers, repeat)[:count]}


def enter(flow: Flow, key: str | None, view: View) -> str | None:
    """The path of the first question of the flow's step `key` (None: the flow is done)."""
    if key is None:
        return None
    node = flow.find(key)
    if isinstance(node, Repeat):
        return _start_item(flow, node, 0, view)
    return key


def _start_item(flow: Flow, repeat: Repeat, index: int, view: View) -> str | None:
    if index >= min(repeat.count(view), repeat.max_items):
        return leave(flow, repeat, view)
    return f"{repeat.key}/{index}/{repeat.body.first.key}"


def leave(flow: Flow, repeat: Repeat, view: View) -> str | None:
    """Where the flow goes once the list of `repeat` is complete."""
    return enter(flow, flow.after(repeat, view), view)


def following(
    flow: Flow, place: Place, answers: Mapping[str, JSON], inner: View, value: JSON
) -> str | None:
    """The path after `place` was answered with `value` (`answers` already hold it)."""
    outer = inner.outer or inner
    outer = View(answers, outer.context, outer.now, outer.tz)
    repeat = place.repeat
    if repeat is None:
        return enter(flow, flow.after(place.step, outer), outer)
    if place.is_more:  # after "done", `answers` already end the list with this item
        return (
            _start_item(flow, repeat, place.index + 1, outer)
            if value
            else leave(flow, repeat, outer)
        )
    items = items_of(answers, repeat)
    mine = View(items[place.index], inner.context, inner.now, inner.tz, index=place.index,
                item=inner.item, outer=outer)  # fmt: skip
    nxt = repeat.body.after(place.step, mine)
    if nxt is not None:
        return f"{repeat.key}/{place.index}/{nxt}"
    index = place.index + 1
    if repeat.more and repeat.each is None and repeat.min_items <= index < repeat.max_items:
        return f"{repeat.key}/{place.index}/{MORE}"
    return _start_item(flow, repeat, index, outer)


def on_path(flow: Flow, answers: Mapping[str, JSON], paths: list[str]) -> dict[str, JSON]:
    """Only the answers given on `paths`, the way actually taken (Back may have changed
    it): a branch left behind, or an item past where the list was ended, does not count."""
    kept: dict[str, Any] = {}
    lists: dict[str, dict[int, dict[str, JSON]]] = {}
    for path in paths:
        place = locate(flow, path)
        if place is None:
            continue
        repeat = place.repeat
        if repeat is None:
            if place.step.key in answers:
                kept[place.step.key] = answers[place.step.key]
            continue
        found = lists.setdefault(repeat.key, {})
        items = items_of(answers, repeat)
        if place.is_more or place.index >= len(items) or place.step.key not in items[place.index]:
            continue
        found.setdefault(place.index, {})[place.step.key] = items[place.index][place.step.key]
    for key, found in lists.items():
        repeat = flow.find(key)
        ordered = [found[i] for i in sorted(found)]
        kept[key] = (ordered[0] if ordered else {}) if repeat.single else ordered
    return kept


def fits(flow: Flow, step: str, trail: list[str]) -> bool:
    """Whether a stored position, and the way back from it, still name places in `flow`."""
    return all(locate(flow, path) is not None for path in (step, *trail))
