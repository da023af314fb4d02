"""`{{ row.name }}` on a dict is looked up as a key first (bot/texts/__init__.py `_Environment`, for
the digest's page of ~48,000 such lookups) and gives exactly what Jinja gives."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import pytest
from jinja2 import StrictUndefined, UndefinedError

from bot.texts import _Environment


def _render(source: str, **values: object) -> str:
    return (
        _Environment(undefined=StrictUndefined, autoescape=True)
        .from_string(source)
        .render(**values)
    )


@dataclass
class Row:
    name: str


def test_a_key_of_a_dict_as_an_attribute() -> None:
    assert _render("{{ row.name }} <{{ row.text }}>", row={"name": "T001", "text": "a&b"}) == (
        "T001 <a&amp;b>"
    )


def test_a_dicts_own_methods_still_win_over_its_keys() -> None:
    row = {"items": "not this", "b": 2}
    assert _render("{% for k, v in row.items() %}{{ k }}={{ v }};{% endfor %}", row=row) == (
        "items=not this;b=2;"
    )


def test_a_missing_key_is_undefined_as_before() -> None:
    with pytest.raises(UndefinedError):
        _render("{{ row.missing }}", row={"name": "T001"})


def test_objects_and_other_mappings_as_before() -> None:
    assert _render("{{ row.name }}", row=Row("T002")) == "T002"
    assert _render("{{ row.name }}", row=OrderedDict(name="T003")) == "T003"
