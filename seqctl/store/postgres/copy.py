"""Copying a whole SQLite database into an empty PostgreSQL one (`seqctl db copy`).

Every table but the tick's lease goes over with its ids, streamed in chunks through COPY, so no
table is ever held in memory. SQLite is read in one read transaction (a snapshot, whatever a
tick does meanwhile); PostgreSQL is written in one transaction, so a failure leaves it as empty
as it was. Identity sequences then continue after the highest id copied, and the rows of every
table are counted on both sides before the transaction commits.

Rows copy as they are: messages on their way (`sending`) stay so and the next tick settles
them; no row carries a claim (`claimed_by`, `claimed_until`), as no worker has taken it. A
database whose killed tick left a journal of outcomes beside it is refused until a tick has
recorded them: PostgreSQL keeps no journal, and they would be lost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlite_utils import Database

from seqctl.errors import DatabaseError, InputError
from seqctl.store.location import Location, ServerUrl
from seqctl.store.opening import MIGRATIONS_TABLE, Layout, _layout, _pending, open_sqlite
from seqctl.store.postgres.connection import PgSql, fault
from seqctl.store.postgres.opening import open_postgres
from seqctl.store.sqlite.base import journal_folder

# In an order every reference is copied before what refers to it. The lease is the running
# tick's on the SQLite file; PostgreSQL's workers claim rows instead.
TABLES = (
    "sequences",
    "versions",
    "contacts",
    "enrollments",
    "history",
    "actions",
    "messages",
    "attachments",
    "events",
    "suppressions",
    "suppression_log",
    "marks",
    "inbox_folders",
    "sent_mail",
    "enroll_conditions",
)
NOT_COPIED = (MIGRATIONS_TABLE, "leases")
# The tables whose `id` is an identity column on PostgreSQL.
IDENTITIES = ("enrollments", "history", "actions", "messages", "events", "suppression_log")
CHUNK_ROWS = 5000

Progress = Callable[[int], None]


def copy_database(
    source: Location, target: Location, progress: Progress | None = None
) -> dict[str, int]:
    """`copy_sqlite_to_postgres`, once `source` is a path and `target` a PostgreSQL URL."""
    if not isinstance(source, Path) or not isinstance(target, ServerUrl):
        given = f"{_kind(source)} -> {_kind(target)}"
        raise InputError(
            f"copying {given} is not supported: only SQLite -> PostgreSQL (FROM the path of "
            "an SQLite database, TO a postgresql:// URL)"
        )
    return copy_sqlite_to_postgres(source, target, progress)


def _kind(location: Location) -> str:
    return "PostgreSQL" if isinstance(location, ServerUrl) else "SQLite"


def copy_sqlite_to_postgres(
    source: Path, target: ServerUrl, progress: Progress | None = None
) -> dict[str, int]:
    """Copy the seqctl SQLite database `source` into the empty PostgreSQL database `target`.

    Returns the rows copied per table, each checked against the source. InputError when
    `source` is not a seqctl SQLite database; DatabaseError when it is newer than this seqctl,
    or `target` cannot be used or already holds seqctl's rows. All or nothing on `target`.
    """
    _check_source(source)
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        store = open_postgres(target)
        try:
            return _copy(reader, store.pg, source, progress)
        except psycopg.Error as exc:
            raise fault(exc, target) or exc from None
        finally:
            store.close()
    finally:
        reader.close()


def _check_source(source: Path) -> None:
    """Refuse what is not a seqctl SQLite database; bring an older one's schema up to date."""
    if not source.is_file():
        raise InputError(f"{source}: no such file; name the SQLite database to copy from")
    journals = journal_folder(source)
    if journals.is_dir() and any(journals.glob("*.journal")):
        raise InputError(
            f"{journals}: a tick was killed while it sent, and what its connections reported "
            f"is not all in {source} yet; run `seqctl tick` on it once, then copy"
        )
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        try:
            layout = _layout(Database(reader, recursive_triggers=False))
        finally:
            reader.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{source}: not an SQLite database ({exc})") from None
    if not layout.applied:
        raise InputError(_not_seqctl(source, layout))
    if _pending(layout, source):  # DatabaseError when newer than this seqctl
        # An older seqctl's database: migrated as any command opening it would.
        open_sqlite(source).close()


def _not_seqctl(source: Path, layout: Layout) -> str:
    tables = ", ".join(layout.tables[:5]) or "none"
    return (
        f"{source}: not a seqctl database (tables: {tables}); name the SQLite file seqctl "
        "uses (`seqctl db info` shows it)"
    )


def _copy(
    reader: sqlite3.Connection, pg: PgSql, source: Path, progress: Progress | None
) -> dict[str, int]:
    reader.execute("BEGIN")  # one snapshot of the source for every table and count
    try:
        with pg.conn.transaction():
            _run(
                pg,
                sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in TABLES)
                ),
            )
            _check_empty(pg)
            copied = {table: _copy_table(reader, pg, table, progress) for table in TABLES}
            for table in IDENTITIES:
                _run(
                    pg,
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({name}, 'id'),"
                        " COALESCE(MAX(id), 0) + 1, false) FROM {table}"
                    ).format(name=sql.Literal(table), table=sql.Identifier(table)),
                )
            _check_counts(reader, pg, copied, source)
    finally:
        reader.rollback()
    return copied


def _check_empty(pg: PgSql) -> None:
    holding = [
        table
        for table in TABLES
        if _one(_run(pg, sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))))
    ]
    if holding:
        raise DatabaseError(
            f"{pg.where}: not empty (it has {', '.join(holding)}); copy only into a new, empty "
            "database (createdb), so nothing in it is mixed with or overwritten by the copy"
        )


def _copy_table(
    reader: sqlite3.Connection, pg: PgSql, table: str, progress: Progress | None
) -> int:
    columns = [str(row[1]) for row in reader.execute(f"PRAGMA table_info({table})")]
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )
    shown = ", ".join(f'"{c}"' for c in columns)
    rows = reader.execute(f'SELECT {shown} FROM "{table}"')
    count = 0
    with pg.conn.cursor() as cursor, cursor.copy(statement) as copy:
        while chunk := rows.fetchmany(CHUNK_ROWS):
            for row in chunk:
                try:
                    copy.write_row(row)
                except psycopg.DataError as exc:
                    raise _unwritable(table, columns, row, exc) from None
            count += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return count


def _unwritable(
    table: str, columns: list[str], row: tuple[Any, ...], exc: psycopg.DataError
) -> DatabaseError:
    """A row PostgreSQL cannot hold (a NUL character in a text, which SQLite allows)."""
    fields = [c for c, v in zip(columns, row, strict=True) if isinstance(v, str) and "\x00" in v]
    where = f"{columns[0]} {row[0]!r}" + (f", {', '.join(fields)}" if fields else "")
    return DatabaseError(
        f"{table} ({where}): PostgreSQL cannot store it ({str(exc).strip()}); nothing was "
        "copied: correct that row in the SQLite database (with seqctl, or sqlite3) and copy again"
    )


def _check_counts(
    reader: sqlite3.Connection, pg: PgSql, copied: dict[str, int], source: Path
) -> None:
    """Every table has as many rows on PostgreSQL as in the source; else nothing is kept."""
    for table, count in copied.items():
        (expected,) = reader.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        found = _one(_run(pg, sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))))
        if not expected == count == found:
            raise DatabaseError(
                f"{pg.where}: {table} has {found:,} rows after copying {count:,} of the "
                f"{expected:,} in {source}; nothing was copied"
            )


def _run(pg: PgSql, statement: sql.Composed) -> psycopg.Cursor[Any]:
    return pg.conn.execute(statement)


def _one(cursor: psycopg.Cursor[Any]) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row is not None else -1
