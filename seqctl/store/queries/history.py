"""History: one row per transition of an enrollment (with time and cause), and what reports
count in it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from seqctl.store.records import HistoryRecord, NewHistory, StepKind
from seqctl.store.sql import TimeTexts, equal, where
from seqctl.timeutil import format_instant, from_db

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

# A history row's parameters: enrollment, at (stored text), kind, step, detail.
StoredHistory = tuple[int, str | None, str, str | None, str | None]


class HistoryQueries:
    sql: Sql

    def add_history(self, rows: Iterable[NewHistory]) -> None:
        """Write history rows, in their order."""
        times = TimeTexts()
        self._write_history(
            (row.enrollment, times[row.at], row.kind, row.step, row.detail) for row in rows
        )

    def _write_history(self, rows: Iterable[StoredHistory]) -> None:
        """History rows as the database takes them: (enrollment, at, kind, step, detail), the
        time as its stored text (transitions write theirs, formatted with their own)."""
        self.sql.executemany(
            "INSERT INTO history (enrollment, at, kind, step, detail) VALUES (?, ?, ?, ?, ?)", rows
        )

    def history(
        self,
        *,
        contact: str | None = None,
        sequence: str | None = None,
        enrollment: int | None = None,
    ) -> list[HistoryRecord]:
        conditions, params = equal(
            ("e.contact", contact), ("e.sequence", sequence), ("h.enrollment", enrollment)
        )
        clause = where(conditions)
        rows = self.sql.execute(
            "SELECT h.at, e.sequence, e.contact, h.enrollment, h.step, h.kind, h.detail "
            f"FROM history h JOIN enrollments e ON e.id = h.enrollment {clause} "
            "ORDER BY h.at, h.id",
            params,
        )
        return [HistoryRecord.from_row(row) for row in rows]

    def last_history_at(self, kinds: Sequence[str]) -> datetime | None:
        """When the newest history row of these kinds was written (a tick's work), or None."""
        marks = ",".join("?" * len(kinds))
        row = self.sql.execute(
            # Newest first by id: the scan stops at the first match instead of reading it all.
            f"SELECT at FROM history WHERE kind IN ({marks}) ORDER BY id DESC LIMIT 1",
            list(kinds),
        ).fetchone()
        return from_db(str(row[0])) if row else None

    def step_counts(
        self, sequence: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict[StepKind, int]:
        """History kinds counted per step: {(step id, kind): n}; rows at or after `since` (and
        before `until`)."""
        rows = self.sql.execute(
            "SELECT h.step, h.kind, COUNT(*) FROM history h JOIN enrollments e "
            "ON e.id = h.enrollment WHERE e.sequence = ? AND h.step IS NOT NULL "
            f"{'AND h.at >= ? ' if since is not None else ''}"
            f"{'AND h.at < ? ' if until is not None else ''}GROUP BY h.step, h.kind",
            [sequence, *(format_instant(t) for t in (since, until) if t is not None)],
        )
        return {StepKind(str(step), str(kind)): int(n) for step, kind, n in rows}

    def step_reached(
        self,
        sequence: str,
        kinds: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, int]:
        """Per step: distinct enrollments with a history row of these kinds for it."""
        marks = ",".join("?" * len(kinds))
        rows = self.sql.execute(
            "SELECT h.step, COUNT(DISTINCT h.enrollment) FROM history h JOIN enrollments e "
            f"ON e.id = h.enrollment WHERE e.sequence = ? AND h.kind IN ({marks}) "
            f"{'AND h.at >= ? ' if since is not None else ''}"
            f"{'AND h.at < ? ' if until is not None else ''}GROUP BY h.step",
            [sequence, *kinds, *(format_instant(t) for t in (since, until) if t is not None)],
        )
        return {str(step): int(n) for step, n in rows}
