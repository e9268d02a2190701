"""One SQLite connection with seqctl's settings: to write, or to read what nothing can write."""

from __future__ import annotations

import sqlite3
from enum import Enum
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_SECONDS = 30
CACHE_KIB = 64 * 1024
CHECKPOINT_PAGES = 10_000


class Access(Enum):
    """How a database file is opened."""

    WRITE = "write"  # read and write (SQLite itself falls back to reading a read-only file)
    # A WAL database on a read-only mount or in a read-only folder: SQLite cannot make the
    # shared-memory file that readers need, so it is read as immutable (nobody can write it).
    FROZEN = "frozen"


def connect(path: Path | str, access: Access = Access.WRITE) -> Database:
    """A connection with seqctl's settings.

    Autocommit mode: a write outside Store.transaction() commits at once instead of
    silently opening a transaction that the next one would nest into and never commit.
    """
    if access is Access.FROZEN:
        uri = Path(path).absolute().as_uri() + "?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    else:
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
