"""Due rows: the tick's hot read gives aware UTC times, compared as such with their positions."""

from __future__ import annotations

from datetime import UTC, datetime

from seqctl.store.records import DueRow, EnrollmentPosition

ENROLLED = "2026-11-23T12:00:00Z"
DUE = "2026-11-24T09:00:00Z"


def row(i: int, due: str = DUE) -> tuple[object, ...]:
    return (i, "s", 1, f"c{i}", 0, ENROLLED, due, None, ENROLLED, None, None, "UTC", None)


def test_due_rows_carry_aware_utc_times() -> None:
    first, second = DueRow.from_rows([row(1), row(2, "2026-11-24T10:30:00Z")])
    assert first.next_due_at == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert second.next_due_at == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    assert first.enrolled_at == first.anchor_at == datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert first.enrolled_at.utcoffset() is not None
    assert (first.id, first.contact, first.timezone) == (1, "c1", "UTC")


def test_positions_compare_with_the_due_rows_they_check() -> None:
    (due,) = DueRow.from_rows([row(7)])
    positions = EnrollmentPosition.by_id([(7, "active", 0, DUE), (8, "paused", 2, None)])
    assert positions[7] == EnrollmentPosition("active", due.step, due.next_due_at)
    assert positions[8].next_due_at is None
