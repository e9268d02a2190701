"""Sequences and their immutable, numbered versions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from seqctl.store.records import SequenceRecord, VersionRecord
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

_SEQUENCE_COLUMNS = """s.id, s.status, s.created_at, s.updated_at, s.paused_at,
    (SELECT MAX(number) FROM versions v WHERE v.sequence = s.id)"""
_VERSION_COLUMNS = (
    "sequence, number, digest, definition, source, published_at, published_by, git_commit"
)


class SequenceQueries:
    sql: Sql

    def sequence(self, sequence_id: str) -> SequenceRecord | None:
        row = self.sql.execute(
            f"SELECT {_SEQUENCE_COLUMNS} FROM sequences s WHERE s.id = ?", [sequence_id]
        ).fetchone()
        return SequenceRecord.from_row(row) if row else None

    def sequences(self) -> list[SequenceRecord]:
        rows = self.sql.execute(f"SELECT {_SEQUENCE_COLUMNS} FROM sequences s ORDER BY s.id")
        return [SequenceRecord.from_row(row) for row in rows]

    def create_sequence(self, sequence_id: str, at: datetime) -> None:
        stamp = format_instant(at)
        self.sql.execute(
            "INSERT INTO sequences (id, status, created_at, updated_at) VALUES (?, 'draft', ?, ?)",
            [sequence_id, stamp, stamp],
        )

    def set_sequence_status(
        self, sequence_id: str, status: str, at: datetime, paused_at: datetime | None
    ) -> None:
        self.sql.execute(
            "UPDATE sequences SET status = ?, updated_at = ?, paused_at = ? WHERE id = ?",
            [status, format_instant(at), format_instant(paused_at), sequence_id],
        )

    def version(self, sequence_id: str, number: int | None = None) -> VersionRecord | None:
        """A version by number, or the newest when number is None."""
        if number is None:
            row = self.sql.execute(
                f"SELECT {_VERSION_COLUMNS} FROM versions WHERE sequence = ? "
                "ORDER BY number DESC LIMIT 1",
                [sequence_id],
            ).fetchone()
        else:
            row = self.sql.execute(
                f"SELECT {_VERSION_COLUMNS} FROM versions WHERE sequence = ? AND number = ?",
                [sequence_id, number],
            ).fetchone()
        return VersionRecord.from_row(row) if row else None

    def has_daily_caps(self) -> bool:
        """Whether an active sequence's version caps its sends per day (`limits.per_day`, an
        `auto_approve` rule's `max_per_day`)."""
        return bool(
            self.sql.execute(
                "SELECT EXISTS (SELECT 1 FROM versions v JOIN sequences s ON s.id = v.sequence"
                " WHERE s.status = 'active' AND ("
                "json_extract(v.definition, '$.limits.per_day') IS NOT NULL OR EXISTS ("
                "SELECT 1 FROM json_each(v.definition, '$.auto_approve')"
                " WHERE json_extract(value, '$.max_per_day') IS NOT NULL)))"
            ).fetchone()[0]
        )

    def versions(self, sequence_id: str) -> list[VersionRecord]:
        rows = self.sql.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE sequence = ? ORDER BY number",
            [sequence_id],
        )
        return [VersionRecord.from_row(row) for row in rows]

    def add_version(self, record: VersionRecord) -> None:
        self.sql.execute(
            f"INSERT INTO versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.sequence,
                record.number,
                record.digest,
                record.definition_json,
                record.source,
                format_instant(record.published_at),
                record.published_by,
                record.git_commit,
            ],
        )

    def add_attachment(self, sha256: str, name: str, content: bytes) -> None:
        """Keep an attachment's bytes, once per content, for the versions that send it."""
        self.sql.execute(
            "INSERT OR IGNORE INTO attachments (sha256, name, size, content) VALUES (?, ?, ?, ?)",
            [sha256, name, len(content), content],
        )

    def attachment(self, sha256: str) -> bytes | None:
        row = self.sql.execute(
            "SELECT content FROM attachments WHERE sha256 = ?", [sha256]
        ).fetchone()
        return bytes(row[0]) if row else None
