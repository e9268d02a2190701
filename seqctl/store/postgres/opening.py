"""Opening a PostgreSQL database: make sure it is seqctl's, and bring its schema up to date once.

As with SQLite (store/opening.py): a database is seqctl's when its `seqctl_migrations` table
records seqctl's migrations, or new when its schema holds no table at all; another program's
database, or one a newer seqctl migrated, is refused and left untouched. Migrations run in one
transaction under an advisory lock, so workers started together on a new database take turns.
"""

from __future__ import annotations

from seqctl import __version__
from seqctl.errors import DatabaseError
from seqctl.store.location import ServerUrl
from seqctl.store.postgres.connection import PgSql, connect, fault
from seqctl.store.postgres.migrations import MIGRATIONS
from seqctl.store.postgres.store import MIGRATIONS_TABLE, PostgresStore

# pg_advisory_xact_lock's key for "migrating seqctl's schema" (any fixed number will do).
MIGRATION_LOCK = 0x5E9C7100


def open_postgres(where: ServerUrl) -> PostgresStore:
    """Connect to the database at `where` and migrate it; DatabaseError when it cannot be used."""
    import psycopg

    pg = connect(where)
    try:
        _migrate(pg)
    except psycopg.Error as exc:
        pg.close()
        raise fault(exc, where) or exc from None
    except BaseException:
        pg.close()
        raise
    return PostgresStore(pg)


def _migrate(pg: PgSql) -> None:
    if not _pending(pg):
        return
    with pg.conn.transaction():
        pg.run("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        pending = _pending(pg)  # another worker may have done it meanwhile
        if not pending:
            return
        pg.run(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for name, apply in MIGRATIONS:
            if name in pending:
                apply(pg)
                pg.run(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)", [name])


def _pending(pg: PgSql) -> list[str]:
    """The migrations the database lacks; DatabaseError when it is not seqctl's or is newer."""
    tables = [
        str(name)
        for (name,) in pg.run(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() ORDER BY table_name"
        )
    ]
    applied: list[str] = []
    if MIGRATIONS_TABLE in tables:
        applied = [str(name) for (name,) in pg.run(f"SELECT name FROM {MIGRATIONS_TABLE}")]
    elif tables:
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if tables[5:] else "")
        raise DatabaseError(
            f"{pg.where}: not a seqctl database but another program's (tables: {shown}); "
            "seqctl leaves it untouched: point --db, SEQCTL_DB or seqctl.yaml's `database` "
            "at a seqctl database, or at a new, empty one"
        )
    known = [name for name, _ in MIGRATIONS]
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise DatabaseError(
            f"{pg.where}: made by a newer seqctl (its schema has {', '.join(unknown)}, "
            f"unknown to seqctl {__version__}); upgrade seqctl to use it"
        )
    return [name for name in known if name not in applied]
