"""Compact, signed callback data: Telegram allows 64 bytes and button data is never trusted.

Each family of buttons is declared here once, as a small frozen dataclass with its wire
format (`prefix:field:…~mac`): the code that puts a button on a message and the handler
that reads the tap import the same declaration. The data only says which thing was meant;
whoever acts on it checks the stored state and the permission table again.

The wire format is the one these buttons had before they were declared (a message sent
before an upgrade keeps working); a signed payload that does not parse as its family is
refused like a forged one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol, Self, get_args

MAX_BYTES = 64
_MAC_CHARS = 11  # 66 bits of HMAC: forging one by trial is out of reach.


class ButtonSigner:
    """Signs `payload` strings (colon-separated fields) into callback data and verifies them."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("button key too short")
        self._key = key

    def _mac(self, payload: str) -> str:
        digest = hmac.digest(self._key, payload.encode(), hashlib.sha256)  # one-shot: C
        return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]

    def sign(self, *fields: str | int) -> str:
        payload = ":".join(str(f) for f in fields)
        data = f"{payload}~{self._mac(payload)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {payload!r}")
        return data

    def verify(self, data: str) -> list[str] | None:
        """The fields if the signature holds, else None (forged, truncated or foreign)."""
        payload, sep, mac = data.rpartition("~")
        if not sep or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        return payload.split(":")

    def encode(self, tap: Tap) -> str:
        """The callback data for a declared button."""
        return self.sign(tap.PREFIX, *tap.fields())

    def decode(self, data: str) -> Tap | None:
        """The declared button behind `data`, or None if it is forged, foreign or malformed."""
        fields = self.verify(data)
        if not fields:
            return None
        family = FAMILIES.get(fields[0])
        return None if family is None else family.parse(fields[1:])


class Tap(Protocol):
    """One family of buttons: its prefix, and its fields after the prefix, both ways."""

    PREFIX: ClassVar[str]

    def fields(self) -> tuple[str | int, ...]: ...

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None: ...


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


def _one_of(text: str, allowed: object) -> str | None:
    return text if text in get_args(allowed) else None


def pattern(family: type[Tap]) -> str:
    """A regular expression matching this family's callback data (before verification), for
    routing: the handler still verifies the signature."""
    return f"^{family.PREFIX}[:~]"


# --- the families ---------------------------------------------------------------------------

FlowAction = str  # "o<i>", "t<i>", "d", "b", "s", "x": the flow engine reads it


@dataclass(frozen=True, slots=True)
class FlowTap:
    """A button on a flow's question: the engine's state id and sequence (base 36), and the
    choice (bot/flows/engine.py signs and checks these itself)."""

    PREFIX: ClassVar[str] = "f"
    state: str
    seq: str
    action: FlowAction

    def fields(self) -> tuple[str | int, ...]:
        return (self.state, self.seq, self.action)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        return cls(*fields) if len(fields) == 3 else None


@dataclass(frozen=True, slots=True)
class ChosenTap:
    """The ✓ button left where a choice was made: tapping it changes nothing."""

    PREFIX: ClassVar[str] = "n"

    def fields(self) -> tuple[str | int, ...]:
        return ()

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        return cls() if not fields else None


# mv move · cx cancel? · cy cancel it · ck keep it · at attendance · rf reflect ·
# sm write the summary · rn ask <person> to write it · sy the lead writes it after all (someone
# else was asked) · sn leaves it to them
MeetingAction = Literal["mv", "cx", "cy", "ck", "at", "rf", "sm", "rn", "sy", "sn"]


@dataclass(frozen=True, slots=True)
class MeetingTap:
    """A button on a meeting message; `person_id` only for "rn" (who is asked to write)."""

    PREFIX: ClassVar[str] = "m"
    meeting_id: int
    action: MeetingAction
    person_id: int | None = None

    def fields(self) -> tuple[str | int, ...]:
        if self.person_id is None:
            return (self.meeting_id, self.action)
        return (self.meeting_id, self.action, self.person_id)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        if len(fields) not in (2, 3):
            return None
        meeting_id, action = _int(fields[0]), _one_of(fields[1], MeetingAction)
        person_id = _int(fields[2]) if len(fields) == 3 else None
        if meeting_id is None or action is None or (len(fields) == 3) != (action == "rn"):
            return None
        if len(fields) == 3 and person_id is None:
            return None
        return cls(meeting_id, action, person_id)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class TrioTap:
    """➕ New meeting for a trio."""

    PREFIX: ClassVar[str] = "t"
    trio_id: int

    def fields(self) -> tuple[str | int, ...]:
        return (self.trio_id, "n")

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        trio_id = _int(fields[0]) if len(fields) == 2 and fields[1] == "n" else None
        return None if trio_id is None else cls(trio_id)


# a approve · s suggest a change · e edit (the author) · c confirm as agreed (the lead)
SummaryAction = Literal["a", "s", "e", "c"]


@dataclass(frozen=True, slots=True)
class SummaryTap:
    """A button on a draft summary, for one revision (0 where any revision is meant)."""

    PREFIX: ClassVar[str] = "s"
    summary_id: int
    revision: int
    action: SummaryAction

    def fields(self) -> tuple[str | int, ...]:
        return (self.summary_id, self.revision, self.action)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        if len(fields) != 3:
            return None
        summary_id, revision = _int(fields[0]), _int(fields[1])
        action = _one_of(fields[2], SummaryAction)
        if summary_id is None or revision is None or action is None:
            return None
        return cls(summary_id, revision, action)  # type: ignore[arg-type]


# d done · p in progress · x dropped
ActionMark = Literal["d", "p", "x"]


@dataclass(frozen=True, slots=True)
class ActionTap:
    """How an agreed action went, from its owner (or the trio's lead)."""

    PREFIX: ClassVar[str] = "a"
    action_id: int
    mark: ActionMark

    def fields(self) -> tuple[str | int, ...]:
        return (self.action_id, self.mark)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        if len(fields) != 2:
            return None
        action_id, mark = _int(fields[0]), _one_of(fields[1], ActionMark)
        if action_id is None or mark is None:
            return None
        return cls(action_id, mark)  # type: ignore[arg-type]


# a answer now · h snooze an hour · e this evening · t tomorrow · k skip this one
ReflectionAction = Literal["a", "h", "e", "t", "k"]


@dataclass(frozen=True, slots=True)
class ReflectionTap:
    """A button on a reflection prompt."""

    PREFIX: ClassVar[str] = "r"
    reflection_id: int
    action: ReflectionAction

    def fields(self) -> tuple[str | int, ...]:
        return (self.reflection_id, self.action)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        if len(fields) != 2:
            return None
        reflection_id, action = _int(fields[0]), _one_of(fields[1], ReflectionAction)
        if reflection_id is None or action is None:
            return None
        return cls(reflection_id, action)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LessonStudyTap:
    """A button on a lesson-study message: the cycle, the task (bot/lesson_study/views.py
    STAGE_TASKS, AGREEMENT_TASKS) and what it refers to (the stage's sequence number, or the
    account's revision)."""

    PREFIX: ClassVar[str] = "l"
    cycle_id: int
    task: str
    ref: int

    def fields(self) -> tuple[str | int, ...]:
        return (self.cycle_id, self.task, self.ref)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        if len(fields) != 3:
            return None
        cycle_id, ref = _int(fields[0]), _int(fields[2])
        if cycle_id is None or ref is None or not fields[1].isalpha():
            return None
        return cls(cycle_id, fields[1], ref)


@dataclass(frozen=True, slots=True)
class PromptReplyTap:
    """Under a message taken as the answer to a prompt: "not an answer — keep it as a free
    reflection" (bot/reflections/replies.py)."""

    PREFIX: ClassVar[str] = "u"
    reflection_id: int

    def fields(self) -> tuple[str | int, ...]:
        return (self.reflection_id,)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        reflection_id = _int(fields[0]) if len(fields) == 1 else None
        return None if reflection_id is None else cls(reflection_id)


@dataclass(frozen=True, slots=True)
class TakenTap:
    """Under the first answer of a flow a message opened (the questions after a meeting, a
    lesson's notes): "not an answer — keep it as a free reflection" closes that flow."""

    PREFIX: ClassVar[str] = "v"
    state_id: int

    def fields(self) -> tuple[str | int, ...]:
        return (self.state_id,)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        state_id = _int(fields[0]) if len(fields) == 1 else None
        return None if state_id is None else cls(state_id)


# The partnership loop (bot/summaries/partnership*.py): o answer question `ref` · p "Not for
# me" on it · l page `ref` of /questions · k page `ref` of /comment · s comment on summary
# `ref` · c comment on account `ref`. `scope` is a /questions or /comment filter: "t<trio id>",
# "a<local authority id>", or "" for none.
QuestionAction = Literal["o", "p", "l", "k", "s", "c"]


@dataclass(frozen=True, slots=True)
class QuestionTap:
    """A button on a researcher's list of questions or agreed work, or on a passed question."""

    PREFIX: ClassVar[str] = "q"
    action: QuestionAction
    ref: int
    scope: str = ""

    def fields(self) -> tuple[str | int, ...]:
        return (self.action, self.ref, self.scope)

    @classmethod
    def parse(cls, fields: Sequence[str]) -> Self | None:
        if len(fields) != 3:
            return None
        action, ref, scope = _one_of(fields[0], QuestionAction), _int(fields[1]), fields[2]
        if action is None or ref is None or ref < 0:
            return None
        if scope and not (scope[0] in "ta" and scope[1:].isdigit()):
            return None
        return cls(action, ref, scope)  # type: ignore[arg-type]


FAMILIES: dict[str, type[Tap]] = {
    family.PREFIX: family
    for family in (
        FlowTap,
        ChosenTap,
        MeetingTap,
        TrioTap,
        SummaryTap,
        ActionTap,
        ReflectionTap,
        LessonStudyTap,
        PromptReplyTap,
        TakenTap,
        QuestionTap,
    )
}
