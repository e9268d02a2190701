"""Leases: one tick at a time, held in the database (not a PID file) and expiring on their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database


class LeaseQueries:
    db: Database

    def take_lease(self, name: str, holder: str, now: str, expires_at: str) -> str | None:
        """Take the lease, or return who holds it. Call inside an immediate transaction."""
        row = self.db.execute(
            "SELECT holder, expires_at FROM leases WHERE name = ?", [name]
        ).fetchone()
        if row is not None and row[1] > now and row[0] != holder:
            return str(row[0])
        self.db.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at",
            [name, holder, expires_at],
        )
        return None

    def release_lease(self, name: str, holder: str) -> None:
        self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])

    def mark(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM marks WHERE name = ?", [name]).fetchone()
        return str(row[0]) if row else None

    def set_mark(self, name: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO marks (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            [name, value],
        )

    def news_since(self, after_id: int) -> list[tuple[int, str, str, str, str | None, str]]:
        """(history id, sequence, contact, kind, step, at) of what owners hear about, after a
        history id: actions that fell due and enrollments ended by a reply or a meeting."""
        rows = self.db.execute(
            "SELECT h.id, e.sequence, e.contact, h.kind, h.step, h.at FROM history h"
            " JOIN enrollments e ON e.id = h.enrollment"
            " WHERE h.id > ? AND h.kind IN ('action', 'reply', 'meeting_booked')"
            " ORDER BY h.id",
            [after_id],
        )
        return [(int(i), str(s), str(c), str(k), p, str(a)) for i, s, c, k, p, a in rows]

    def last_history_id(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM history").fetchone()[0])

    def renew_lease(self, name: str, holder: str, expires_at: str) -> bool:
        """Extend a lease this holder has; False when it expired and another took it."""
        cursor = self.db.execute(
            "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
            [expires_at, name, holder],
        )
        return bool(cursor.rowcount)
