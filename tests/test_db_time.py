"""Instants are stored as sortable UTC text (storage/db.py `to_db_time`): the text the
strftime it replaced gave, read back as the same instant, and in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.db import from_db_time, to_db_time

ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
MOMENTS = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES
)


@given(MOMENTS)
def test_the_text_is_strftimes_and_reads_back_as_the_same_instant(moment: datetime) -> None:
    text = to_db_time(moment)
    assert text == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert from_db_time(text) == moment


@given(MOMENTS, MOMENTS)
def test_texts_sort_as_their_instants(a: datetime, b: datetime) -> None:
    assert (to_db_time(a) < to_db_time(b)) == (a < b)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2026, 12, 3, 12, 0))
