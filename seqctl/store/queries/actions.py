"""Actions: tasks for people made by manual steps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.records import ActionDay, ActionRecord, NewAction
from seqctl.store.sql import TimeTexts
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

_SELECT = """SELECT a.id, a.enrollment, e.sequence, e.contact, a.step, a.type, a.due_at, a.status,
    a.title, a.instructions, a.closed_at, a.closed_by
FROM actions a JOIN enrollments e ON e.id = a.enrollment"""


class ActionQueries:
    sql: Sql

    def action(self, action_id: int) -> ActionRecord | None:
        row = self.sql.execute(f"{_SELECT} WHERE a.id = ?", [action_id]).fetchone()
        return ActionRecord.from_row(row) if row else None

    def actions(
        self,
        *,
        status: str | None = "open",
        sequence: str | None = None,
        due_before: datetime | None = None,
        due_after: datetime | None = None,
        enrollment: int | None = None,
    ) -> list[ActionRecord]:
        where, params = [], []
        for clause, value in (
            ("a.status = ?", status),
            ("e.sequence = ?", sequence),
            ("a.due_at <= ?", format_instant(due_before)),
            ("a.due_at > ?", format_instant(due_after)),
            ("a.enrollment = ?", enrollment),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.sql.execute(f"{_SELECT} {condition} ORDER BY a.due_at, a.id", params)
        return [ActionRecord.from_row(row) for row in rows]

    def open_action_days(
        self, *, now: datetime, until: datetime, sequence: str | None = None
    ) -> list[ActionDay]:
        """Open actions due before `until` counted per (sequence, version, step, UTC date);
        those already due count on now's date."""
        where = "a.status = 'open' AND a.due_at < ?" + (" AND e.sequence = ?" if sequence else "")
        stamp = format_instant(now)
        params: list[Any] = [stamp, stamp, format_instant(until), *([sequence] if sequence else [])]
        rows = self.sql.execute(
            "SELECT e.sequence, e.version, a.step,"
            " substr(CASE WHEN a.due_at > ? THEN a.due_at ELSE ? END, 1, 10) AS day, "
            f"COUNT(*) FROM actions a JOIN enrollments e ON e.id = a.enrollment WHERE {where} "
            "GROUP BY e.sequence, e.version, a.step, day ORDER BY day, e.sequence, a.step",
            params,
        )
        return [ActionDay.from_row(row) for row in rows]

    def add_actions(self, actions: Sequence[NewAction]) -> None:
        times = TimeTexts()
        self.sql.executemany(
            "INSERT INTO actions (enrollment, step, type, due_at, title, instructions)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (a.enrollment, a.step, a.type, times[a.due_at], a.title, a.instructions)
                for a in actions
            ],
        )

    def close_action(self, action_id: int, status: str, at: datetime, by: str | None) -> None:
        self.sql.execute(
            "UPDATE actions SET status = ?, closed_at = ?, closed_by = ? WHERE id = ?",
            [status, format_instant(at), by, action_id],
        )

    def cancel_actions(self, enrollment: int, at: datetime) -> None:
        self.sql.execute(
            "UPDATE actions SET status = 'cancelled', closed_at = ? "
            "WHERE enrollment = ? AND status = 'open'",
            [format_instant(at), enrollment],
        )
