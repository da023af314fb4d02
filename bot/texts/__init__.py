"""Every user-visible text comes from Jinja2 templates in prompts/<lang>/."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    meta,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup

from bot.texts import formats
from bot.texts.bytecode import _disk_bytecode, _SharedBytecode
from bot.texts.formats import clock_text, day_text, moment_text, plural_text


@dataclass(frozen=True, slots=True)
class Label:
    """A button label: a key in the language's label catalogue, or literal text (data)."""

    key: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None


LANGUAGES = ("en", "es", "pt")
_BLANK_LINES = re.compile(r"\n{3,}")
DEFAULT_LANGUAGE = formats.DEFAULT_LANGUAGE
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


def pick_language(setting: str | None, telegram_code: str | None) -> str:
    """The person's setting, else Telegram's language_code, else English."""
    if setting in LANGUAGES:
        return setting
    base = (telegram_code or "").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def prompts_root() -> Path:
    return Path(str(resources.files("prompts")))


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
# The values a kept render may be keyed on. Not text: it may be what someone wrote or their
# name, which is not to outlive its use in memory (an erased person's words included); not
# floats either, whose equal keys print differently (0.0 and -0.0).
_KEYED = frozenset({int, bool, type(None)})
_ABSENT = object()
RENDERED_KEPT = 4096


def _render_key(
    lang: str, name: str, names: tuple[str, ...], values: dict[str, Any]
) -> tuple[Any, ...] | None:
    """What a render depends on, when that is only numbers, booleans and None (_KEYED): a
    template is a pure function of its language and the values it names (its filters too).
    None when it names any other value (text, a list, a mapping)."""
    key: list[Any] = [lang, name]
    for wanted in names:
        value = values.get(wanted, _ABSENT)
        if type(value) not in _KEYED and value is not _ABSENT:
            return None
        key += (value, type(value))  # True and 1 are equal keys, not equal texts
    return tuple(key)


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
        # file a (language, name) renders from with the values it names (None: it pulls in
        # another template), and each label that takes no values.
        self._templates: dict[tuple[str, str], tuple[Template, tuple[str, ...] | None]] = {}
        self._plain_labels: dict[tuple[str, str], Markup] = {}
        self._plain_texts: dict[tuple[str, str], str] = {}
        # Renders that depend only on numbers, booleans and None (see _render_key).
        self._rendered: dict[tuple[Any, ...], str] = {}

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
        found = self._templates.get((lang, name))
        if found is None:
            found = self._templates[lang, name] = self._load(self._template_path(lang, name))
        template, names = found
        key = None if names is None else _render_key(lang, name, names, values)
        if key is not None and (done := self._rendered.get(key)) is not None:
            return done
        text = template.render(lang=lang, texts=self, **values)
        text = _BLANK_LINES.sub("\n\n", text).strip()
        if key is not None:
            if len(self._rendered) >= RENDERED_KEPT:
                self._rendered.clear()
            self._rendered[key] = text
        return text

    def _load(self, path: str) -> tuple[Template, tuple[str, ...] | None]:
        """The template at `path`, and the values it names (None if it includes another)."""
        template = self.env.get_template(path)  # its errors (not found, syntax) first
        assert self.env.loader is not None
        source, filename, _ = self.env.loader.get_source(self.env, path)
        tree = self.env.parse(source, path, filename)
        names = None
        if not any(True for _ in meta.find_referenced_templates(tree)):
            names = tuple(sorted(meta.find_undeclared_variables(tree) - {"lang", "texts"}))
        return template, names

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
