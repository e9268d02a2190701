"""What `seqctl inbox sync` keeps: how far each folder was read, the Message-IDs seqctl sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from seqctl.store.records import (
    MAIL_EVENT_PREFIX,
    ContactRecord,
    EmailMessageRef,
    FolderState,
    MessageRecord,
    SentMail,
)
from seqctl.timeutil import format_instant, from_db

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

_IN_CHUNK = 500
_FOLDER_COLUMNS = (
    "inbox, folder, uidvalidity, last_uid, synced_at, error, messages, events, unmatched, skipped"
)
_MESSAGE_COLUMNS = """id, idempotency_key, enrollment, sequence, version, step, contact, channel,
    to_address, subject, body, status, attempts, error, created_at, sent_at, provider_id"""
_CONTACT_COLUMNS = "key, email, phone, timezone, attributes, created_at, updated_at"


class MailboxQueries:
    sql: Sql

    def inbox_folder(self, inbox: str, folder: str) -> FolderState | None:
        row = self.sql.execute(
            f"SELECT {_FOLDER_COLUMNS} FROM inbox_folders WHERE inbox = ? AND folder = ?",
            [inbox, folder],
        ).fetchone()
        return FolderState.from_row(row) if row else None

    def inbox_folders(self) -> list[FolderState]:
        rows = self.sql.execute(
            f"SELECT {_FOLDER_COLUMNS} FROM inbox_folders ORDER BY inbox, folder"
        )
        return [FolderState.from_row(row) for row in rows]

    def save_inbox_folder(self, state: FolderState) -> None:
        """Write a folder's state; last_uid never goes back under the same uidvalidity (two
        syncs at once each write what they read)."""
        self.sql.execute(
            f"INSERT INTO inbox_folders ({_FOLDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(inbox, folder) DO UPDATE SET"
            # Columns named with their table (PostgreSQL finds a bare one ambiguous) and no
            # two-argument MAX (PostgreSQL's is an aggregate only).
            " last_uid = CASE WHEN inbox_folders.uidvalidity = excluded.uidvalidity"
            " AND inbox_folders.last_uid > excluded.last_uid THEN inbox_folders.last_uid"
            " ELSE excluded.last_uid END,"
            " uidvalidity = excluded.uidvalidity, synced_at = excluded.synced_at,"
            " error = excluded.error, messages = excluded.messages, events = excluded.events,"
            " unmatched = excluded.unmatched, skipped = excluded.skipped",
            [
                state.inbox,
                state.folder,
                state.uidvalidity,
                state.last_uid,
                format_instant(state.synced_at),
                state.error,
                state.messages,
                state.events,
                state.unmatched,
                state.skipped,
            ],
        )

    def inbox_failed(self, inbox: str, folders: Sequence[str], error: str, at: datetime) -> None:
        """Record that reading these folders failed (a folder never read gets a row saying so)."""
        stamp = format_instant(at)
        for folder in folders:
            self.sql.execute(
                f"INSERT INTO inbox_folders ({_FOLDER_COLUMNS}) VALUES (?, ?, 0, 0, ?, ?, 0, 0,"
                " 0, 0) ON CONFLICT(inbox, folder) DO UPDATE SET error = excluded.error,"
                " synced_at = excluded.synced_at",
                [inbox, folder, stamp, error],
            )

    def email_messages_after(self, after_id: int, limit: int) -> list[EmailMessageRef]:
        """Email messages after an id, in order."""
        rows = self.sql.execute(
            "SELECT id, idempotency_key, sequence, contact FROM messages WHERE id > ?"
            " AND channel = 'email' ORDER BY id LIMIT ?",
            [after_id, limit],
        )
        return [EmailMessageRef.from_row(row) for row in rows]

    def add_sent_mail(self, rows: Iterable[SentMail]) -> None:
        """The Message-ID local parts of mail seqctl sent."""
        self.sql.executemany(
            "INSERT OR IGNORE INTO sent_mail (local, message) VALUES (?, ?)",
            [(row.local, row.message) for row in rows],
        )

    def sent_mail(self, locals_: Sequence[str]) -> dict[str, int]:
        """The messages seqctl sent under these Message-ID local parts."""
        found: dict[str, int] = {}
        for start in range(0, len(locals_), _IN_CHUNK):
            chunk = list(locals_[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self.sql.execute(
                f"SELECT local, message FROM sent_mail WHERE local IN ({marks})", chunk
            )
            found.update({str(local): int(message) for local, message in rows})
        return found

    def message_by_key(self, idempotency_key: str) -> MessageRecord | None:
        row = self.sql.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE idempotency_key = ?", [idempotency_key]
        ).fetchone()
        return MessageRecord.from_row(row) if row else None

    def contacts_by_email(self, address: str) -> list[ContactRecord]:
        """Contacts with this email address, whatever its case."""
        rows = self.sql.execute(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE email = ? COLLATE NOCASE ORDER BY key",
            [address],
        )
        return [ContactRecord.from_row(row) for row in rows]

    def earliest_live_enrollment(self) -> datetime | None:
        """When the oldest enrollment still running began: older mail answers none of them."""
        row = self.sql.execute(
            "SELECT MIN(enrolled_at) FROM enrollments"
            " WHERE state IN ('active', 'waiting', 'paused', 'failed')"
        ).fetchone()
        return from_db(str(row[0])) if row and row[0] is not None else None

    def mailbox_event_counts(self, sequence: str | None = None) -> dict[str, int]:
        """Events read from a mailbox, by type (of a sequence)."""
        scope = " AND sequence = ?" if sequence is not None else ""
        rows = self.sql.execute(
            "SELECT type, COUNT(*) FROM events WHERE event_id >= ? AND event_id < ?"
            f"{scope} GROUP BY type ORDER BY type",
            [MAIL_EVENT_PREFIX, _after(MAIL_EVENT_PREFIX), *([sequence] if sequence else [])],
        )
        return {str(kind): int(n) for kind, n in rows}


def _after(prefix: str) -> str:
    """The smallest string greater than every string starting with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
