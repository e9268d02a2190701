"""What came of a sequence's messages over a period: per A/B variant, per sequence, per hour.

Counted in SQL, whatever the number of rows behind them. Periods are [since, until): either
end may be open (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from seqctl.store.records import (
    ActionsDue,
    EnrollmentFailure,
    MessageFailure,
    SlotCount,
    StepVariant,
)
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.sql import Sql


def _period(column: str, since: datetime | None, until: datetime | None) -> tuple[str, list[str]]:
    """` AND column >= ? AND column < ?` for the ends that are given, and their values."""
    clause = (f" AND {column} >= ?" if since is not None else "") + (
        f" AND {column} < ?" if until is not None else ""
    )
    return clause, [format_instant(t) for t in (since, until) if t is not None]


class OutcomeQueries:
    sql: Sql

    def variant_counts(
        self, sequence: str, types: Sequence[str], since: datetime | None, until: datetime | None
    ) -> dict[StepVariant, dict[str, int]]:
        """Per (step, variant): `sent` messages, and contacts with each event type on them."""
        found: dict[StepVariant, dict[str, int]] = {}
        sent, sent_params = _period("sent_at", since, until)
        for step, variant, n in self.sql.execute(
            "SELECT step, variant, COUNT(*) FROM messages INDEXED BY messages_variants"
            " WHERE sequence = ? AND variant IS NOT NULL AND status = 'sent'"
            f"{sent} GROUP BY step, variant",
            [sequence, *sent_params],
        ):
            found.setdefault(StepVariant(str(step), str(variant)), {})["sent"] = int(n)
        at, at_params = _period("e.at", since, until)
        marks = ",".join("?" * len(types))
        for step, variant, kind, n in self.sql.execute(
            "SELECT m.step, m.variant, e.type, COUNT(DISTINCT e.contact) FROM events e"
            " JOIN messages m ON m.id = e.message WHERE m.sequence = ? AND m.variant IS NOT NULL"
            f" AND e.type IN ({marks}){at} GROUP BY m.step, m.variant, e.type",
            [sequence, *types, *at_params],
        ):
            found.setdefault(StepVariant(str(step), str(variant)), {})[str(kind)] = int(n)
        return found

    def event_totals(
        self, sequence: str, types: Sequence[str], since: datetime | None, until: datetime | None
    ) -> dict[str, int]:
        """Distinct contacts per event type attributed to the sequence in the period."""
        at, params = _period("at", since, until)
        marks = ",".join("?" * len(types))
        rows = self.sql.execute(
            "SELECT type, COUNT(DISTINCT contact) FROM events WHERE sequence = ?"
            f" AND type IN ({marks}){at} GROUP BY type",
            [sequence, *types, *params],
        )
        return {str(kind): int(n) for kind, n in rows}

    def contacted(self, sequence: str, since: datetime | None, until: datetime | None) -> int:
        """Enrollments sent at least one message in the period."""
        at, params = _period("h.at", since, until)
        row = self.sql.execute(
            "SELECT COUNT(DISTINCT h.enrollment) FROM history h JOIN enrollments e"
            f" ON e.id = h.enrollment WHERE e.sequence = ? AND h.kind = 'sent'{at}",
            [sequence, *params],
        ).fetchone()
        return int(row[0])

    def waiting_approval(self, sequence: str) -> int:
        """Messages of the sequence waiting for a person's OK now."""
        row = self.sql.execute(
            "SELECT COUNT(*) FROM messages WHERE sequence = ?"
            " AND status IN ('pending_approval', 'queued') AND status = 'pending_approval'",
            [sequence],
        ).fetchone()
        return int(row[0])

    def open_actions_due(
        self, sequence: str, now: datetime, overdue_before: datetime
    ) -> ActionsDue:
        """Open actions due at or before `now`, and of those, due before `overdue_before`."""
        row = self.sql.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN a.due_at < ? THEN 1 ELSE 0 END), 0)"
            " FROM actions a"
            " JOIN enrollments e ON e.id = a.enrollment"
            " WHERE a.status = 'open' AND e.sequence = ? AND a.due_at <= ?",
            [format_instant(overdue_before), sequence, format_instant(now)],
        ).fetchone()
        return ActionsDue.from_row(row)

    def sent_per_hour(
        self,
        sequences: Sequence[str],
        since: datetime | None,
        until: datetime | None,
        width: int = 13,
    ) -> list[SlotCount]:
        """Messages sent per UTC hour over these sequences; `width` 16 counts by minute
        instead (for zones whose offset is not whole hours)."""
        at, params = _period("h.at", since, until)
        marks = ",".join("?" * len(sequences))
        rows = self.sql.execute(
            f"SELECT substr(h.at, 1, {int(width)}) AS slot, COUNT(*) FROM history h"
            " JOIN enrollments e ON e.id = h.enrollment"
            f" WHERE e.sequence IN ({marks}) AND h.kind = 'sent'{at} GROUP BY slot ORDER BY slot",
            [*sequences, *params],
        )
        return [SlotCount.from_row(row) for row in rows]

    def events_per_hour(
        self,
        sequences: Sequence[str],
        kind: str,
        since: datetime | None,
        until: datetime | None,
        width: int = 13,
    ) -> list[SlotCount]:
        """Contacts with an event of this kind per UTC hour (or minute) over these sequences."""
        at, params = _period("at", since, until)
        marks = ",".join("?" * len(sequences))
        rows = self.sql.execute(
            f"SELECT substr(at, 1, {int(width)}) AS slot, COUNT(DISTINCT contact) FROM events"
            f" WHERE sequence IN ({marks}) AND type = ?{at} GROUP BY slot ORDER BY slot",
            [*sequences, kind, *params],
        )
        return [SlotCount.from_row(row) for row in rows]

    def message_failures(
        self, sequence: str, since: datetime | None, until: datetime | None
    ) -> list[MessageFailure]:
        """Failed messages per step and error, with one contact, of messages made in the
        period."""
        at, params = _period("created_at", since, until)
        return [
            MessageFailure.from_row(row)
            for row in self.sql.execute(
                "SELECT step, COALESCE(error, ''), COUNT(*), MIN(contact) FROM messages"
                f" WHERE sequence = ? AND status = 'failed'{at} GROUP BY step, error"
                " ORDER BY COUNT(*) DESC, step, error NULLS FIRST",
                [sequence, *params],
            )
        ]

    def enrollment_failures(self, sequence: str) -> list[EnrollmentFailure]:
        """Failed enrollments per reason, with one contact, as they stand now."""
        return [
            EnrollmentFailure.from_row(row)
            for row in self.sql.execute(
                "SELECT COALESCE(reason, ''), COUNT(*), MIN(contact) FROM enrollments"
                " WHERE sequence = ? AND state = 'failed' GROUP BY reason"
                " ORDER BY COUNT(*) DESC, reason NULLS FIRST",
                [sequence],
            )
        ]
