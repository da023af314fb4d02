"""A render that depends only on numbers, booleans and None is kept and given again
(bot/texts/__init__.py `_render_key`): the same text as rendering afresh, never another
template's or another value's, and nothing kept where a value is text, a float, a list or a
mapping, or where the template pulls in another."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError

from bot.texts import RENDERED_KEPT, Texts


def _texts(tmp_path: Path, **templates: str) -> Texts:
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "labels.j2").write_text("{% macro yes() %}Yes{% endmacro %}")
    for name, source in templates.items():
        (folder / f"{name}.j2").write_text(source)
    return Texts(tmp_path)


def test_the_same_values_give_the_kept_text_and_other_values_their_own(tmp_path: Path) -> None:
    texts = _texts(tmp_path, step="Question {{ n }} of {{ total }}", fixed="Nothing to fill in.")
    assert texts.render("en", "step", {"n": 2, "total": 6}) == "Question 2 of 6"
    assert texts.render("en", "step", {"n": 2, "total": 6}) == "Question 2 of 6"
    assert texts.render("en", "step", {"n": 3, "total": 6}) == "Question 3 of 6"
    assert texts.render("en", "step", {"n": 3, "total": None}) == "Question 3 of None"
    assert texts.render("en", "fixed") == "Nothing to fill in."
    assert len(texts._rendered) == 4


def test_equal_values_of_other_types_are_not_taken_for_each_other(tmp_path: Path) -> None:
    texts = _texts(tmp_path, show="{{ value }}")
    assert texts.render("en", "show", {"value": 1}) == "1"
    assert texts.render("en", "show", {"value": True}) == "True"
    assert texts.render("en", "show", {"value": 1.0}) == "1.0"
    assert texts.render("en", "show", {"value": -0.0}) == "-0.0"  # equal to 0.0, not alike
    assert texts.render("en", "show", {"value": 0.0}) == "0.0"


def test_what_people_wrote_is_never_kept(tmp_path: Path) -> None:
    """Text may be someone's words or name: it is not kept beyond the render."""
    texts = _texts(tmp_path, hello="Hello {{ name }}!")
    assert texts.render("en", "hello", {"name": "Ana"}) == "Hello Ana!"
    assert texts.render("en", "hello", {"name": "Bruno"}) == "Hello Bruno!"
    assert texts._rendered == {}


def test_values_the_template_does_not_name_do_not_matter(tmp_path: Path) -> None:
    texts = _texts(tmp_path, step="Question {{ n }}")
    texts.render("en", "step", {"n": 1, "unused": [1, 2], "name": "Ana"})
    texts.render("en", "step", {"n": 1, "unused": {"x": 3}, "name": "Bruno"})
    assert len(texts._rendered) == 1


def test_lists_mappings_and_markup_are_rendered_each_time(tmp_path: Path) -> None:
    texts = _texts(tmp_path, many="{{ items | join(', ') }}", row="{{ row.name }}")
    items = ["a", "b"]
    assert texts.render("en", "many", {"items": items}) == "a, b"
    items.append("c")  # the same list, changed: a kept text would now be wrong
    assert texts.render("en", "many", {"items": items}) == "a, b, c"
    assert texts.render("en", "row", {"row": {"name": "T1"}}) == "T1"
    assert texts._rendered == {}


def test_a_template_that_includes_another_is_never_kept(tmp_path: Path) -> None:
    texts = _texts(tmp_path, part="({{ n }})", whole='Hi {% include "en/part.j2" %}')
    assert texts.render("en", "whole", {"n": 1}) == "Hi (1)"
    assert texts._rendered == {}


def test_a_missing_value_still_fails_and_nothing_is_kept(tmp_path: Path) -> None:
    texts = _texts(tmp_path, step="Question {{ n }}")
    with pytest.raises(UndefinedError):
        texts.render("en", "step", {})
    assert texts._rendered == {}


def test_labels_and_filters_render_as_before(tmp_path: Path) -> None:
    texts = _texts(
        tmp_path, ask='{{ "yes" | label }}, {{ n | plural(one="# day", other="# days") }}'
    )
    assert texts.render("en", "ask", {"n": 1}) == "Yes, 1 day"
    assert texts.render("en", "ask", {"n": 3}) == "Yes, 3 days"
    assert texts.render("en", "ask", {"n": 1}) == "Yes, 1 day"


def test_what_is_kept_is_bounded(tmp_path: Path) -> None:
    texts = _texts(tmp_path, show="{{ value }}")
    for value in range(RENDERED_KEPT + 10):
        assert texts.render("en", "show", {"value": value}) == str(value)
    assert len(texts._rendered) <= RENDERED_KEPT


def test_every_shipped_template_renders_the_same_kept_or_not() -> None:
    """The package's own templates with no values: a kept text equals a fresh one."""
    kept, fresh = Texts(), Texts()
    for path in sorted((kept.root / "en").rglob("*.j2")):
        name = str(path.relative_to(kept.root / "en"))[: -len(".j2")]
        if name == "labels":
            continue
        try:
            first = kept.render("en", name)
        except (UndefinedError, TypeError, AttributeError, AssertionError):
            continue  # needs values (a date filter given none asserts in Babel)
        fresh._rendered.clear()
        assert kept.render("en", name) == first == fresh.render("en", name)
