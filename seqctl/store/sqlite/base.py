"""SQLite store: connection, migrations, transactions. Queries live in one mixin per concept.

`SqliteStore` implements the contract (`seqctl.store.contract.Store`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from seqctl.store.contract import WriterLock
from seqctl.store.queries.actions import ActionQueries
from seqctl.store.queries.conditions import ConditionQueries
from seqctl.store.queries.contacts import ContactQueries
from seqctl.store.queries.enrollments import EnrollmentQueries
from seqctl.store.queries.events import EventQueries
from seqctl.store.queries.history import HistoryQueries
from seqctl.store.queries.leases import LeaseQueries
from seqctl.store.queries.mailboxes import MailboxQueries
from seqctl.store.queries.messages import MessageQueries
from seqctl.store.queries.outcomes import OutcomeQueries
from seqctl.store.queries.sequences import SequenceQueries
from seqctl.store.queries.summaries import SummaryQueries
from seqctl.store.queries.transitions import TransitionQueries
from seqctl.store.sql import Sql
from seqctl.store.sqlite.connection import BUSY_TIMEOUT_SECONDS, CACHE_KIB, Access, connect
from seqctl.store.sqlite.faults import database_fault


class SqliteStore(
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

    def __init__(self, db: Database, path: Path | None, access: Access = Access.WRITE) -> None:
        self.db = db
        self.sql: Sql = db.conn
        self.path = path
        self.access = access
        # Processes that write together (a tick on several cores) take turns through this
        # lock: a waiter wakes the moment it is free, where SQLite's own wait sleeps 1, 2, 5,
        # 10 ms... between tries. SQLite's lock still guards the data; this only schedules.
        self.writers: WriterLock | None = None

    @contextmanager
    def transaction(self) -> Iterator[SqliteStore]:
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
            yield self
            conn.execute("COMMIT")
        except BaseException as exc:
            _roll_back(conn)
            # A locked, read-only or full database says so here, once the work is undone
            # (savepoints inside let SQLite's error through: it is not theirs to judge).
            fault = database_fault(exc, self.path)
            if fault is not None:
                raise fault from None
            raise
        finally:
            if turn:
                assert self.writers is not None
                self.writers.release()

    def share_cache(self, ways: int) -> None:
        """Use 1/ways of the usual page cache (one of `ways` processes working together)."""
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB // max(ways, 1)}")

    @contextmanager
    def unchecked_references(self) -> Iterator[SqliteStore]:
        """Write without checking foreign keys, for writers whose references are sure.

        The tick's: each message and history row it writes names an enrollment it has just
        read, and enrollments are never deleted. Checking them cost a fifth of its writes.
        """
        self.db.execute("PRAGMA foreign_keys=OFF")
        try:
            yield self
        finally:
            self.db.execute("PRAGMA foreign_keys=ON")

    def parallel(self) -> SqliteParallel | None:
        """Forked processes each open the file anew; a database in memory has no file to open."""
        return SqliteParallel(self, self.path) if self.path is not None else None

    def journals(self) -> Path | None:
        return journal_folder(self.path) if self.path is not None else None

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        """Close the connection and open a new one to the same file (a process is forked in
        between: SQLite connections must not cross a fork)."""
        assert self.path is not None, "an in-memory database cannot be reopened"
        self.db.close()
        self.db = connect(self.path, self.access)
        self.sql = self.db.conn
        vars(self).pop("_first_due", None)  # SQL functions belong to a connection: made again

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteParallel:
    """A tick on several cores: forked processes, each with its own connection to the file."""

    def __init__(self, store: SqliteStore, path: Path) -> None:
        self.store = store
        self.path = path

    def close(self) -> None:
        self.store.close()

    def reopen(self) -> None:
        self.store.reopen()

    @contextmanager
    def shard(self, ways: int, writers: WriterLock) -> Iterator[SqliteStore]:
        """The file opened afresh in a forked process; SQLite's errors as DatabaseErrors."""
        from seqctl.store.opening import open_store  # which builds on this module

        try:
            with open_store(self.path) as store:
                assert isinstance(store, SqliteStore)
                store.writers = writers
                store.share_cache(ways)  # all shards together hold what one process would
                yield store
        except BaseException as exc:  # a read of a locked database, say, outside a transaction
            fault = database_fault(exc, self.path)
            if fault is not None:
                raise fault from None
            raise


def _roll_back(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already (it does on a full disk)."""
    try:
        if conn.in_transaction:
            conn.rollback()
    except sqlite3.Error:
        pass  # the error that brought us here is the one to report; closing undoes the rest


def journal_folder(database: Path) -> Path:
    """Where ticks keep their journals of outcomes: `<database>.outcomes`, beside it as its
    -wal is."""
    return database.with_name(database.name + ".outcomes")
