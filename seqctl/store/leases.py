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
