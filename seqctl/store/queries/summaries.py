"""Aggregates for reports: counted in SQL, whatever the number of rows behind them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqctl.store.records import DatabaseInfo

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

# What `db info` counts: a table each, and the column some of them are broken down by.
_COUNTED = {
    "sequences": "status", "versions": None, "contacts": None, "enrollments": "state",
    "messages": "status", "history": None, "events": None, "actions": "status",
    "suppressions": "kind",
}  # fmt: skip


class SummaryQueries:
    sql: Sql
    path: Path | None

    def info(self) -> DatabaseInfo:
        """The store, its schema version and the rows in each table, counted in SQL."""
        applied = [
            name
            for (name,) in self.sql.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'seqctl' ORDER BY id"
            )
        ]
        counts: dict[str, int] = {}
        breakdown: dict[str, dict[str, int]] = {}
        for table, column in _COUNTED.items():
            counts[table] = self.sql.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            if column is not None:
                rows = self.sql.execute(
                    f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column} ORDER BY {column}"
                )
                breakdown[table] = {str(value): n for value, n in rows}
        page_size = self.sql.execute("PRAGMA page_size").fetchone()[0]
        pages = self.sql.execute("PRAGMA page_count").fetchone()[0]
        return DatabaseInfo(
            store="sqlite",
            location=str(self.path) if self.path is not None else ":memory:",
            schema=applied[-1] if applied else "",
            migrations=len(applied),
            size_bytes=page_size * pages,
            counts=counts,
            breakdown=breakdown,
        )

    def enrolled_per_day(self) -> list[tuple[Any, ...]]:
        """(sequence, UTC date, enrollments that day)."""
        return list(
            self.sql.execute(
                "SELECT e.sequence, substr(h.at, 1, 10) AS day, COUNT(*)"
                " FROM history h JOIN enrollments e ON e.id = h.enrollment"
                " WHERE h.kind = 'enrolled' GROUP BY e.sequence, day ORDER BY e.sequence, day"
            )
        )

    def failure_reasons(self) -> list[tuple[Any, ...]]:
        """(sequence, reason, failed enrollments, one contact) per reason."""
        return list(
            self.sql.execute(
                "SELECT sequence, COALESCE(reason, ''), COUNT(*), MIN(contact) FROM enrollments"
                " WHERE state = 'failed' GROUP BY sequence, reason"
                " ORDER BY sequence, COUNT(*) DESC, reason NULLS FIRST"
            )
        )

    def delivery_errors(self) -> list[tuple[Any, ...]]:
        """(sequence, step, error, failed messages, one contact) per error."""
        return list(
            self.sql.execute(
                "SELECT sequence, step, COALESCE(error, ''), COUNT(*), MIN(contact) FROM messages"
                " WHERE status = 'failed' GROUP BY sequence, step, error"
                " ORDER BY sequence, COUNT(*) DESC, step, error NULLS FIRST"
            )
        )
