"""Text longer than a step takes: kept as a draft in the flow state, never dropped.

The person is asked to send a shorter version (the draft waits, across restarts, until the
step is answered) or, where the step takes its answer in parts, to save it split: the answer
is then the list of parts, each within the step's limit, cut at paragraph, sentence or word
boundaries so no part ends mid-word.
"""

from __future__ import annotations

import re

from bot.flows.answers import JSON, FreeText, TextIn
from bot.flows.model import Step
from bot.flows.positions import typed_word

DRAFT = "_draft"  # the context key: {"step": path, "text": what they sent}

# Typed instead of tapping "save it in parts", in each language.
SPLIT_WORDS = frozenset({"split", "parts", "in parts", "dividir", "partes", "en partes",
                         "em partes", "divide"})  # fmt: skip

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def parts_of(text: str, limit: int) -> list[str]:
    """`text` cut into as few parts as fit `limit`, at the largest boundary that works."""
    text = text.strip()
    if len(text) <= limit:
        return [text]
    for breaks in _BREAKS:
        pieces = [p.strip() for p in breaks.split(text) if p.strip()]
        if all(len(p) <= limit for p in pieces) and len(pieces) > 1:
            return _pack(pieces, limit, "\n\n" if breaks is _BREAKS[0] else " ")
    # One word longer than the limit (a pasted link, say): cut it where it must be cut.
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _pack(pieces: list[str], limit: int, glue: str) -> list[str]:
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{glue}{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = piece
    if current:
        parts.append(current)
    return parts


def splittable(step: Step) -> bool:
    return isinstance(step.answer, FreeText) and step.answer.parts


def draft_for(context: dict[str, JSON] | object, path: str) -> str | None:
    """The draft kept for the question at `path`, if any."""
    if not isinstance(context, dict):
        return None
    draft = context.get(DRAFT)
    if isinstance(draft, dict) and draft.get("step") == path:
        text = draft.get("text")
        return text if isinstance(text, str) else None
    return None


def asks_split(given: object) -> bool:
    return isinstance(given, TextIn) and typed_word(given.text) in SPLIT_WORDS
