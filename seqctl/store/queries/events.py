"""Events that happened to contacts, and the suppression list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.records import (
    EventRecord,
    NewEvent,
    StepEvent,
    SuppressionChange,
    SuppressionRow,
)
from seqctl.store.sql import TimeTexts, json_list
from seqctl.timeutil import format_instant, from_db

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

_IN_CHUNK = 500

_EVENT_COLUMNS = "id, event_id, contact, type, sequence, step, message, at, data, created_at"


class EventQueries:
    sql: Sql

    def add_event(self, event: NewEvent) -> int | None:
        """Store an event; None when one with the same event id is already stored."""
        cursor = self.sql.execute(
            "INSERT OR IGNORE INTO events (event_id, contact, type, sequence, step, message, at,"
            " data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                event.event_id,
                event.contact,
                event.type,
                event.sequence,
                event.step,
                event.message,
                format_instant(event.at),
                event.data_json,
                format_instant(event.created_at),
            ],
        )
        row = cursor.fetchone()
        return int(row[0]) if row is not None else None

    def events(
        self,
        *,
        contact: str | None = None,
        types: Sequence[str] = (),
        since: datetime | None = None,
        sequence: str | None = None,
    ) -> list[EventRecord]:
        where: list[str] = []
        params: list[Any] = []
        if contact is not None:
            where.append("contact = ?")
            params.append(contact)
        if sequence is not None:
            where.append("(sequence = ? OR sequence IS NULL)")
            params.append(sequence)
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if since is not None:
            where.append("at >= ?")
            params.append(format_instant(since))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.sql.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events {clause} ORDER BY at, id", params
        )
        return [EventRecord.from_row(row) for row in rows]

    def last_inbound_on(
        self, contacts: Sequence[str], channel: str, until: datetime
    ) -> dict[str, datetime]:
        """Each contact's newest inbound message on `channel` at or before `until` (contacts
        with none are left out): on WhatsApp, what opens its 24-hour window. An inbound event
        that names another channel, or none, does not count."""
        rows = self.sql.execute(
            "SELECT contact, MAX(at) FROM events WHERE type = 'inbound'"
            " AND contact IN (SELECT value FROM json_each(?)) AND at <= ?"
            " AND lower(trim(json_extract(data, '$.channel'))) = ? GROUP BY contact",
            [json_list(sorted(set(contacts))), format_instant(until), channel],
        )
        return {str(contact): from_db(str(at)) for contact, at in rows}

    def event_counts(self, sequence: str) -> dict[StepEvent, int]:
        """Events per (step, type) of a sequence, for the funnel."""
        rows = self.sql.execute(
            "SELECT step, type, COUNT(*) FROM events WHERE sequence = ? AND step IS NOT NULL"
            " GROUP BY step, type",
            [sequence],
        )
        return {StepEvent(str(step), str(kind)): int(n) for step, kind, n in rows}

    def event_contacts(
        self,
        sequence: str,
        types: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[StepEvent, int]:
        """Distinct contacts per (step, type) with such an event at or after `since`."""
        marks = ",".join("?" * len(types))
        rows = self.sql.execute(
            "SELECT step, type, COUNT(DISTINCT contact) FROM events WHERE sequence = ?"
            f" AND step IS NOT NULL AND type IN ({marks})"
            f"{' AND at >= ?' if since is not None else ''}"
            f"{' AND at < ?' if until is not None else ''} GROUP BY step, type",
            [sequence, *types, *(format_instant(t) for t in (since, until) if t is not None)],
        )
        return {StepEvent(str(step), str(kind)): int(n) for step, kind, n in rows}

    def suppress(self, rows: Iterable[SuppressionRow]) -> int:
        """Add entries; an existing entry keeps its first reason. Each one added is written to
        the list's history. Returns how many."""
        times = TimeTexts()
        entries = [row.to_db(times) for row in rows]
        before = self.sql.execute("SELECT COALESCE(MAX(rowid), 0) FROM suppressions").fetchone()[0]
        self.sql.executemany(
            "INSERT OR IGNORE INTO suppressions (value, kind, reason, at, added_by)"
            " VALUES (?, ?, ?, ?, ?)",
            entries,
        )
        # A new entry gets a rowid above every existing one: those are the ones added now.
        cursor = self.sql.execute(
            "INSERT INTO suppression_log (at, value, kind, change, reason, changed_by)"
            " SELECT at, value, kind, 'added', reason, added_by FROM suppressions WHERE rowid > ?"
            " ORDER BY rowid",
            [before],
        )
        return int(cursor.rowcount)

    def unsuppress(
        self, value: str, *, at: datetime, by: str | None, reason: str | None
    ) -> SuppressionRow | None:
        """Lift an entry (written to the history with who and why); None when not listed."""
        row = self.sql.execute(
            "SELECT value, kind, reason, at, added_by FROM suppressions WHERE value = ?", [value]
        ).fetchone()
        if row is None:
            return None
        self.sql.execute("DELETE FROM suppressions WHERE value = ?", [value])
        self.sql.execute(
            "INSERT INTO suppression_log (at, value, kind, change, reason, changed_by)"
            " VALUES (?, ?, ?, 'lifted', ?, ?)",
            [format_instant(at), value, row[1], reason, by],
        )
        return SuppressionRow.from_row(row)

    def suppressions(self) -> list[SuppressionRow]:
        rows = self.sql.execute(
            "SELECT value, kind, reason, at, added_by FROM suppressions ORDER BY at, value"
        )
        return [SuppressionRow.from_row(row) for row in rows]

    def suppression_history(self, value: str | None = None) -> list[SuppressionChange]:
        """Every entry added or lifted, oldest first (of one value, when given)."""
        rows = self.sql.execute(
            "SELECT at, value, kind, change, reason, changed_by FROM suppression_log"
            f"{' WHERE value = ?' if value is not None else ''} ORDER BY at, id",
            [value] if value is not None else [],
        )
        return [SuppressionChange.from_row(row) for row in rows]

    def suppressed(self, values: Sequence[str]) -> dict[str, str]:
        """Which of these values (keys, addresses, domains) are suppressed, with the reason."""
        found: dict[str, str] = {}
        # In chunks: a batch of enrollments can name more values than SQLite takes variables.
        for start in range(0, len(values), _IN_CHUNK):
            chunk = list(values[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self.sql.execute(
                f"SELECT value, reason FROM suppressions WHERE value IN ({marks})", chunk
            )
            found.update({str(value): str(reason) for value, reason in rows})
        return found

    def has_suppressions(self) -> bool:
        return self.sql.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone() is not None
