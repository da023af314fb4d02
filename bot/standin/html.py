"""Telegram-HTML validation that mirrors tdlib's ``parse_html``.

Telegram does not use a real HTML parser: it runs tdlib's small hand-written scanner, so
the rules (and error messages) below follow that scanner rather than the HTML spec. Two
consequences that surprise people and are reproduced on purpose:

* a ``&`` that does not start ``&lt; &gt; &amp; &quot;`` or a numeric reference is kept
  literally (``AT&T`` is accepted); pass ``strict_entities=True`` to refuse it anyway;
* ``<a>`` without ``href`` is accepted (the link is silently dropped if the text is no URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PREFIX = "Bad Request: can't parse entities: "

_SPECIAL = re.compile(r"[<&]")
_SPACES = frozenset(" \t\r\n\v\f")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN = _ALPHA | _DIGITS | frozenset(".-")

_ENTITY_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class HtmlError(Exception):
    """Raised internally; carries the complete Telegram-style description."""


@dataclass(slots=True)
class ParsedHtml:
    """What Telegram stores for an HTML message: plain text plus entities (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int
    out_index: int


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts limits and offsets in."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def _fail(message: str) -> HtmlError:
    return HtmlError(PREFIX + message)


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the reference at ``text[pos] == '&'``; None means "keep the '&' literally"."""
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        if end < n and text[end] == "x":
            end += 1
            while end < n and text[end] in _HEX:
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while end < n and text[end] in _DIGITS:
                value = value * 10 + ord(text[end]) - 48
                end += 1
        # tdlib's limits: no NUL, nothing beyond Unicode, at most 9 characters long.
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < n and text[end] in _ALPHA:
            end += 1
        named = _NAMED.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


def _start_tag(text: str, begin: int) -> tuple[str, str, int]:
    """Parse ``<tag attr=...>`` at ``begin``; returns (tag, argument, index after '>')."""
    n = len(text)
    i = begin + 1
    while i < n and text[i] not in _SPACES and text[i] != ">":
        i += 1
    if i >= n:
        raise _fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
    tag = text[begin + 1 : i].lower()
    if tag not in _ENTITY_TYPE:
        raise _fail(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
    argument = ""
    while True:
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise _fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if text[i] == ">":
            break
        name_start = i
        while i < n and text[i] not in _SPACES and text[i] not in "=>":
            i += 1
        name = text[name_start:i]
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n or text[i] != "=":
            if tag == "blockquote" and name == "expandable":
                argument = "expandable"
                continue
            raise _fail(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(text, begin)}"
            )
        i += 1
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise _fail(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
        value, i = _attribute_value(text, i)
        if i >= n:
            raise _fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if (tag == "a" and name == "href") or (tag == "tg-emoji" and name == "emoji-id"):
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[9:]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[3:]
    if tag == "span" and argument != "spoiler":
        raise _fail(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}'
        )
    return tag, argument, i + 1


def _attribute_value(text: str, i: int) -> tuple[str, int]:
    n = len(text)
    quote = text[i]
    if quote not in "'\"":
        # An unquoted value is an SGML name token: letters, digits, '.' and '-' only.
        start = i
        while i < n and text[i] in _TOKEN:
            i += 1
        if i < n and text[i] not in _SPACES and text[i] != ">":
            raise _fail(f"Unexpected end of name token at byte offset {_byte_offset(text, start)}")
        return text[start:i].lower(), i
    i += 1
    chars: list[str] = []
    while i < n and text[i] != quote:
        if text[i] == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                chars.append(decoded[0])
                i = decoded[1]
                continue
        chars.append(text[i])
        i += 1
    if i < n:
        i += 1
    return "".join(chars), i


def _end_tag(text: str, begin: int, expected: str) -> tuple[int, bool]:
    """Parse ``</tag>``; returns (index after '>', whether a name was given)."""
    n = len(text)
    i = begin + 2
    while i < n and text[i] not in _SPACES and text[i] != ">":
        i += 1
    name = text[begin + 2 : i].lower()
    while i < n and text[i] in _SPACES:
        i += 1
    if i >= n or text[i] != ">":
        raise _fail(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
    if name and name != expected:
        raise _fail(
            f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
            f'expected "</{expected}>", found "</{name}>"'
        )
    return i + 1, bool(name)


def _entity(top: _Open, length: int, out: list[str]) -> dict[str, Any] | None:
    kind = _ENTITY_TYPE[top.tag]
    entity: dict[str, Any] = {"type": kind, "offset": top.offset, "length": length}
    if kind == "text_link":
        url = top.argument or "".join(out[top.out_index :])
        if not url.startswith(("http://", "https://", "tg://")):
            return None  # Telegram drops links it cannot parse instead of refusing
        entity["url"] = url
    elif kind == "custom_emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise _fail("Invalid custom emoji identifier specified")
        entity["custom_emoji_id"] = top.argument
    elif kind == "code" and top.argument:
        entity["language"] = top.argument
    elif kind == "blockquote" and top.argument:
        entity["type"] = "expandable_blockquote"
    return entity


def _merge_pre_code(entities: list[dict[str, Any]], entity: dict[str, Any]) -> bool:
    """``<pre><code class="language-x">`` becomes one pre entity with a language."""
    if not entities:
        return False
    last = entities[-1]
    if (last["offset"], last["length"]) != (entity["offset"], entity["length"]):
        return False
    pair = {last["type"], entity["type"]}
    if pair != {"pre", "code"}:
        return False
    language = last.get("language") or entity.get("language")
    last["type"] = "pre"
    last.pop("language", None)
    if language:
        last["language"] = language
    return True


def parse_telegram_html(text: str, *, strict_entities: bool = False) -> ParsedHtml:
    """Parse like Telegram; raises HtmlError with Telegram's description on refusal."""
    if "<" not in text and "&" not in text:
        return ParsedHtml(text)
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[_Open] = []
    offset = 0
    i = 0
    bad_surrogate = False
    while True:
        match = _SPECIAL.search(text, i)
        stop = match.start() if match else len(text)
        if stop > i:
            chunk = text[i:stop]
            out.append(chunk)
            offset += utf16_len(chunk)
        if match is None:
            break
        if text[stop] == "&":
            decoded = _decode_entity(text, stop)
            if decoded is None:
                if strict_entities:
                    raise _fail(f"Unescaped '&' at byte offset {_byte_offset(text, stop)}")
                out.append("&")
                offset += 1
                i = stop + 1
            else:
                char, i = decoded
                bad_surrogate = bad_surrogate or 0xD800 <= ord(char) <= 0xDFFF
                out.append(char)
                offset += 2 if ord(char) > 0xFFFF else 1
            continue
        if stop + 1 < len(text) and text[stop + 1] == "/":
            if not stack:
                raise _fail(f"Unexpected end tag at byte offset {_byte_offset(text, stop)}")
            top = stack[-1]
            i, _ = _end_tag(text, stop, top.tag)
            stack.pop()
            if offset > top.offset:
                entity = _entity(top, offset - top.offset, out)
                if entity is not None and not _merge_pre_code(entities, entity):
                    entities.append(entity)
            continue
        tag, argument, i = _start_tag(text, stop)
        stack.append(_Open(tag, argument, offset, len(out)))
    if stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    if bad_surrogate:
        raise _fail(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # a language only survives inside <pre>
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedHtml("".join(out), entities)


def check_telegram_html(text: str, *, strict_entities: bool = False) -> str | None:
    """None if Telegram would accept ``text`` with parse_mode="HTML", else its error."""
    try:
        parse_telegram_html(text, strict_entities=strict_entities)
    except HtmlError as exc:
        return str(exc)
    return None


def strip_html(text: str) -> str:
    """The text a user sees; invalid HTML is returned unchanged (Telegram would refuse it)."""
    try:
        return parse_telegram_html(text).text
    except HtmlError:
        return text


def visible_length(text: str) -> int:
    """UTF-16 length of what the user sees, the figure Telegram's 4096 limit applies to."""
    return utf16_len(strip_html(text))
