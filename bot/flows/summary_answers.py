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
    OneOf,
    Option,
    Parsed,
    Rejected,
    TextIn,
    View,
)
from bot.summaries.agreement import WHOLE_TRIO
from bot.summaries.attribution import barrier_default
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


def trio_schools(view: View) -> list[tuple[int, str]]:
    """The trio's schools (id, name) in the order the summary flow asks about them."""
    return [(int(sid), str(name)) for sid, name in view.context.get("schools", [])]


def barrier_schools(view: View) -> Sequence[Option]:
    """Which school a barrier belongs to: the trio's schools, the one it defaults to (the
    writer's) first, so the usual answer is the first button."""
    schools = trio_schools(view)
    first = barrier_default(view.context.get("writer_school"), [sid for sid, _ in schools])
    ordered = sorted(schools, key=lambda school: school[0] != first)
    return [Option(str(sid), Label(text=name)) for sid, name in ordered]


@dataclass(frozen=True)
class SchoolChoice:
    """One of the trio's schools: tapped, or typed as its number, its name or a part of the
    name only one school has ("castle" for Castle Primary)."""

    choices: Callable[[View], Sequence[Option]]

    def options(self, view: View) -> Sequence[Option]:
        return self.choices(view)

    def parse(self, given: Input, view: View) -> Parsed:
        options = self.options(view)
        parsed = OneOf(options).parse(given, view)
        if not (isinstance(parsed, Rejected) and isinstance(given, TextIn)):
            return parsed
        wanted = " ".join(given.text.casefold().split())
        if len(wanted) >= 3:
            found = [o for o in options if wanted in (o.label.text or "").casefold()]
            if len(found) == 1:
                return Accepted(found[0].value)
        return Rejected("not_a_trio_school", {"school_names": [o.label.text for o in options]})
