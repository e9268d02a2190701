"""Transitions: which enrollments are due, and the writes that move them through the states.

The tick reads its batches here and writes what it decided; events, approvals, actions and
migrations move single enrollments the same way. Each transition also writes a history row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.queries.enrollments import COLUMNS
from seqctl.store.records import DueRow, EnrollmentPosition, EnrollmentRecord, NewDue, Transition
from seqctl.store.sql import TimeTexts, json_list
from seqctl.store.sql import limit as sql_limit
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.queries.history import StoredHistory
    from seqctl.store.sql import Sql

# A due enrollment with what the tick needs of its contact, in one read.
DUE_QUERY = """
SELECT e.id, e.sequence, e.version, e.contact, e.step, e.anchor_at, e.next_due_at, e.vars,
       e.enrolled_at, c.email, c.phone, c.timezone, c.attributes
FROM enrollments e
JOIN sequences s ON s.id = e.sequence AND s.status = 'active'
JOIN contacts c ON c.key = e.contact
WHERE e.state = 'active' AND e.next_due_at <= ?{shard}{skip}
ORDER BY e.next_due_at, e.id
LIMIT ?
"""


class TransitionQueries:
    sql: Sql

    if TYPE_CHECKING:  # Store's, from HistoryQueries: apply and advance write history rows too

        def _write_history(self, rows: Iterable[StoredHistory]) -> None: ...

    def due(
        self,
        now: datetime,
        limit: int,
        shard: tuple[int, int] | None = None,
        skip: Collection[int] = (),
    ) -> list[DueRow]:
        """Active enrollments of active sequences due at or before now, oldest first.

        With a shard (k, n), only those whose id is k modulo n: one of n processes' share.
        Without the enrollments in `skip` (their message is on its way out).
        """
        params: list[Any] = [format_instant(now)]
        where = {"shard": "", "skip": ""}
        if shard is not None:
            index, count = shard
            where["shard"] = " AND e.id % ? = ?"
            params += [count, index]
        if skip:
            where["skip"] = " AND e.id NOT IN (SELECT CAST(value AS INTEGER) FROM json_each(?))"
            params.append(json_list(skip))
        return DueRow.from_rows(
            self.sql.execute(DUE_QUERY.format(**where), [*params, sql_limit(limit)])
        )

    def count_due(self, now: datetime) -> int:
        return int(
            self.sql.execute(
                "SELECT COUNT(*) FROM enrollments e JOIN sequences s ON s.id = e.sequence "
                "AND s.status = 'active' WHERE e.state = 'active' AND e.next_due_at <= ?",
                [format_instant(now)],
            ).fetchone()[0]
        )

    def paused_until(self, now: datetime) -> list[EnrollmentRecord]:
        """Paused enrollments whose pause ends by itself at or before now (out of office)."""
        rows = self.sql.execute(
            f"SELECT {COLUMNS} FROM enrollments WHERE state = 'paused' AND resume_at <= ?"
            " ORDER BY resume_at, id",
            [format_instant(now)],
        )
        return [EnrollmentRecord.from_row(row) for row in rows]

    def has_work(self, now: datetime) -> bool:
        """Anything for a tick to do: a step due, a pause ending, a message to (re)send.

        `status IN (...) AND status = 'queued'` says the same twice on purpose: SQLite uses a
        partial index only when the query repeats its WHERE term (messages_pending's)."""
        stamp = format_instant(now)
        return bool(
            self.sql.execute(
                "SELECT EXISTS (SELECT 1 FROM enrollments WHERE state = 'active'"
                " AND next_due_at <= ?) OR EXISTS (SELECT 1 FROM enrollments WHERE"
                " state = 'paused' AND resume_at <= ?) OR EXISTS (SELECT 1 FROM messages"
                " WHERE status IN ('pending_approval', 'queued') AND status = 'queued')"
                " OR EXISTS (SELECT 1 FROM messages WHERE status = 'sending')",
                [stamp, stamp],
            ).fetchone()[0]
        )

    def enrollment_positions(self, ids: Sequence[int]) -> dict[int, EnrollmentPosition]:
        """Where each of these enrollments stands; the state reads `paused` while their
        sequence is not active."""
        rows = self.sql.execute(
            "SELECT e.id, CASE WHEN s.status = 'active' THEN e.state ELSE 'paused' END,"
            " e.step, e.next_due_at FROM enrollments e JOIN sequences s ON s.id = e.sequence"
            " WHERE e.id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
            [json_list(ids)],
        )
        return EnrollmentPosition.by_id(rows)

    def enrollment_states(self, ids: Sequence[int]) -> dict[int, str]:
        """The current state of each of these enrollments."""
        rows = self.sql.execute(
            "SELECT id, state FROM enrollments"
            " WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
            [json_list(ids)],
        )
        return {int(i): str(state) for i, state in rows}

    def apply(self, transitions: Sequence[Transition]) -> None:
        """Write new states and their history rows."""
        times = TimeTexts()
        self.sql.executemany(
            "UPDATE enrollments SET state = ?, step = ?, anchor_at = ?, next_due_at = ?,"
            " reason = ?, updated_at = ?, paused_at = NULL, resume_at = NULL WHERE id = ?",
            [t.row(times) for t in transitions],
        )
        self._write_history(t.history_row(times) for t in transitions)

    def advance(self, transitions: Sequence[Transition]) -> None:
        """`apply` for enrollments the tick found active; one no longer active is left alone.

        A step that keeps its enrollment active (nearly every send) writes only its step and
        times: rewriting `state`, even to the same value, costs an update of every index that
        depends on it, the dearest part of a tick's writes.
        """
        guard = " WHERE id = ? AND state = 'active'"
        times = TimeTexts()
        self.sql.executemany(
            "UPDATE enrollments SET step = ?, anchor_at = ?, next_due_at = ?, reason = ?,"
            " updated_at = ?" + guard,
            [t.row(times)[1:] for t in transitions if t.state == "active"],
        )
        self.sql.executemany(
            "UPDATE enrollments SET state = ?, step = ?, anchor_at = ?, next_due_at = ?,"
            " reason = ?, updated_at = ?" + guard,
            [t.row(times) for t in transitions if t.state != "active"],
        )
        self._write_history(t.history_row(times) for t in transitions)

    def set_paused(
        self,
        enrollment_id: int,
        *,
        at: datetime,
        reason: str,
        resume_at: datetime | None = None,
    ) -> None:
        stamp = format_instant(at)
        self.sql.execute(
            "UPDATE enrollments SET state = 'paused', paused_at = ?, reason = ?, updated_at = ?,"
            " resume_at = ? WHERE id = ?",
            [stamp, reason, stamp, format_instant(resume_at), enrollment_id],
        )

    def set_due(self, updates: Iterable[NewDue], *, at: datetime) -> None:
        """Move enrollments' next due times, e.g. after a pause."""
        times = TimeTexts()
        stamp = times[at]
        self.sql.executemany(
            "UPDATE enrollments SET next_due_at = ?, updated_at = ? WHERE id = ?",
            ((times[u.next_due_at], stamp, u.enrollment) for u in updates),
        )

    def set_version(self, enrollment_id: int, version: int, step: int, at: datetime) -> None:
        self.sql.execute(
            "UPDATE enrollments SET version = ?, step = ?, updated_at = ? WHERE id = ?",
            [version, step, format_instant(at), enrollment_id],
        )
