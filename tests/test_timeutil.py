"""UTC instants as the database and JSON write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from seqctl.timeutil import format_instant, from_db


def test_the_hour_a_clock_goes_back_formats_as_two_different_instants() -> None:
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)  # the same wall time, an hour later
    assert first == second  # Python compares them by wall time: a cache must not
    assert [format_instant(t) for t in (first, second, first)] == [
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T05:30:00Z",
    ]


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9998, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), ZoneInfo("Asia/Kolkata")]),
    )
)
def test_any_aware_time_reads_back_as_its_instant_to_the_second(value: datetime) -> None:
    text = format_instant(value)
    assert len(text) == 20 and text.endswith("Z")
    assert from_db(text) == value.replace(microsecond=0)
    assert format_instant(value) == text  # the remembered answer is the same


def test_a_batch_formats_the_hour_a_clock_goes_back_as_two_instants() -> None:
    from seqctl.store.sql import TimeTexts

    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    times = TimeTexts()
    assert [times[first], times[first.replace(fold=1)], times[None]] == [
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:30:00Z",
        None,
    ]
