"""Aggregates for reports: counted in SQL, whatever the number of rows behind them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database


class SummaryQueries:
    db: Database

    def enrolled_per_day(self) -> list[tuple[Any, ...]]:
        """(sequence, UTC date, enrollments that day)."""
        return list(
            self.db.execute(
                "SELECT e.sequence, substr(h.at, 1, 10) AS day, COUNT(*)"
                " FROM history h JOIN enrollments e ON e.id = h.enrollment"
                " WHERE h.kind = 'enrolled' GROUP BY e.sequence, day ORDER BY e.sequence, day"
            )
        )

    def failure_reasons(self) -> list[tuple[Any, ...]]:
        """(sequence, reason, failed enrollments, one contact) per reason."""
        return list(
            self.db.execute(
                "SELECT sequence, COALESCE(reason, ''), COUNT(*), MIN(contact) FROM enrollments"
                " WHERE state = 'failed' GROUP BY sequence, reason"
                " ORDER BY sequence, COUNT(*) DESC, reason"
            )
        )

    def delivery_errors(self) -> list[tuple[Any, ...]]:
        """(sequence, step, error, failed messages, one contact) per error."""
        return list(
            self.db.execute(
                "SELECT sequence, step, COALESCE(error, ''), COUNT(*), MIN(contact) FROM messages"
                " WHERE status = 'failed' GROUP BY sequence, step, error"
                " ORDER BY sequence, COUNT(*) DESC, step, error"
            )
        )
