"""Every template, in every language, with counts that need a plural (0, 1, 2, 5) and real
dates: no "1 members", and no English month or weekday in a Spanish or Portuguese text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.texts import LANGUAGES, Label, Texts, plural_text
from tests.test_templates import LESSON_STUDY, SAMPLE, TEMPLATES, VARIANTS

TEXTS = Texts()

# Values templates count with. Only whole numbers under these keys are replaced.
COUNTS = frozenset(
    {
        "summaries", "actions", "accounts", "trios", "trios_with_news", "count", "days",
        "members", "local_authorities", "quiet_weeks", "min", "more", "quiet_more",
    }
)  # fmt: skip
LESSON_TIME = Label(
    "when_zoned", {"moment": {"y": 2026, "m": 12, "d": 3, "hm": "10:15", "zone": "Europe/Lisbon"}}
)
SINCE = Label("day", {"value": "2026-12-03"})
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

ENGLISH_CALENDAR = re.compile(
    r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b|"
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|"
    r"April|June|July|August|September|October|November|December)\b"
)
# A number followed by the wrong form of the nouns the templates count.
NOUNS = {
    "en": ("summary|trio|day|week|member|action|account|authority|character",
           "summaries|trios|days|weeks|members|actions|accounts|authorities|characters"),
    "es": ("resumen|trío|día|semana|miembro|acción|relato|autoridad|carácter",
           "resúmenes|tríos|días|semanas|miembros|acciones|relatos|autoridades|caracteres"),
    "pt": ("síntese|trio|dia|semana|membro|ação|relato|autoridade|caráter",
           "sínteses|trios|dias|semanas|membros|ações|relatos|autoridades|carateres"),
}  # fmt: skip


def _counted(value: Any, n: int) -> Any:
    """`value` with every count in it set to `n`, and lesson times as the services give them."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in COUNTS and isinstance(item, int) and not isinstance(item, bool):
                out[key] = n
            elif key == "when" and isinstance(item, str):
                out[key] = LESSON_TIME
            elif key == "since" and isinstance(item, str) and not ISO_DAY.fullmatch(item):
                out[key] = SINCE
            else:
                out[key] = _counted(item, n)
        return out
    if isinstance(value, list):
        return [_counted(item, n) for item in value]
    return value


def _wrong_form(lang: str, n: int) -> re.Pattern[str]:
    one, other = NOUNS[lang]
    wrong = other if n == 1 else one
    return re.compile(rf"(?<![\d.,]){n} ({wrong})\b")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_every_template_counts_and_dates_in_its_language(lang: str, n: int) -> None:
    wrong = _wrong_form(lang, n)
    # Every variant once (with 1); the base sample for the other counts, to keep it quick.
    variants = VARIANTS if n == 1 else VARIANTS[:1]
    for name in TEMPLATES:
        own = LESSON_STUDY if name.startswith("lesson_study/") else {}
        for variant in variants:
            values = _counted({**SAMPLE, **own, **variant}, n)
            text = TEXTS.render(lang, name, values)
            assert not wrong.search(text), (lang, name, n, wrong.search(text))
            if lang != "en":
                found = ENGLISH_CALENDAR.search(text)
                assert found is None, (lang, name, found, text)


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [
        ("en", 1, "1 agreed meeting summary"),
        ("en", 0, "0 agreed meeting summaries"),
        ("en", 1200, "1,200 agreed meeting summaries"),
        ("es", 1, "1 resumen de reunión acordado"),
        ("es", 5, "5 resúmenes de reunión acordados"),
        ("pt", 1, "1 síntese de reunião acordada"),
        ("pt", 0, "0 sínteses de reunião acordadas"),
        ("pt", 1200, "1\xa0200 sínteses de reunião acordadas"),  # a space groups thousands
    ],
)
def test_the_digest_counts_summaries_in_each_language(lang: str, count: int, expected: str) -> None:
    sample = _counted(SAMPLE, 2)
    digest = sample["digest"]
    sample["digest"] = {**digest, "totals": {**digest["totals"], "summaries": count}}
    assert expected in TEXTS.render(lang, "digest/message", sample)


def test_a_plural_without_its_other_form_fails_loudly() -> None:
    with pytest.raises(KeyError):
        plural_text(2, "en", {"one": "# trio"})
