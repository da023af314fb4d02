"""Every user-visible text comes from Jinja2 templates in prompts/<lang>/."""

from __future__ import annotations

import contextlib
import hashlib
import html
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    Template,
    pass_context,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context
from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class Label:
    """A button label: a key in the language's label catalogue, or literal text (data)."""

    key: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None


LANGUAGES = ("en", "es", "pt")
_BLANK_LINES = re.compile(r"\n{3,}")
DEFAULT_LANGUAGE = "en"
TELEGRAM_LIMIT = 4096

# The command menu, in the order people see it; each has a `cmd_<name>` label. /help lists
# the same commands (less /start and /help), so the two cannot drift apart.
MENU = (
    "start",
    "help",
    "meeting",
    "summary",
    "reflect",
    "digest",
    "lessonstudy",
    "settings",
    "privacy",
    "cancel",
)
# Not in the menu everyone sees: /help names them to leads and coordinators.
LEAD_COMMANDS = ("status", "invite")


# Babel's locale for each language of the prompts. The Portuguese texts are European and the
# English British, like the programme's schools: day before month, a 24-hour clock.
LOCALES = {"en": "en_GB", "es": "es_ES", "pt": "pt_PT"}
# How a date is written, weekday first so nobody has to work it out; the names come from
# Babel. Portuguese sets its long weekday ("terça") off with a comma.
DAY_PATTERNS = {"en": "EEE d MMM y", "es": "EEE d MMM y", "pt": "EEE, d MMM y"}


def pick_language(setting: str | None, telegram_code: str | None) -> str:
    """The person's setting, else Telegram's language_code, else English."""
    if setting in LANGUAGES:
        return setting
    base = (telegram_code or "").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def prompts_root() -> Path:
    return Path(str(resources.files("prompts")))


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept for the life of the process, shared by every `Texts` (Jinja
    checks each against its source's checksum, so an edit still shows), and on disk like
    __pycache__, in Jinja's private per-user cache directory: a fresh process loads them
    instead of compiling (0.08-0.15 s of its first digest). No usable directory: memory only."""

    def __init__(self, disk: BytecodeCache | None = None) -> None:
        self._store: dict[str, bytes] = {}
        self._disk = disk

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)
            return
        if self._disk is None:
            return
        try:
            self._disk.load_bytecode(bucket)  # nothing loaded when the checksum differs
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):  # compiled again
            bucket.reset()
        if bucket.code is not None:
            self._store[bucket.key] = bucket.bytecode_to_string()

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()
        if self._disk is not None:
            with contextlib.suppress(OSError):
                self._disk.dump_bytecode(bucket)


def _disk_bytecode() -> BytecodeCache | None:
    """Entries named for this module's text and Jinja's version as well as the template: the
    compiled code depends on the Environment's options (set below) and Jinja's compiler, which
    the source checksum Jinja keeps does not cover."""
    made_by = hashlib.sha256(Path(__file__).read_bytes() + jinja2.__version__.encode())
    try:
        return FileSystemBytecodeCache(pattern=f"triobot-{made_by.hexdigest()[:16]}-%s.cache")
    except (OSError, RuntimeError):  # no private temporary directory to be had
        return None


_BYTECODE = _SharedBytecode(_disk_bytecode())  # the package's own templates
_BYTECODE_IN_MEMORY = _SharedBytecode()  # any other root's (a test's): nothing left on disk
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's Environment, with `{{ row.name }}` on a plain dict looked up as a key first:
    Jinja tries the attribute first, raising and catching an AttributeError each time (~48,000
    on the researcher page: 62 → 39 ms). For a name that is no dict attribute the result is
    the one Jinja gives: the value, else (a missing key) Jinja's own."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


_PLAIN = frozenset({str, int, float, bool, type(None)})  # never hold a Label


class Texts:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or prompts_root()
        self.env = _Environment(
            loader=FileSystemLoader(str(self.root)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates ship with the package; checking their files on every render
            # (Jinja's default) costs a stat() per message.
            auto_reload=False,
            bytecode_cache=_BYTECODE if self.root == prompts_root() else _BYTECODE_IN_MEMORY,
        )
        self.env.filters["answer"] = _answer_filter
        self.env.filters["label"] = _label_filter
        # Dates, times and counts in the reader's language (Babel, CLDR data):
        # {{ "2027-11-30"|day }}, {{ "16:00"|clock }}, {{ when|when }} for a `moment`,
        # {{ n|plural(one="# summary", other="# summaries") }} ("#" is the number).
        self.env.filters["day"] = _day_filter
        self.env.filters["clock"] = _clock_filter
        self.env.filters["when"] = _when_filter
        self.env.filters["plural"] = _plural_filter
        self._labels: dict[str, Any] = {}
        # Looked up once per process, like the compiled templates (auto_reload is off): the
        # file a (language, name) renders from, and each label that takes no values.
        self._templates: dict[tuple[str, str], Template] = {}
        self._plain_labels: dict[tuple[str, str], Markup] = {}
        self._plain_texts: dict[tuple[str, str], str] = {}

    def exists(self, lang: str, name: str) -> bool:
        return (self.root / lang / f"{name}.j2").is_file()

    def _template_path(self, lang: str, name: str) -> str:
        if lang not in LANGUAGES or not self.exists(lang, name):
            lang = DEFAULT_LANGUAGE
        return f"{lang}/{name}.j2"

    def render(
        self,
        lang: str,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        labels: bool = True,
    ) -> str:
        """Telegram HTML for template `name`; Label values in the context are rendered first.
        `labels=False`: the context is plain data with no Label in it, passed as it is (a
        digest's values: ~100,000 of them, not worth walking for labels on every render)."""
        if labels:
            values = {key: self._labels_in(lang, value) for key, value in (context or {}).items()}
        else:
            values = dict(context or {})
        template = self._templates.get((lang, name))
        if template is None:
            template = self.env.get_template(self._template_path(lang, name))
            self._templates[lang, name] = template
        text = template.render(lang=lang, texts=self, **values)
        return _BLANK_LINES.sub("\n\n", text).strip()

    def _labels_in(self, lang: str, value: Any) -> Any:
        """`value` with every Label in it (inside lists and mappings too) rendered: a service
        may hand over a lesson's time as a label without knowing who will read it."""
        if type(value) in _PLAIN:  # most of a digest's ~100,000 values: no ABC check
            return value
        if isinstance(value, Label):
            return self.label_html(lang, value)
        if isinstance(value, Mapping):
            return {key: self._labels_in(lang, item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._labels_in(lang, item) for item in value]
        return value

    def _macro(self, lang: str, key: str) -> Any:
        if lang not in self._labels:
            source = lang if self.exists(lang, "labels") else DEFAULT_LANGUAGE
            # `lang` for the filters its macros use (a date, a plural).
            template = self.env.get_template(f"{source}/labels.j2", globals={"lang": source})
            self._labels[lang] = template.module
        macro = getattr(self._labels[lang], key, None)
        if macro is None and lang != DEFAULT_LANGUAGE:
            return self._macro(DEFAULT_LANGUAGE, key)
        if macro is None:
            raise KeyError(f"no label {key!r} in {lang}/labels.j2")
        return macro

    def label_html(self, lang: str, label: Label) -> Markup:
        if label.text is not None:
            return Markup.escape(label.text)
        if not label.params:
            found = self._plain_labels.get((lang, label.key))
            if found is None:
                found = self._plain_labels[lang, label.key] = self._macro(lang, label.key)().strip()
            return found
        params = {
            key: self.label_html(lang, value) if isinstance(value, Label) else value
            for key, value in label.params.items()
        }
        # A macro in an autoescaping environment already returns escaped Markup.
        rendered: Markup = self._macro(lang, label.key)(**params)
        return rendered.strip()

    def label(self, lang: str, label: Label) -> str:
        """Plain text, for buttons and command descriptions (Telegram shows it verbatim)."""
        if label.text is None and not label.params:
            found = self._plain_texts.get((lang, label.key))
            if found is None:
                found = html.unescape(str(self.label_html(lang, label)))
                self._plain_texts[lang, label.key] = found
            return found
        return html.unescape(str(self.label_html(lang, label)))


@pass_context
def _label_filter(context: Context, key: str, **params: Any) -> Markup:
    texts: Texts = context["texts"]
    return texts.label_html(context["lang"], Label(key, params))


@pass_context
def _answer_filter(context: Context, value: Any) -> Markup:
    """An answer as a person reads it back: text, 'voice note (12 s)', a list, or 'skipped'."""
    texts: Texts = context["texts"]
    lang = context["lang"]
    if value is None:
        return texts.label_html(lang, Label("skipped"))
    if isinstance(value, dict) and "voice" in value:
        return texts.label_html(lang, Label("voice_note", {"seconds": value.get("duration", 0)}))
    if isinstance(value, list):
        return Markup(", ").join(Markup.escape(str(v)) for v in value)
    if isinstance(value, bool):
        return texts.label_html(lang, Label("yes" if value else "no"))
    return Markup.escape(str(value))


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


@pass_context
def _day_filter(context: Context, value: date | str) -> str:
    return day_text(value, context["lang"])


@pass_context
def _clock_filter(context: Context, value: time | str) -> str:
    return clock_text(value, context["lang"])


@pass_context
def _when_filter(context: Context, moment: Mapping[str, Any] | datetime) -> str:
    return moment_text(moment, context["lang"])


@pass_context
def _plural_filter(context: Context, count: int, **forms: str) -> str:
    return plural_text(int(count), context["lang"], forms)


_BLANK_LINE = re.compile(r"\n\s*\n")


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split rendered HTML at paragraph breaks so every part fits Telegram's limit.

    Templates keep tags within a paragraph, so cutting between paragraphs keeps each part
    balanced. A single paragraph longer than the limit is cut at line breaks, and a single
    line longer than that is sent as escaped plain text in slices.
    """
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in _pieces(text, limit):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
        else:
            if current:
                parts.append(current)
            current = paragraph
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    for paragraph in _BLANK_LINE.split(text):
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        for line in paragraph.split("\n"):
            if len(line) <= limit:
                pieces.append(line)
                continue
            plain = html.escape(html.unescape(re.sub(r"<[^>]+>", "", line)))
            step = limit - 16  # room so an escape sequence is never cut in half
            while plain:
                cut = plain[:step]
                amp = cut.rfind("&")
                if amp != -1 and ";" not in cut[amp:]:
                    cut = cut[:amp]
                pieces.append(cut)
                plain = plain[len(cut) :]
    return pieces
