"""Leases: one tick at a time, held in the database (not a PID file) and expiring on their own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.records import News
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.sql import Sql


RUN_LEASE = "tick"


class LeaseQueries:
    """How ticks share the database. SQLite's: one tick at a time, holding a lease that expires
    by itself (a tick killed holds it only that long); its shards are forked by that tick.
    The PostgreSQL store shares it among any number of workers instead (postgres/claims.py)."""

    sql: Sql
    exclusive_runs = True  # a second tick finds the first one busy and leaves

    if TYPE_CHECKING:

        def transaction(self) -> AbstractContextManager[Any]: ...

    def start_run(
        self, holder: str, now: datetime, expires_at: datetime, *, capped: bool = False
    ) -> str | None:
        """Begin a tick's work as `holder`: None, or who holds the database (it is busy).
        `capped`: mailboxes have daily caps (seqctl.yaml's; the store knows the sequences')."""
        with self.transaction():
            return self.take_lease(RUN_LEASE, holder, now, expires_at)

    def renew_run(self, holder: str, expires_at: datetime) -> bool:
        """Still `holder`'s: extended; False when its lease ran out and another took over."""
        with self.transaction():
            return self.renew_lease(RUN_LEASE, holder, expires_at)

    def end_run(self, holder: str) -> None:
        with self.transaction():
            self.release_lease(RUN_LEASE, holder)

    @contextmanager
    def only_one(self, name: str) -> Iterator[bool]:
        """Whether this run is the one to do `name` (a digest, resuming pauses) now: always,
        where runs never overlap."""
        yield True

    def take_lease(self, name: str, holder: str, now: datetime, expires_at: datetime) -> str | None:
        """Take the lease, or return who holds it. Call inside an immediate transaction."""
        row = self.sql.execute(
            "SELECT holder, expires_at FROM leases WHERE name = ?", [name]
        ).fetchone()
        if row is not None and row[1] > format_instant(now) and row[0] != holder:
            return str(row[0])
        self.sql.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at",
            [name, holder, format_instant(expires_at)],
        )
        return None

    def release_lease(self, name: str, holder: str) -> None:
        self.sql.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])

    def mark(self, name: str) -> str | None:
        row = self.sql.execute("SELECT value FROM marks WHERE name = ?", [name]).fetchone()
        return str(row[0]) if row else None

    def set_mark(self, name: str, value: str) -> None:
        self.sql.execute(
            "INSERT INTO marks (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            [name, value],
        )

    def news_since(
        self, after_id: int, until_id: int, *, kinds: Sequence[str], exits: Mapping[str, str]
    ) -> list[News]:
        """History rows after a history id, up to another, that owners hear about: of these
        `kinds`, and of the `exits` kinds when they ended the enrollment (it exited with that
        reason)."""
        ended = " OR ".join("(h.kind = ? AND e.state = 'exited' AND e.reason = ?)" for _ in exits)
        rows = self.sql.execute(
            "SELECT h.id, e.sequence, e.version, e.contact, h.kind, h.step, h.at, h.detail"
            " FROM history h JOIN enrollments e ON e.id = h.enrollment"
            f" WHERE h.id > ? AND h.id <= ? AND (h.kind IN ({','.join('?' * len(kinds))})"
            f"{' OR ' + ended if exits else ''}) ORDER BY h.id",
            [after_id, until_id, *kinds, *(x for pair in exits.items() for x in pair)],
        )
        return [News.from_row(row) for row in rows]

    def last_history_id(self) -> int | None:
        """SQLite has one writer at a time, and a row's id is taken as it is written: no
        row with a smaller id can still be on its way."""
        return int(self.sql.execute("SELECT COALESCE(MAX(id), 0) FROM history").fetchone()[0])

    def renew_lease(self, name: str, holder: str, expires_at: datetime) -> bool:
        """Extend a lease this holder has; False when it expired and another took it."""
        cursor = self.sql.execute(
            "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
            [format_instant(expires_at), name, holder],
        )
        return bool(cursor.rowcount)
