"""SQLite's errors about the database file itself, as one line a person can act on.

A database locked by another program, read-only, on a full disk, damaged or not a database at
all is not a bug of seqctl: it becomes a `DatabaseError` naming the file and what to do (exit
2, no traceback). The store raises it where a transaction ends or a database is opened; the
command line asks `database_fault` about anything else that escapes a command. Errors that
point at seqctl itself (a constraint, a query that does not fit the schema) stay as they are.
"""

from __future__ import annotations

import sqlite3
import sys

from seqctl.errors import DatabaseError
from seqctl.store.location import Location, ServerUrl
from seqctl.store.sqlite import connection

_WHERE = "--db, SEQCTL_DB or seqctl.yaml's `database`"

# What each of SQLite's primary result codes means for the person running the command.
_ADVICE = {
    sqlite3.SQLITE_BUSY: (
        "the database is locked by another program (waited {timeout:g} s); the unfinished "
        "work was rolled back: run the command again once that program is done (a sqlite3 "
        "shell in a transaction, a backup, a long write)"
    ),
    sqlite3.SQLITE_LOCKED: (
        "the database is locked by another connection; the unfinished work was rolled back: "
        "run the command again once it is done"
    ),
    sqlite3.SQLITE_READONLY: (
        "the database is read-only (the file, its folder or the disk) and this command writes "
        "to it; its unfinished work was rolled back: make the file and its folder writable, "
        "or use a copy"
    ),
    sqlite3.SQLITE_FULL: (
        "the disk is full (or the database reached its size limit); the unfinished work was "
        "rolled back: free some space and run the command again"
    ),
    sqlite3.SQLITE_IOERR: (
        "the disk could not be read or written; the unfinished work was rolled back: check "
        "the disk and the file system, then run the command again"
    ),
    sqlite3.SQLITE_CORRUPT: (
        "the database file is damaged; restore it from a backup (sqlite3's .recover may save "
        "what is left)"
    ),
    sqlite3.SQLITE_NOTADB: (
        f"not an SQLite database (a file of another kind); point {_WHERE} at a seqctl "
        "database, or at a new file"
    ),
    sqlite3.SQLITE_CANTOPEN: (
        "cannot open the database file: check that it and its folder exist and can be read "
        "(and written, to create or change it)"
    ),
    sqlite3.SQLITE_PERM: "access to the database file was denied: check its permissions",
    sqlite3.SQLITE_AUTH: "access to the database file was denied: check its permissions",
    sqlite3.SQLITE_NOMEM: "out of memory while using the database; free some and run it again",
    sqlite3.SQLITE_PROTOCOL: (
        "the database's locks were in an unexpected state (another program using it in a "
        "way SQLite does not support?); run the command again"
    ),
    sqlite3.SQLITE_NOLFS: "the file system cannot hold a database file this large",
}


def database_fault(exc: BaseException, path: Location | str | None) -> DatabaseError | None:
    """The DatabaseError a database error amounts to, or None when it points at seqctl itself."""
    if isinstance(path, ServerUrl) or "psycopg" in sys.modules:
        from seqctl.store.postgres.connection import fault

        found = fault(exc, path if isinstance(path, ServerUrl) else None)
        if found is not None or isinstance(path, ServerUrl):
            return found
    if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
        return None  # IntegrityError, ProgrammingError, ...: a bug, shown as one
    code = getattr(exc, "sqlite_errorcode", None)
    advice = _ADVICE.get(code & 0xFF) if isinstance(code, int) else None
    if advice is None:
        return None
    advice = advice.format(timeout=connection.BUSY_TIMEOUT_SECONDS)
    return DatabaseError(f"{describe(path)}: {advice}")


def describe(path: Location | str | None) -> str:
    """How a message names the database."""
    return str(path) if path is not None and str(path) != ":memory:" else "the database"


def is_code(exc: BaseException, code: int) -> bool:
    """Whether exc is an SQLite error with this primary result code."""
    found = getattr(exc, "sqlite_errorcode", None)
    return isinstance(found, int) and found & 0xFF == code
