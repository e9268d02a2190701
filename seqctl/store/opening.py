"""Opening a database: make sure it is seqctl's, and bring its schema up to date exactly once.

A database is seqctl's when its `_sqlite_migrations` table records seqctl's migrations, or new
when it holds no table at all. Anything else (another program's database) is refused and left
untouched: not even its journal mode is changed. So is a database that records migrations this
seqctl does not know (a newer seqctl wrote it).

The schema is brought up to date in one BEGIN IMMEDIATE transaction that looks again at what
is applied once it holds the write lock. Commands started together on a database that does not
exist yet (the first cron minute) thus take turns: the first applies every migration, the
others find nothing left to do; no one sees half a schema. A database that is up to date is
only read, so a read-only one still serves the commands that only read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

from sqlite_utils import Database

from seqctl import __version__
from seqctl.errors import DatabaseError, InputError
from seqctl.store.contract import Store
from seqctl.store.location import Location, ServerUrl, locate
from seqctl.store.sqlite.base import SqliteStore
from seqctl.store.sqlite.connection import Access, connect
from seqctl.store.sqlite.faults import database_fault, describe, is_code
from seqctl.store.sqlite.migrations import migrations

MIGRATIONS_TABLE = "_sqlite_migrations"


class Layout(NamedTuple):
    """What a database holds: its tables, and the seqctl migrations it records."""

    tables: tuple[str, ...]
    applied: tuple[str, ...]


def open_store(location: Location | str) -> Store:
    """Open (creating if needed) and migrate the database: an SQLite file (':memory:' for
    tests), or a PostgreSQL database named by a postgresql:// URL.

    DatabaseError when it cannot be used (see open_sqlite, and store/postgres/opening.py).
    """
    if isinstance(location, str):
        location = locate(location)
    if isinstance(location, ServerUrl):
        return _open_postgres(location)
    return open_sqlite(location)


def _open_postgres(where: ServerUrl) -> Store:
    try:
        from seqctl.store.postgres.opening import open_postgres
    except ImportError:
        raise DatabaseError(
            f"{where}: PostgreSQL needs the psycopg driver: pip install 'seqctl[postgres]'"
        ) from None
    return open_postgres(where)


def open_sqlite(path: Path | str) -> Store:
    """Open (creating if needed) and migrate the SQLite database at path; ':memory:' for tests.

    DatabaseError when it cannot be used: locked, read-only and out of date, not a database,
    another program's database, or newer than this seqctl.
    """
    if str(path) == ":memory:":
        db = connect(":memory:")
        _migrate(db, path, _layout(db))
        return SqliteStore(db, None)
    target = Path(path)
    if not target.parent.exists():
        raise InputError(f"{target}: folder {target.parent} does not exist")
    if target.is_dir():
        raise DatabaseError(
            f"{target}: a folder, not a database file; name a file (in it, or elsewhere) instead"
        )
    try:
        db, access, layout = _open(target)
    except sqlite3.Error as exc:
        if is_code(exc, sqlite3.SQLITE_CANTOPEN) and not target.exists():
            raise DatabaseError(
                f"{target}: cannot create the database in {target.parent} (a read-only folder "
                "or disk?); point --db, SEQCTL_DB or seqctl.yaml's `database` where seqctl can "
                "write"
            ) from None
        raise database_fault(exc, target) or exc from None
    try:
        _migrate(db, target, layout, access)
    except BaseException as exc:
        db.close()
        if isinstance(exc, sqlite3.Error):
            raise database_fault(exc, target) or exc from None
        raise
    return SqliteStore(db, target, access)


def _open(target: Path) -> tuple[Database, Access, Layout]:
    """A connection to target that can at least read it, and what the database holds.

    A WAL database on a read-only mount or in a read-only folder cannot be read the usual way
    (SQLite cannot create its shared-memory file there): it is opened as immutable instead.
    """
    try:
        return _opened(target, Access.WRITE)
    except sqlite3.Error as exc:
        if not (is_code(exc, sqlite3.SQLITE_CANTOPEN) and target.is_file()):
            raise
    return _opened(target, Access.FROZEN)


def _opened(target: Path, access: Access) -> tuple[Database, Access, Layout]:
    db = connect(target, access)
    try:
        return db, access, _layout(db)
    except BaseException:
        db.close()
        raise


def _layout(db: Database) -> Layout:
    tables = tuple(
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' ORDER BY name"
        )
    )
    if MIGRATIONS_TABLE not in tables:
        return Layout(tables, ())
    try:
        rows = db.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid",
            [migrations.name],
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if not is_code(exc, sqlite3.SQLITE_ERROR):
            raise
        rows = []  # a migrations table of another kind: another program's
    return Layout(tables, tuple(name for (name,) in rows))


def _migrate(db: Database, path: Path | str, layout: Layout, access: Access = Access.WRITE) -> None:
    """Refuse a database that is not seqctl's; apply the migrations it lacks, once."""
    pending = _pending(layout, path)
    if access is Access.WRITE and path != ":memory:":
        _use_wal(db)
    if not pending:
        return
    if access is Access.FROZEN:
        raise _read_only(path, pending)
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _pending(_layout(db), path):  # another process may have done it meanwhile
            migrations.apply(db)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.rollback()
        if is_code(exc, sqlite3.SQLITE_READONLY):
            raise _read_only(path, pending) from None
        raise


def _use_wal(db: Database) -> None:
    """Write-ahead logging: readers and a writer do not wait for each other. A property of the
    file, kept once set; a file SQLite opened for reading only stays as it is."""
    try:
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not is_code(exc, sqlite3.SQLITE_READONLY):
            raise


def _pending(layout: Layout, path: Path | str) -> list[str]:
    """The migrations the database lacks; DatabaseError when it is not seqctl's or is newer."""
    known = [migration.name for migration in migrations._migrations]
    if not layout.applied:
        others = [name for name in layout.tables if name != MIGRATIONS_TABLE]
        if others:
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if others[5:] else "")
            raise DatabaseError(
                f"{describe(path)}: not a seqctl database but another program's (tables: "
                f"{shown}); seqctl leaves it untouched: point --db, SEQCTL_DB or seqctl.yaml's "
                "`database` at a seqctl database, or at a new file"
            )
    unknown = [name for name in layout.applied if name not in known]
    if unknown:
        raise DatabaseError(
            f"{describe(path)}: made by a newer seqctl (its schema has {', '.join(unknown)}, "
            f"unknown to seqctl {__version__}); upgrade seqctl to use it"
        )
    return [name for name in known if name not in layout.applied]


def _read_only(path: Path | str, pending: list[str]) -> DatabaseError:
    return DatabaseError(
        f"{describe(path)}: the database needs {len(pending)} schema change(s) for this seqctl "
        "but is read-only; make it and its folder writable and run any seqctl command once"
    )
