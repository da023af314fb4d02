import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.standin.html import (
    check_telegram_html,
    parse_telegram_html,
    strip_html,
    utf16_len,
    visible_length,
)

PREFIX = "Bad Request: can't parse entities: "


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins>",
        "<s>s</s><strike>k</strike><del>d</del>",
        '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>',
        '<a href="https://example.com/?a=1&amp;b=2">link</a>',
        "<a href='tg://user?id=1'>me</a>",
        "<code>x &lt; y</code>",
        '<pre><code class="language-python">print(1)</code></pre>',
        "<blockquote>q</blockquote><blockquote expandable>long</blockquote>",
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "&lt;&gt;&amp;&quot;&#39;&#x1F600;",
        "<B>upper case tags</B>",
        "<b>closed by </>",
        "<b><i>nested</i></b>",
        "AT&T and &nbsp; stay literal, as in Telegram",
    ],
)
def test_valid(text: str) -> None:
    assert check_telegram_html(text) is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("hello <div>x</div>", 'Unsupported start tag "div" at byte offset 6'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("close</b>", "Unexpected end tag at byte offset 5"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("1<2", "Unclosed start tag at byte offset 1"),
        ("x <", "Unclosed start tag at byte offset 2"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b foo>x</b>", 'Expected equal sign in declaration of an attribute of the tag "b"'),
        ("<a href=http://x.y>l</a>", "Unexpected end of name token at byte offset 8"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("é <p>", 'Unsupported start tag "p" at byte offset 3'),  # offsets count UTF-8 bytes
        ("<tg-emoji emoji-id='x'>e</tg-emoji>", "Invalid custom emoji identifier specified"),
        ("&#xD800;", "Text contains invalid Unicode characters"),
    ],
)
def test_refused(text: str, error: str) -> None:
    result = check_telegram_html(text)
    assert result is not None
    assert result.startswith(PREFIX)
    assert error in result


def test_strict_entities_refuses_bare_ampersand() -> None:
    assert check_telegram_html("AT&T") is None
    assert "Unescaped '&' at byte offset 2" in (
        check_telegram_html("AT&T", strict_entities=True) or ""
    )
    assert check_telegram_html("AT&amp;T", strict_entities=True) is None


def test_entities_and_plain_text() -> None:
    parsed = parse_telegram_html('<b>😀 x</b> <a href="https://e.com">e</a> &lt;')
    assert parsed.text == "😀 x e <"
    assert parsed.entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 5, "length": 1, "url": "https://e.com"},
    ]
    pre = parse_telegram_html('<pre><code class="language-py">x</code></pre>')
    assert pre.entities == [{"type": "pre", "offset": 0, "length": 1, "language": "py"}]


def test_visible_length_counts_utf16_after_stripping() -> None:
    assert visible_length("<b>abc</b>&amp;") == 4
    assert visible_length("😀") == 2  # astral characters take two UTF-16 units
    assert utf16_len("é😀") == 3
    assert strip_html("<i>a</i> &gt; b") == "a > b"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_text_is_always_valid(text: str) -> None:
    escaped = html.escape(text)
    assert check_telegram_html(escaped) is None
    assert check_telegram_html(escaped, strict_entities=True) is None
    # html.escape also writes &#x27; which Telegram decodes back, so the round trip holds.
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert strip_html(escaped) == text


_PIECES = st.sampled_from(
    [
        *("<", ">", "/", "&", ";", "#", "x", "b", "i", "a", "pre", "code", "span", " ", "="),
        *('"', "'", "<b>", "</b>", "<i>", "</i>", "</", "&amp;", "&#", "href", "class", "tg-"),
        *("é", "😀", "<a href=", "<blockquote expandable>", "</blockquote>", "&#x", "&#128512;"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_tag_soup_never_raises(text: str) -> None:
    result = check_telegram_html(text)
    assert result is None or result.startswith(PREFIX)
    assert visible_length(text) >= 0
