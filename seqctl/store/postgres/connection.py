"""One PostgreSQL connection, taking the queries' SQL as SQLite's connection does.

Autocommit, as the SQLite connection: a write outside a transaction commits at once, and
`Store.transaction()` opens the only transactions there are. Server-side errors that are not
seqctl's (the server unreachable, a wrong password, the connection lost in the middle) become
one line naming host, port and database, never the password (see `fault`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from seqctl.errors import DatabaseError
from seqctl.store.location import ServerUrl
from seqctl.store.postgres.dialect import translate

CONNECT_TIMEOUT_SECONDS = 10


class PgSql:
    """The `Sql` of seqctl/store/sql.py over psycopg: each statement is translated once."""

    def __init__(self, conn: psycopg.Connection[Any], where: ServerUrl) -> None:
        self.conn = conn
        self.where = where

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        # Parameters always passed, even none: psycopg then reads %% as a literal %.
        return self.conn.execute(translate(sql), list(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        cursor = self.conn.cursor()
        cursor.executemany(translate(sql), list(parameters))
        return cursor

    def run(self, sql: str, parameters: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        """PostgreSQL's own SQL, as it is (the store's own queries and the schema)."""
        return self.conn.execute(sql, parameters)

    def close(self) -> None:
        self.conn.close()


def connect(where: ServerUrl) -> PgSql:
    """A connection to the database at `where`, or DatabaseError saying why not."""
    options: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if where.password_env is not None:
        password = os.environ.get(where.password_env)
        if password is None:
            raise DatabaseError(
                f"{where}: the environment variable {where.password_env} (seqctl.yaml's "
                "`password_env`) is not set; set it to the database user's password"
            )
        options["password"] = password
    options.setdefault("application_name", "seqctl")
    try:
        conn = psycopg.connect(where.url, **options)
    except psycopg.Error as exc:
        raise fault(exc, where) or exc from None
    return PgSql(conn, where)


def fault(exc: BaseException, where: ServerUrl | None) -> DatabaseError | None:
    """The DatabaseError a PostgreSQL error amounts to, or None when it points at seqctl."""
    if not isinstance(exc, psycopg.Error):
        return None
    shown = str(where) if where is not None else "the PostgreSQL database"
    state = getattr(exc.diag, "sqlstate", None) or ""
    text = _first_line(exc)
    if state == "28P01" or "password authentication failed" in text:
        return DatabaseError(
            f"{shown}: the server refused the password of user {_user(where)}; check "
            "PGPASSWORD (or the variable `password_env` names)"
        )
    if state.startswith("28"):
        return DatabaseError(f"{shown}: the server refused the connection: {text}")
    if state == "3D000":
        return DatabaseError(
            f"{shown}: no such database on the server; create it (createdb) and run "
            "`seqctl db init`"
        )
    if state in ("57P01", "57P02", "57P03"):
        return DatabaseError(
            f"{shown}: the server ended the connection (it is shutting down or starting, or "
            "an administrator ended it); the unfinished work was rolled back: run the command "
            "again"
        )
    if state == "53100":
        return DatabaseError(f"{shown}: the server's disk is full; the work was rolled back")
    if state in ("40001", "40P01"):
        return DatabaseError(
            f"{shown}: the work collided with another writer and was rolled back: run the "
            "command again"
        )
    if state == "55P03":
        return DatabaseError(f"{shown}: a lock was not granted in time; run the command again")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseError(
            f"{shown}: cannot reach the server or lost the connection ({text}); the "
            "unfinished work was rolled back: check that it is running and reachable, then "
            "run the command again"
        )
    return None


def _user(where: ServerUrl | None) -> str:
    return where.user if where is not None else "?"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__
