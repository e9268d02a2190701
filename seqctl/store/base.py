"""SQLite store: connection, migrations, transactions. Queries live in one mixin per concept."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from sqlite_utils import Database

from seqctl.errors import InputError
from seqctl.store.actions import ActionQueries
from seqctl.store.conditions import ConditionQueries
from seqctl.store.contacts import ContactQueries
from seqctl.store.enrollments import EnrollmentQueries
from seqctl.store.events import EventQueries
from seqctl.store.history import HistoryQueries
from seqctl.store.leases import LeaseQueries
from seqctl.store.mailboxes import MailboxQueries
from seqctl.store.messages import MessageQueries
from seqctl.store.migrations import migrations
from seqctl.store.outcomes import OutcomeQueries
from seqctl.store.sequences import SequenceQueries
from seqctl.store.summaries import SummaryQueries
from seqctl.store.transitions import TransitionQueries

BUSY_TIMEOUT_SECONDS = 30
CACHE_KIB = 64 * 1024
CHECKPOINT_PAGES = 10_000


class WriterLock(Protocol):
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...


class Store(
    SequenceQueries,
    ContactQueries,
    EnrollmentQueries,
    TransitionQueries,
    HistoryQueries,
    ActionQueries,
    MessageQueries,
    LeaseQueries,
    EventQueries,
    SummaryQueries,
    OutcomeQueries,
    ConditionQueries,
    MailboxQueries,
):
    """One SQLite database file, migrated to the current schema."""

    def __init__(self, db: Database, path: Path | None) -> None:
        self.db = db
        self.path = path
        # Processes that write together (a tick on several cores) take turns through this
        # lock: a waiter wakes the moment it is free, where SQLite's own wait sleeps 1, 2, 5,
        # 10 ms... between tries. SQLite's lock still guards the data; this only schedules.
        self.writers: WriterLock | None = None

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All writes inside happen together or not at all.

        The outermost transaction is BEGIN IMMEDIATE: it takes the write lock up front, so two
        processes never both read-then-write the same rows (concurrent enrolls, ticks).
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        turn = self.writers is not None and self.writers.acquire(timeout=BUSY_TIMEOUT_SECONDS)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                conn.rollback()
                raise
            conn.execute("COMMIT")
        finally:
            if turn:
                assert self.writers is not None
                self.writers.release()

    def share_cache(self, ways: int) -> None:
        """Use 1/ways of the usual page cache (one of `ways` processes working together)."""
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB // max(ways, 1)}")

    @contextmanager
    def unchecked_references(self) -> Iterator[Store]:
        """Write without checking foreign keys, for writers whose references are sure.

        The tick's: each message and history row it writes names an enrollment it has just
        read, and enrollments are never deleted. Checking them cost a fifth of its writes.
        """
        self.db.execute("PRAGMA foreign_keys=OFF")
        try:
            yield self
        finally:
            self.db.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        """Close the connection and open a new one to the same file (a process is forked in
        between: SQLite connections must not cross a fork)."""
        assert self.path is not None, "an in-memory database cannot be reopened"
        self.db.close()
        self.db = _connect(self.path)
        vars(self).pop("_first_due", None)  # SQL functions belong to a connection: made again

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: Path | str) -> Store:
    """Open (creating if needed) and migrate the database at path; ':memory:' for tests."""
    target = Path(path) if str(path) != ":memory:" else None
    if target is not None and target.parent and not target.parent.exists():
        raise InputError(f"{target}: folder {target.parent} does not exist")
    try:
        db = _connect(target or str(path))
        if target is not None:
            db.execute("PRAGMA journal_mode=WAL")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a seqctl database ({exc})") from None
    return Store(db, target)


def _connect(path: Path | str) -> Database:
    """A connection with seqctl's settings.

    Autocommit mode: a write outside Store.transaction() commits at once instead of
    silently opening a transaction that the next one would nest into and never commit.
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    db = Database(conn)
    db.execute("PRAGMA synchronous=NORMAL")
    # SQLite's default 2 MB page cache holds the indexes of a few thousand enrollments; past
    # that every write of a tick reads its pages again. Pages are allocated only as used.
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    # Copy the write-ahead log into the database every 40 MB rather than 4: a tick's batches
    # rewrite the same index pages, and each copy syncs the disk. The log stays that size.
    db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    db.execute(f"PRAGMA journal_size_limit={CHECKPOINT_PAGES * 4096}")
    db.execute("PRAGMA foreign_keys=ON")
    return db
