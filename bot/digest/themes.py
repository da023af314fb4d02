"""Recurring themes: phrases that come up in more than one trio's words in a week.

Deliberately simple and explainable to a teacher: lower-cased words, common words removed
(English, Spanish, Portuguese), then two-word phrases and longer single words, each counted
by the number of distinct trios that used it. A single word is dropped when a phrase holding
it already covers the same trios ("tickets" under "exit tickets").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
MIN_WORD = 5  # a single word must be at least this long to count as a theme

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "get",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "like",
        "lot",
        "lots",
        "made",
        "make",
        "many",
        "me",
        "more",
        "most",
        "much",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "really",
        "same",
        "she",
        "should",
        "so",
        "some",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "try",
        "tried",
        "trying",
        "under",
        "until",
        "up",
        "us",
        "very",
        "was",
        "we",
        "week",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "able",
        "across",
        "again",
        "think",
        "thought",
        "things",
        "thing",
        "went",
        "going",
        "using",
        "used",
        "use",
        "well",
        "work",
        "worked",
        "pupils",
        "pupil",
        "children",
        "students",
        "student",
        "class",
        "lesson",
        "lessons",
        "school",
        "schools",
        "teacher",
        "teachers",
        "trio",
        "really",
        "quite",
        "bit",
        "next",
        "first",
        "time",
        "times",
        "day",
        "days",
        "al",
        "algo",
        "como",
        "con",
        "cuando",
        "de",
        "del",
        "el",
        "ella",
        "ellos",
        "en",
        "entre",
        "era",
        "es",
        "esta",
        "este",
        "esto",
        "fue",
        "ha",
        "han",
        "hay",
        "la",
        "las",
        "le",
        "les",
        "lo",
        "los",
        "me",
        "mi",
        "mis",
        "muy",
        "más",
        "no",
        "nos",
        "o",
        "para",
        "pero",
        "por",
        "porque",
        "que",
        "se",
        "ser",
        "si",
        "sin",
        "sobre",
        "su",
        "sus",
        "también",
        "te",
        "tiene",
        "un",
        "una",
        "uno",
        "unos",
        "y",
        "ya",
        "yo",
        "alumnos",
        "clase",
        "escuela",
        "semana",
        "ao",
        "aos",
        "as",
        "com",
        "da",
        "das",
        "de",
        "do",
        "dos",
        "e",
        "ela",
        "ele",
        "eles",
        "em",
        "entre",
        "era",
        "essa",
        "esse",
        "isso",
        "foi",
        "há",
        "mais",
        "mas",
        "meu",
        "minha",
        "muito",
        "na",
        "nas",
        "no",
        "nos",
        "não",
        "o",
        "os",
        "ou",
        "para",
        "pela",
        "pelo",
        "por",
        "porque",
        "que",
        "se",
        "sem",
        "ser",
        "seu",
        "sua",
        "também",
        "tem",
        "um",
        "uma",
        "umas",
        "uns",
        "já",
        "eu",
        "alunos",
        "aula",
        "escola",
        "semana",
        "turma",
    ]
)


@dataclass(frozen=True, slots=True)
class Theme:
    phrase: str
    trios: tuple[str, ...]  # trio references, sorted

    @property
    def count(self) -> int:
        return len(self.trios)


def _phrases(text: str) -> set[str]:
    # One pass, no list of words: a week's ~6,500 texts for the researcher digest.
    found: set[str] = set()
    add = found.add
    previous: str | None = None
    for word in _WORD.findall(text):
        word = word.lower()
        if "’" in word:
            word = word.replace("’", "'")
        if len(word) < 3 or word in STOPWORDS:
            previous = None
            continue
        if len(word) >= MIN_WORD:
            add(word)
        if previous is not None:
            add(f"{previous} {word}")
        previous = word
    return found


def recurring(texts: Iterable[tuple[str, str]], *, limit: int = 12) -> list[Theme]:
    """Themes from (trio reference, text) pairs: used by at least two trios, most trios first."""
    trios_of: dict[str, set[str]] = defaultdict(set)
    for trio, text in texts:
        if not isinstance(trio, str) or not trio or not isinstance(text, str) or not text:
            continue
        for phrase in _phrases(text):
            trios_of[phrase].add(trio)
    shared = {p: frozenset(t) for p, t in trios_of.items() if len(t) >= 2}
    covered = {
        word
        for phrase, trios in shared.items()
        if " " in phrase
        for word in phrase.split()
        if shared.get(word, frozenset()) <= trios
    }
    ranked = sorted(
        (p for p in shared if p not in covered),
        key=lambda p: (-len(shared[p]), -p.count(" "), p),
    )
    return [Theme(p, tuple(sorted(shared[p]))) for p in ranked[:limit]]
