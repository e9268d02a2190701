"""The database schema, as an ordered list of migrations (sqlite-utils Migrations)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("seqctl")


def _run(db: Database, script: str) -> None:
    """Run each statement on its own: executescript would commit the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_sequences(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE sequences (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'draft',   -- draft | active | paused
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            paused_at TEXT                          -- when the whole sequence was paused
        );
        CREATE TABLE versions (
            sequence TEXT NOT NULL REFERENCES sequences(id),
            number INTEGER NOT NULL,
            digest TEXT NOT NULL,
            definition TEXT NOT NULL,               -- normalised JSON, templates inlined
            source TEXT,                            -- the file it was published from
            published_at TEXT NOT NULL,
            published_by TEXT,
            git_commit TEXT,
            PRIMARY KEY (sequence, number)
        );
        """,
    )
