"""A bench database seen from outside seqctl, with plain sqlite3: copies, sizes, row counts."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of source (its WAL included) at target, through SQLite's backup API."""
    with closing(_read_only(source)) as conn, closing(sqlite3.connect(target)) as copy:
        conn.backup(copy)


def database_bytes(db: Path) -> int:
    """The size of the database file and of its write-ahead log, if any."""
    files = (db, db.with_name(db.name + "-wal"))
    return sum(path.stat().st_size for path in files if path.exists())


def count_rows(db: Path, table: str, where: str = "") -> int:
    """Rows of one table, optionally filtered by a fixed SQL condition."""
    with closing(_read_only(db)) as conn:
        query = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(conn.execute(query).fetchone()[0])


def first_bodies(db: Path, step: str, count: int) -> dict[int, str]:
    """The bodies of the first count messages of a step, by enrollment id."""
    with closing(_read_only(db)) as conn:
        rows = conn.execute(
            "SELECT enrollment, body FROM messages WHERE step = ? ORDER BY enrollment LIMIT ?",
            (step, count),
        )
        return {int(enrollment): str(body) for enrollment, body in rows}


def bodies_of(db: Path, step: str, enrollments: list[int]) -> dict[int, str]:
    """The bodies of a step's messages for these enrollments."""
    marks = ",".join("?" * len(enrollments))
    with closing(_read_only(db)) as conn:
        rows = conn.execute(
            f"SELECT enrollment, body FROM messages WHERE step = ? AND enrollment IN ({marks})",
            (step, *enrollments),
        )
        return {int(enrollment): str(body) for enrollment, body in rows}


def _read_only(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)
