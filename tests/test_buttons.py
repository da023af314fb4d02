"""Each family of buttons round-trips through its signed callback data, stays within
Telegram's 64 bytes, reads data signed before the families were declared, and refuses data
that is forged, foreign or malformed."""

from __future__ import annotations

import re

import pytest

from bot.buttons import (
    FAMILIES,
    MAX_BYTES,
    ActionTap,
    ButtonSigner,
    ChosenTap,
    FlowTap,
    LessonStudyTap,
    MeetingTap,
    ReflectionTap,
    SummaryTap,
    Tap,
    TrioTap,
    pattern,
)

BIG = 2**53  # ids far beyond any this bot will reach
SAMPLES: list[Tap] = [
    FlowTap("zzzzzz", "zzzz", "o12"),
    ChosenTap(),
    MeetingTap(BIG, "mv"),
    MeetingTap(BIG, "rn", BIG),
    TrioTap(BIG),
    SummaryTap(BIG, 999, "a"),
    ActionTap(BIG, "x"),
    ReflectionTap(BIG, "k"),
    LessonStudyTap(BIG, "y", 999),
]
signer = ButtonSigner(b"k" * 32)


@pytest.mark.parametrize("tap", SAMPLES, ids=lambda t: type(t).__name__)
def test_every_family_round_trips_within_64_bytes(tap: Tap) -> None:
    data = signer.encode(tap)
    assert len(data.encode()) <= MAX_BYTES
    assert signer.decode(data) == tap
    assert FAMILIES[tap.PREFIX] is type(tap)
    assert re.match(pattern(type(tap)), data)
    others = [f for f in FAMILIES.values() if f is not type(tap)]
    assert not any(re.match(pattern(f), data) for f in others)


def test_buttons_signed_before_the_families_were_declared_still_read() -> None:
    assert signer.decode(signer.sign("m", 5, "rn", 7)) == MeetingTap(5, "rn", 7)
    assert signer.decode(signer.sign("m", 5, "cy")) == MeetingTap(5, "cy")
    assert signer.decode(signer.sign("t", 3, "n")) == TrioTap(3)
    assert signer.decode(signer.sign("s", 9, 0, "c")) == SummaryTap(9, 0, "c")
    assert signer.decode(signer.sign("a", 4, "d")) == ActionTap(4, "d")
    assert signer.decode(signer.sign("r", 8, "h")) == ReflectionTap(8, "h")
    assert signer.decode(signer.sign("l", 2, "o", 6)) == LessonStudyTap(2, "o", 6)
    assert signer.decode(signer.sign("n")) == ChosenTap()
    assert signer.decode(signer.sign("f", "1a", "2", "b")) == FlowTap("1a", "2", "b")


@pytest.mark.parametrize(
    "fields",
    [
        ("m", 5),  # too short
        ("m", 5, "zz"),  # no such action
        ("m", 5, "rn"),  # whom to ask is missing
        ("m", 5, "mv", 7),  # a person where none belongs
        ("m", "five", "mv"),
        ("t", 3, "x"),
        ("s", 9, "c"),
        ("a", 4, "done"),
        ("r", 8, "h", 1),
        ("l", 2, "o", "six"),
        ("n", 1),
        ("q", 1, "x"),  # no such family
    ],
)
def test_signed_but_malformed_data_is_refused(fields: tuple[str | int, ...]) -> None:
    assert signer.decode(signer.sign(*fields)) is None


def test_forged_or_foreign_data_is_refused() -> None:
    data = signer.encode(MeetingTap(5, "cy"))
    other = ButtonSigner(b"x" * 32)
    assert other.decode(data) is None
    assert signer.decode(data.replace("5", "6", 1)) is None
    assert signer.decode("m:5:cy") is None
    assert signer.decode("") is None


def test_data_over_64_bytes_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        signer.encode(FlowTap("x" * 50, "1", "o1"))


def test_every_family_but_the_engines_own_is_routed_to_a_handler() -> None:
    from bot.app.factory import BUTTON_ROUTES

    routed = [family for family, _ in BUTTON_ROUTES]
    assert len(routed) == len(set(routed))
    assert {*routed, FlowTap} == set(FAMILIES.values())  # flow buttons: the catch-all, last
