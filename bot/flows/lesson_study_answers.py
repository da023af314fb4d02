"""Answer types only lesson study needs: pseudonyms, key moments, change lists, revisions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.flows.answers import (
    Accepted,
    ChoiceIn,
    FreeText,
    Input,
    Option,
    OtherIn,
    Parsed,
    Rejected,
    TextIn,
    View,
)
from bot.flows.pseudonyms import suggested_pseudonym
from bot.texts import Label

PSEUDONYM_MAX = 40
MAX_PUPILS = 3
MAX_MOMENTS = 3


def _wrong_kind(given: Input, voice: bool = False) -> Rejected:
    if isinstance(given, ChoiceIn):
        return Rejected("stale_button")
    kind = given.kind if isinstance(given, OtherIn) else "voice"
    return Rejected("wrong_kind_text", {"kind": kind, "voice": voice})


def settled(item: Mapping[str, Any], position: int, taken: set[str]) -> str | None:
    """A case pupil's pseudonym as settled so far: typed, or the suggestion taken instead of
    a name-like entry (the check's value names the entry it was about, so a retyped entry
    is not mistaken for one the suggestion replaced)."""
    typed = item.get("name")
    if not isinstance(typed, str):
        return None
    if item.get("check") == f"use:{typed}":
        return suggested_pseudonym(position, taken)
    return typed


def _pupil_items(answers: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = answers.get("pupils")
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def pseudonyms(answers: Mapping[str, Any], upto: int | None = None) -> list[str | None]:
    """The pseudonyms of the case pupils named so far (the first `upto` of them)."""
    names: list[str | None] = []
    for position, item in enumerate(_pupil_items(answers)[:upto], start=1):
        names.append(settled(item, position, {n for n in names if n}))
    return names


def taken_before(view: View) -> set[str]:
    """Inside the pupil sub-flow: the pseudonyms of the pupils before this one."""
    outer = view.outer.answers if view.outer is not None else {}
    return {name for name in pseudonyms(outer, view.index) if name}


def case_pupils(answers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(pseudonym, typical of) of each case pupil the start flow settled, in order."""
    items = _pupil_items(answers)
    return [
        (name or f"Pupil {position}", str(item["group"]))
        for position, (name, item) in enumerate(zip(pseudonyms(answers), items, strict=True), 1)
        if "group" in item
    ]


def pairs(moments: int, pupils: int) -> list[list[int]]:
    """The order a grid of notes asks in: each key moment, every case pupil in it."""
    return [[m, p] for m in range(moments) for p in range(pupils)]


def by_pair(
    answers: Mapping[str, Any], key: str, moments: int, pupils: int
) -> dict[tuple[int, int], Any]:
    """The notes of a grid (`predict`, `obs`) by (moment, pupil): None where skipped."""
    found = zip(pairs(moments, pupils), answers.get(key) or [], strict=False)
    return {(m, p): item.get("note") for (m, p), item in found}


def per_pupil(answers: Mapping[str, Any], key: str) -> dict[int, Any]:
    """The notes per case pupil (`other`, `talk`) by the pupil's place in the cycle."""
    return {p: item.get("note") for p, item in enumerate(answers.get(key) or [])}


@dataclass(frozen=True)
class PseudonymAnswer:
    """A case pupil's pseudonym: typed, or the suggested "Pupil A" tapped."""

    def suggestion(self, view: View) -> str:
        return suggested_pseudonym(view.index + 1, taken_before(view))

    def options(self, view: View) -> Sequence[Option]:
        suggestion = self.suggestion(view)
        return (Option(suggestion, Label(text=suggestion)),)

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn):
            return Accepted(self.suggestion(view)) if given.index == 0 else _wrong_kind(given)
        if not isinstance(given, TextIn):
            return _wrong_kind(given)
        text = " ".join(given.text.split())
        if not text:
            return Rejected("too_short", {"min": 1})
        if len(text) > PSEUDONYM_MAX:
            return Rejected("too_long", {"length": len(text), "max": PSEUDONYM_MAX})
        if text.startswith("/"):
            return Rejected("name_command")
        taken = {t.casefold() for t in taken_before(view)}
        if text.casefold() in taken:
            return Rejected("ls_pseudonym_taken", {"given": text})
        return Accepted(text)


_NUMBERING = re.compile(r"^\d{1,2}[.)]\s*")


def _lines(text: str) -> list[str]:
    """One item per line; bullets and numbering people type are dropped."""
    items = []
    for line in text.splitlines():
        item = _NUMBERING.sub("", line.strip().lstrip("-•*·–").strip())
        if item:
            items.append(item)
    return items


@dataclass(frozen=True)
class ItemList:
    """Several short items typed one per line (key moments, changes for the next lesson).

    `keep_from` names a context list offered as a one-tap "keep the same" answer.
    """

    max_items: int
    item_max: int = 300
    keep_from: str | None = None
    keep_label: str = "ls_keep_same"

    def _kept(self, view: View) -> list[str]:
        found = view.context.get(self.keep_from) if self.keep_from else None
        return list(found) if isinstance(found, list) else []

    def options(self, view: View) -> Sequence[Option]:
        return (Option("keep", Label(self.keep_label)),) if self._kept(view) else ()

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn) and given.index == 0 and self._kept(view):
            return Accepted(self._kept(view))
        if not isinstance(given, TextIn):
            return _wrong_kind(given)
        items = _lines(given.text)
        if not items:
            return Rejected("too_short", {"min": 1})
        if len(items) > self.max_items:
            return Rejected("ls_too_many_lines", {"max": self.max_items})
        longest = max(len(item) for item in items)
        if longest > self.item_max:
            return Rejected("too_long", {"length": longest, "max": self.item_max})
        return Accepted(items)


@dataclass(frozen=True)
class Revisable:
    """Free text (or a voice note); when revising, "keep as it is" keeps the current text."""

    field: str
    max_len: int = 3000

    def _current(self, view: View) -> Any:
        current = view.context.get("current")
        return current.get(self.field) if isinstance(current, dict) else None

    def options(self, view: View) -> Sequence[Option]:
        return (Option("keep", Label("ls_keep_text")),) if self._current(view) is not None else ()

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn) and given.index == 0 and self._current(view) is not None:
            return Accepted(self._current(view))
        return FreeText(min_len=2, max_len=self.max_len).parse(given, view)
