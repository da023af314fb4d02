"""What the summary flows' steps accept and offer, shared by writing a summary and editing one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.flows.answers import (
    JSON,
    Accepted,
    ChoiceIn,
    FreeText,
    Input,
    Option,
    Parsed,
    Rejected,
    View,
)
from bot.summaries.agreement import WHOLE_TRIO
from bot.texts import Label
from storage.summaries import LEVELS

TEXT = FreeText(min_len=2, max_len=1500)


@dataclass(frozen=True)
class TextOrChoice:
    """Free text (or a voice note), or one of a few buttons such as "no actions agreed"."""

    choices: Callable[[View], Sequence[Option]]
    text: FreeText = field(default_factory=lambda: TEXT)

    def options(self, view: View) -> Sequence[Option]:
        return self.choices(view)

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn):
            options = self.options(view)
            if 0 <= given.index < len(options):
                return Accepted(options[given.index].value)
            return Rejected("stale_button")
        return self.text.parse(given, view)


def owners(view: View) -> Sequence[Option]:
    members = [Option(str(pid), Label(text=name)) for pid, name in view.context.get("members", [])]
    return [*members, Option(WHOLE_TRIO, Label("whole_trio"))]


STATUS_OPTIONS = tuple(
    Option(s, Label("action_status", {"status": s}))
    for s in ("done", "in_progress", "dropped", "open")
)
LEVEL_OPTIONS = tuple(Option(level, Label("level", {"level": level})) for level in LEVELS)


def listed(answers: Mapping[str, JSON], key: str) -> list[dict[str, JSON]]:
    found = answers.get(key)
    return [dict(item) for item in found] if isinstance(found, list) else []
