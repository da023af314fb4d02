"""Dates, times and counts in the reader's language (Babel, CLDR data): what the templates'
`day`, `clock`, `when` and `plural` filters (bot/texts) write."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal

DEFAULT_LANGUAGE = "en"

# Babel's locale for each language of the prompts. The Portuguese texts are European and the
# English British, like the programme's schools: day before month, a 24-hour clock.
LOCALES = {"en": "en_GB", "es": "es_ES", "pt": "pt_PT"}
# How a date is written, weekday first so nobody has to work it out; the names come from
# Babel. Portuguese sets its long weekday ("terça") off with a comma.
DAY_PATTERNS = {"en": "EEE d MMM y", "es": "EEE d MMM y", "pt": "EEE, d MMM y"}


def locale_of(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, LOCALES[DEFAULT_LANGUAGE]))


def day_text(value: date | str, lang: str) -> str:
    """A date with its weekday, in the language's own words: "Tue 30 Nov 2027",
    "mar 30 nov 2027", "terça, 30 nov. 2027". Takes a date or ISO text (a stored answer)."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        value = date.fromisoformat(value)
    pattern = DAY_PATTERNS.get(lang, DAY_PATTERNS[DEFAULT_LANGUAGE])
    return str(format_date(value, pattern, locale=locale_of(lang)))


def clock_text(value: time | str, lang: str) -> str:
    """A time of day: "16:00" (the 24-hour clock in all three languages)."""
    if isinstance(value, str):
        value = time.fromisoformat(value)
    return str(format_time(value, "HH:mm", locale=locale_of(lang)))


def moment_text(moment: Mapping[str, Any] | datetime, lang: str) -> str:
    """A date and time on a wall clock: "Tue, 1 Dec 2026, 16:00". Takes an aware or naive
    datetime (already local) or a `moment` mapping (bot.scheduling.notices.moment)."""
    if isinstance(moment, datetime):
        day, hm = moment.date(), moment.strftime("%H:%M")
    else:
        day, hm = date(int(moment["y"]), int(moment["m"]), int(moment["d"])), str(moment["hm"])
    pattern = str(locale_of(lang).datetime_formats["medium"])
    return pattern.format(clock_text(hm, lang), day_text(day, lang))


def plural_text(count: int, lang: str, forms: Mapping[str, str]) -> str:
    """The form of `forms` (keyed by CLDR plural category: one, few, many, other) the
    language uses for `count`, with "#" replaced by the number as the language writes it."""
    if "other" not in forms:
        raise KeyError("a plural needs its 'other' form")
    locale = locale_of(lang)
    form = forms.get(str(locale.plural_form(count)), forms["other"])
    return form.replace("#", str(format_decimal(count, locale=locale)))
