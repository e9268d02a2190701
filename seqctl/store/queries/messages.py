"""The outbox: every message is a row before it is sent, keyed by its idempotency key."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.records import (
    Deliverable,
    FailingChannel,
    FailingSince,
    MessageRecord,
    NewMessage,
    Postponement,
    Resent,
    Sent,
    SentCount,
    StepStatus,
)
from seqctl.store.sql import TimeTexts, equal, where
from seqctl.store.sql import limit as sql_limit
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

_PENDING = {"queued": "queued", "pending_approval": "pending_approval"}
_PENDING_SET = "('pending_approval', 'queued')"  # as in the messages_pending index
_JOINS = (
    " JOIN enrollments e ON e.id = m.enrollment JOIN sequences s ON s.id = m.sequence"
    " JOIN contacts c ON c.key = m.contact"
)
_COLUMNS = """id, idempotency_key, enrollment, sequence, version, step, contact, channel,
    to_address, subject, body, status, attempts, error, created_at, sent_at, provider_id,
    resent, failing_since, next_attempt_at"""
_LISTED = f"{_COLUMNS}, variant"  # what people look at also names the A/B variant
# A message to send with its enrollment's facts (Deliverable), before the joins and the WHERE.
DELIVERABLE = (
    "SELECT "
    + ", ".join(f"m.{column.strip()}" for column in _COLUMNS.split(","))
    + ", e.step, e.state, e.anchor_at, e.enrolled_at, c.timezone, m.extra, m.sender"
    " FROM messages m"
)


class MessageQueries:
    sql: Sql

    def message(self, message_id: int) -> MessageRecord | None:
        row = self.sql.execute(
            f"SELECT {_LISTED} FROM messages WHERE id = ?", [message_id]
        ).fetchone()
        return MessageRecord.from_row(row) if row else None

    def message_extra(self, message_id: int) -> dict[str, Any]:
        """A message's extra JSON (html body, WhatsApp template, ...); {} when none."""
        row = self.sql.execute("SELECT extra FROM messages WHERE id = ?", [message_id]).fetchone()
        data: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
        return data

    def messages(
        self,
        *,
        status: str | None = None,
        sequence: str | None = None,
        enrollment: int | None = None,
        limit: int | None = None,
    ) -> list[MessageRecord]:
        conditions, params = equal(
            ("status", status), ("sequence", sequence), ("enrollment", enrollment)
        )
        params.append(sql_limit(limit))
        rows = self.sql.execute(
            f"SELECT {_LISTED} FROM messages {where(conditions)} ORDER BY id LIMIT ?", params
        )
        return [MessageRecord.from_row(row) for row in rows]

    def deferred_messages(self, enrollment: int) -> list[MessageRecord]:
        """An enrollment's queued messages held until a later attempt (`next_attempt_at`)."""
        rows = self.sql.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE enrollment = ?"
            " AND status = 'queued' AND next_attempt_at IS NOT NULL ORDER BY id",
            [enrollment],
        )
        return [MessageRecord.from_row(row) for row in rows]

    def add_messages(self, messages: Sequence[NewMessage]) -> dict[str, int]:
        """Store messages; one already stored under the same key is left as it is.

        Returns the ids of the rows this call inserted, by idempotency key.
        """
        before = self.sql.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]
        times = TimeTexts()
        self.sql.executemany(
            "INSERT OR IGNORE INTO messages (idempotency_key, enrollment, sequence, version, step,"
            " contact, channel, to_address, subject, body, status, created_at, extra, sender,"
            " next_attempt_at, error, variant)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [m.row(times) for m in messages],
        )
        rows = self.sql.execute(
            "SELECT idempotency_key, id FROM messages WHERE id > ?", [before]
        ).fetchall()
        return {str(key): int(message_id) for key, message_id in rows}

    def deliverables(self, ids: Collection[int]) -> list[Deliverable]:
        """These messages, whatever their status, with their enrollment's facts (in order)."""
        found: list[Deliverable] = []
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.sql.execute(
                f"{DELIVERABLE}{_JOINS} WHERE m.id IN ({','.join('?' * len(chunk))}) ORDER BY m.id",
                chunk,
            )
            found.extend(Deliverable.from_row(row) for row in rows)
        return found

    def deliverable(
        self,
        limit: int | None,
        *,
        now: datetime | None = None,
        status: str = "queued",
        after: int = 0,
    ) -> list[Deliverable]:
        """Messages in `status` (whose retry time has come) with their enrollment's facts, in
        the order they were made; only those after message `after`."""
        if status == "sending":
            # In flight when a tick died: whatever their enrollment is doing now.
            where = "INDEXED BY messages_sending" + _JOINS + " WHERE m.status = 'sending'"
        else:
            # A partial index applies only when the query repeats its WHERE term word for word;
            # the status itself is a literal for the same reason. A paused enrollment or
            # sequence holds its messages too, until it is resumed.
            where = (
                "INDEXED BY messages_pending"
                + _JOINS
                + f" WHERE m.status IN {_PENDING_SET} AND m.status = '{_PENDING[status]}'"
                " AND e.state != 'paused' AND s.status = 'active'"
            )
        rows = self.sql.execute(
            f"{DELIVERABLE} {where}"
            " AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ?) AND m.id > ?"
            " ORDER BY m.id LIMIT ?",
            [format_instant(now) if now is not None else "9999", after, sql_limit(limit)],
        )
        return [Deliverable.from_row(row) for row in rows]

    def postpone(self, updates: Iterable[Postponement]) -> None:
        """Messages back to queued until their next attempt, with why."""
        times = TimeTexts()
        self.sql.executemany(
            "UPDATE messages SET status = 'queued', error = ?, next_attempt_at = ?,"
            " attempts = attempts + ? WHERE id = ?",
            [
                (u.error, times[u.next_attempt_at], 1 if u.attempt else 0, u.message)
                for u in updates
            ],
        )

    def requeue(self, ids: Iterable[int]) -> None:
        """Failed messages get another go, now (and a new period of retries)."""
        self.sql.executemany(
            "UPDATE messages SET status = 'queued', next_attempt_at = NULL, attempts = 0,"
            " failing_since = NULL WHERE id = ?",
            [(i,) for i in ids],
        )

    def requeue_in_flight(self, ids: Iterable[int], note: str) -> None:
        """Messages a dead tick left `sending`, whose outcome is unknown: queued to go again
        now, each marked as sent again."""
        self.sql.executemany(
            "UPDATE messages SET status = 'queued', next_attempt_at = NULL, error = ?,"
            " resent = resent + 1 WHERE id = ? AND status = 'sending'",
            [(note, i) for i in ids],
        )

    def add_resent(self, counts: Iterable[Resent]) -> None:
        """Sends whose outcome was unknown, so the message went out again."""
        self.sql.executemany(
            "UPDATE messages SET resent = resent + ? WHERE id = ?",
            [(c.times, c.message) for c in counts],
        )

    def mark_failing(self, since: Iterable[FailingSince]) -> None:
        """The first temporary failure of a message, kept until it is sent."""
        times = TimeTexts()
        self.sql.executemany(
            "UPDATE messages SET failing_since = COALESCE(failing_since, ?) WHERE id = ?",
            [(times[f.at], f.message) for f in since],
        )

    def failing_channels(self) -> list[FailingChannel]:
        """(message type, waiting, next try, latest error) of the messages that wait after a
        temporary failure: what a tick says about channels that are down."""
        failing = "status = 'queued' AND failing_since IS NOT NULL"
        rows = self.sql.execute(
            "SELECT channel, COUNT(*), MIN(next_attempt_at), (SELECT l.error FROM messages l"
            f" WHERE l.channel = m.channel AND l.{failing.replace(' AND ', ' AND l.')}"
            " ORDER BY l.failing_since DESC, l.id LIMIT 1)"
            f" FROM messages m INDEXED BY messages_failing WHERE {failing}"
            " GROUP BY channel ORDER BY channel"
        )
        return [FailingChannel.from_row(row) for row in rows]

    def sent_since(
        self, since: datetime, *, sequence: str | None = None, sender: str | None = None
    ) -> SentCount:
        """How many were sent after `since` (by a sequence, or from a mailbox), and the first."""
        column, value = ("sequence", sequence) if sequence is not None else ("sender", sender)
        row = self.sql.execute(
            f"SELECT COUNT(*), MIN(sent_at) FROM messages WHERE {column} = ? AND status = 'sent'"
            " AND sent_at > ?",
            [value, format_instant(since)],
        ).fetchone()
        return SentCount.from_row(row)

    def set_message_status(
        self,
        ids: Iterable[int],
        status: str,
        *,
        error: str | None = None,
        sent_at: datetime | None = None,
        attempt: bool = False,
    ) -> None:
        stamp = format_instant(sent_at)
        self.sql.executemany(
            "UPDATE messages SET status = ?, error = ?, sent_at = COALESCE(?, sent_at),"
            " attempts = attempts + ? WHERE id = ?",
            [(status, error, stamp, 1 if attempt else 0, i) for i in ids],
        )

    def mark_sent(self, sent: Iterable[Sent]) -> None:
        """Messages sent, when, under the provider's id."""
        times = TimeTexts()
        self.sql.executemany(
            "UPDATE messages SET status = 'sent', sent_at = ?, provider_id = ?, error = NULL,"
            " attempts = attempts + 1, failing_since = NULL, next_attempt_at = NULL WHERE id = ?",
            [(times[s.at], s.provider_id, s.message) for s in sent],
        )

    def edit_message(self, message_id: int, subject: str | None, body: str | None) -> None:
        self.sql.execute(
            "UPDATE messages SET subject = COALESCE(?, subject), body = COALESCE(?, body)"
            " WHERE id = ?",
            [subject, body, message_id],
        )

    def rewrite_message(self, message_id: int, body: str | None, extra_json: str | None) -> None:
        """A message's body and extra replaced by what is really sent (a WhatsApp template in
        place of free text whose window closed while it waited)."""
        self.sql.execute(
            "UPDATE messages SET body = ?, extra = ? WHERE id = ?", [body, extra_json, message_id]
        )

    def message_counts(self, sequence: str) -> dict[StepStatus, int]:
        rows = self.sql.execute(
            "SELECT step, status, COUNT(*) FROM messages WHERE sequence = ? GROUP BY step, status",
            [sequence],
        )
        return {StepStatus(str(step), str(status)): int(n) for step, status, n in rows}

    def count_released(self, sequence: str, step: str, since: datetime) -> int:
        """Messages of a step let out (queued, sending or sent) since a time."""
        return int(
            self.sql.execute(
                "SELECT COUNT(*) FROM messages WHERE sequence = ? AND step = ? AND created_at > ?"
                " AND status IN ('queued', 'sending', 'sent')",
                [sequence, step, format_instant(since)],
            ).fetchone()[0]
        )

    def cancel_messages(self, enrollment: int) -> None:
        """Messages not sent yet will not be: the enrollment ended."""
        self.sql.execute(
            "UPDATE messages SET status = 'cancelled' WHERE enrollment = ?"
            " AND status IN ('pending_approval', 'queued')",
            [enrollment],
        )

    def last_sent_message(self, contact: str, sequence: str | None = None) -> MessageRecord | None:
        """The newest message sent to a contact (in a sequence): what a reply answers."""
        clause = " AND sequence = ?" if sequence is not None else ""
        params = [contact, sequence] if sequence is not None else [contact]
        # Found through the contact's enrollments (both indexed): an index of messages by
        # contact would cost every send a write for the sake of an event now and then. Named,
        # or the planner walks every sent message of the sequence for the ORDER BY.
        row = self.sql.execute(
            f"SELECT {_COLUMNS} FROM messages INDEXED BY messages_enrollment WHERE enrollment IN"
            " (SELECT id FROM enrollments WHERE contact = ?) AND status = 'sent'"
            f"{clause} ORDER BY sent_at DESC, id DESC LIMIT 1",
            params,
        ).fetchone()
        return MessageRecord.from_row(row) if row else None

    def approve_pending(self, at: datetime, by: str | None, sequence: str | None = None) -> int:
        """Release every message waiting for approval (of a sequence) in three statements,
        but those of paused sequences and enrollments.

        Their waiting enrollments become active again (the step is done when the message is
        sent) and each gets an `approved` history row. Memory does not grow with their number.
        """
        scope = " AND sequence = ?" if sequence is not None else ""
        params: list[Any] = [sequence] if sequence is not None else []
        pending = (
            f"status IN {_PENDING_SET} AND status = 'pending_approval'{scope}"
            # on hold: a paused sequence's (or enrollment's) messages are approved one by one
            " AND sequence NOT IN (SELECT id FROM sequences WHERE status = 'paused')"
            " AND enrollment NOT IN (SELECT id FROM enrollments WHERE state = 'paused')"
        )
        stamp = format_instant(at)
        self.sql.execute(
            "INSERT INTO history (enrollment, at, kind, step, detail)"
            f" SELECT enrollment, ?, 'approved', step, ? FROM messages WHERE {pending}",
            [stamp, by, *params],
        )
        self.sql.execute(
            "UPDATE enrollments SET state = 'active', reason = NULL, updated_at = ?"
            f" WHERE state = 'waiting' AND id IN (SELECT enrollment FROM messages WHERE {pending})",
            [stamp, *params],
        )
        cursor = self.sql.execute(f"UPDATE messages SET status = 'queued' WHERE {pending}", params)
        return int(cursor.rowcount)

    def finished_keys(self, keys: Sequence[str]) -> set[str]:
        """Of these idempotency keys, those whose message is done with (sent, failed, ...)."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(
                str(row[0])
                for row in self.sql.execute(
                    f"SELECT idempotency_key FROM messages WHERE idempotency_key IN ({marks})"
                    " AND status IN ('sent', 'failed', 'rejected', 'cancelled')",
                    chunk,
                )
            )
        return found
