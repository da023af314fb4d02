"""The programme's reflection prompts as declared in prompts/reflections.toml: who is asked,
how often, on which weekday, and when an unanswered prompt earns its one nudge."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.texts import prompts_root

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


@dataclass(frozen=True, slots=True)
class PromptDefinition:
    key: str
    roles: frozenset[str]
    cadence: str
    weekday: int = 1
    trios: frozenset[str] = frozenset()
    cron: str | None = None
    nudge_after: timedelta = timedelta(hours=48)

    @property
    def template(self) -> str:
        return f"reflections/{self.key}"


def load_definitions(path: Path | None = None) -> tuple[PromptDefinition, ...]:
    data = tomllib.loads((path or prompts_root() / "reflections.toml").read_text("utf-8"))
    found = []
    for item in data.get("prompt", []):
        cadence = item.get("cadence", "weekly")
        if cadence not in ("weekly", "fortnightly", "cron"):
            raise ValueError(f"prompt {item.get('key')}: unknown cadence {cadence!r}")
        if cadence == "cron" and not item.get("cron"):
            raise ValueError(f"prompt {item.get('key')}: cadence cron needs a cron line")
        found.append(
            PromptDefinition(
                key=item["key"],
                roles=frozenset(item.get("roles", ["teacher", "trio_lead"])),
                cadence=cadence,
                weekday=WEEKDAYS.index(item.get("weekday", "tue")),
                trios=frozenset(item.get("trios", [])),
                cron=item.get("cron"),
                nudge_after=timedelta(hours=float(item.get("nudge_after_hours", 48))),
            )
        )
    return tuple(found)
