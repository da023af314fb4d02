"""Case pupils go by pseudonym only: what looks like a real name is queried before it is kept.

The check is deliberately cautious (a query costs one tap; a real name stored costs a pupil's
privacy): an entry is name-like when any word is a common first name in the programme's
languages, or when it has the shape of a name — capitalised words of letters ("Jayden",
"Ana Lúcia", "J. Smith") — and is not a pseudonym pattern such as "Pupil A", "P1", "Student B",
"Alumno 3" or a single letter.
"""

from __future__ import annotations

import re
import unicodedata

# Words people use for anonymous pupils, in English, Spanish and Portuguese.
PSEUDONYM_WORDS = frozenset(
    {
        "pupil", "student", "learner", "child", "kid", "case", "boy", "girl", "pupils",
        "alumno", "alumna", "estudiante", "nino", "nina", "chico", "chica", "caso",
        "aluno", "aluna", "estudante", "crianca", "menino", "menina",
    }
)  # fmt: skip

# Common given names in the places the programme's schools are (UK, Spain, Portugal, Brazil),
# including names common among families of South Asian, African, Eastern European and Arabic
# heritage in English cities. Compared without accents and case.
_FIRST_NAMES_TEXT = """
oliver george harry jack jacob noah charlie muhammad mohammed mohammad ahmed ali omar thomas
oscar william james leo alfie henry joshua freddie archie ethan isaac alexander joseph
edward samuel max daniel logan lucas mason theo dylan riley tyler kyle liam jayden callum
connor kai reuben ryan aaron adam ben benjamin luke matthew michael david john olivia amelia
isla ava emily isabella mia poppy ella lily sophia sophie grace evie jessica chloe ruby
millie freya daisy layla phoebe sienna zara aisha fatima maryam amira hannah holly leah lucy
megan molly summer willow ellie erin katie lauren charlotte alice scarlett priya anika arjun
rohan aarav ravi sanjay deepa kiran harpreet gurpreet simran jaspreet kwame kofi ama chidi
emeka ngozi tunde amara adaeze tomasz jakub kacper zuzanna oliwia maria jose antonio manuel
francisco juan david javier carlos miguel alejandro pablo sergio jorge alberto diego adrian
alvaro hugo mateo martin lucas leo marcos mario andres lucia sofia martina paula julia
valeria carmen ana laura marta sara elena alba irene noa claudia daniela andrea cristina
raquel rocio nerea ainhoa iker unai aitor joao pedro tiago rodrigo goncalo duarte afonso
tomas guilherme gabriel rafael diogo miguel bernardo santiago vicente salvador enzo arthur
heitor davi bernardo gustavo beatriz mariana ines matilde leonor carolina margarida
francisca constanca rita madalena luana larissa camila fernanda juliana gabriela isadora
helena alice manuela
"""
FIRST_NAMES = frozenset(_FIRST_NAMES_TEXT.split())

_PSEUDONYM_PATTERNS = (
    re.compile(r"[a-z]", re.IGNORECASE),  # a single letter
    re.compile(r"[a-z]{1,3}[ -]?\d{1,3}", re.IGNORECASE),  # P1, CP-2, S12
    re.compile(r"\d{1,4}"),
)
_NAME_WORD = re.compile(r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?")
_INITIAL = re.compile(r"[A-Z]\.?")


def _plain(text: str) -> str:
    """Lower case, accents removed: 'Lúcia' → 'lucia', 'Gonçalo' → 'goncalo'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def is_pseudonym_pattern(text: str) -> bool:
    words = _plain(text).replace("-", " ").split()
    if not words:
        return False
    if words[0] in PSEUDONYM_WORDS and len(words) <= 3:
        return True  # "Pupil A", "Student B2", "Alumna 3", "Case pupil 1"
    joined = " ".join(words)
    return any(p.fullmatch(joined) for p in _PSEUDONYM_PATTERNS)


def looks_like_name(text: str) -> bool:
    """True when `text` may be a real pupil's name and should be queried."""
    text = " ".join(text.split())
    if not text or is_pseudonym_pattern(text):
        return False
    words = text.split()
    if any(_plain(word).strip(".,'") in FIRST_NAMES for word in words):
        return True
    if len(words) > 3:
        return False  # a description ("the quiet one near the window"), not a name
    # The shape of a name: capitalised words, perhaps with initials ("J. Smith", "Ana Lúcia").
    plain_words = [_plain_shape(word) for word in words]
    named = [w for w in plain_words if _NAME_WORD.fullmatch(w)]
    initials = [w for w in plain_words if _INITIAL.fullmatch(w)]
    return bool(named) and len(named) + len(initials) == len(words) and len(named[0]) >= 3


def _plain_shape(word: str) -> str:
    """Accents removed but case kept, so 'Lúcia' has the shape of 'Lucia'."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def suggested_pseudonym(position: int, taken: set[str]) -> str:
    """'Pupil A', 'Pupil B', …: the first not already used in this cycle."""
    for letter in "ABCDEFGH"[position - 1 :] + "ABCDEFGH":
        candidate = f"Pupil {letter}"
        if candidate.casefold() not in {t.casefold() for t in taken}:
            return candidate
    return f"Pupil {position}"
