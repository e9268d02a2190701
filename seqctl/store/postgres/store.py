"""PostgreSQL store: the shared queries on a PostgreSQL connection, and its own ways where
SQLite's do not carry over (rowid, functions defined in Python, counting changes)."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg

from seqctl.store.location import ServerUrl
from seqctl.store.postgres.claims import ClaimQueries
from seqctl.store.postgres.connection import PgSql, connect, fault
from seqctl.store.postgres.writes import WriteQueries
from seqctl.store.queries.conditions import ConditionQueries
from seqctl.store.queries.contacts import ContactQueries, _encode_attributes
from seqctl.store.queries.enrollments import EnrollmentQueries
from seqctl.store.queries.events import EventQueries
from seqctl.store.queries.leases import LeaseQueries
from seqctl.store.queries.mailboxes import MailboxQueries
from seqctl.store.queries.outcomes import OutcomeQueries
from seqctl.store.queries.sequences import SequenceQueries
from seqctl.store.queries.summaries import _COUNTED, DatabaseInfo, SummaryQueries
from seqctl.store.records import ContactRow, SuppressionRow, Upserted
from seqctl.store.sql import TimeTexts
from seqctl.timeutil import format_instant

MIGRATIONS_TABLE = "seqctl_migrations"


# How long a digest waits for the writers of history to let it take its bound.
HISTORY_LOCK_SECONDS = 2.0


class PostgresStore(
    ClaimQueries,
    WriteQueries,  # with the shared transitions, history, actions and messages beneath
    SequenceQueries,
    ContactQueries,
    EnrollmentQueries,
    LeaseQueries,
    EventQueries,
    SummaryQueries,
    OutcomeQueries,
    ConditionQueries,
    MailboxQueries,
):
    """One PostgreSQL database, migrated to the current schema."""

    kind = "postgresql"

    def __init__(self, pg: PgSql) -> None:
        self.pg = pg
        self.sql = pg
        self.where: ServerUrl = pg.where
        self.path = None

    @contextmanager
    def transaction(self) -> Iterator[PostgresStore]:
        """All writes inside happen together or not at all (nested: a savepoint)."""
        try:
            with self.pg.conn.transaction():
                yield self
        except psycopg.Error as exc:
            found = fault(exc, self.where)
            if found is not None:
                raise found from None
            raise

    @contextmanager
    def unchecked_references(self) -> Iterator[PostgresStore]:
        """SQLite's switch for the tick's writes; PostgreSQL checks its references cheaply."""
        yield self

    def parallel(self) -> PgParallel:
        """Forked workers, each with a connection of its own, claiming as any worker does."""
        return PgParallel(self)

    def journals(self) -> None:
        """Workers on other machines could not read a journal kept on this one: each outcome
        is in the database before its connection starts the next message."""
        return None

    def reopen(self) -> None:
        """Connect again (after the forked workers are done: no connection crosses a fork)."""
        self.pg = self.sql = connect(self.where)

    def close(self) -> None:
        self.pg.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # What SQLite does with rowid, total_changes and json_patch (seqctl_json_patch: m001).

    def upsert_contacts(
        self, rows: Iterable[ContactRow], at: datetime, *, new_keys: list[str] | None = None
    ) -> Upserted:
        stamp = format_instant(at)
        values = [
            (r.key, r.email, r.phone, r.timezone, _encode_attributes(r.attributes), stamp, stamp)
            for r in rows
        ]
        if not values:  # executemany of nothing has no result to read
            return Upserted(0, 0)
        cursor = self.pg.conn.cursor()
        cursor.executemany(
            """
            INSERT INTO contacts AS c (key, email, phone, timezone, attributes, created_at,
                updated_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (key) DO UPDATE SET
                email = COALESCE(excluded.email, c.email),
                phone = COALESCE(excluded.phone, c.phone),
                timezone = COALESCE(excluded.timezone, c.timezone),
                attributes = seqctl_json_patch(c.attributes::json, excluded.attributes::json)
                    ::text,
                updated_at = excluded.updated_at
            WHERE c.email IS DISTINCT FROM COALESCE(excluded.email, c.email)
                OR c.phone IS DISTINCT FROM COALESCE(excluded.phone, c.phone)
                OR c.timezone IS DISTINCT FROM COALESCE(excluded.timezone, c.timezone)
                OR c.attributes::jsonb IS DISTINCT FROM
                    seqctl_json_patch(c.attributes::json, excluded.attributes::json)::jsonb
            RETURNING key, xmax = 0
            """,
            values,
            returning=True,
        )
        created: list[str] = []
        updated = 0
        for key, new in _returned(cursor):
            if new:
                created.append(str(key))
            else:
                updated += 1
        if new_keys is not None:
            new_keys.extend(created)
        return Upserted(len(created), updated)

    def insert_enrollments(
        self,
        sequence: str,
        version: int,
        contacts: Sequence[str],
        *,
        first_due: Callable[[str | None], datetime | None],
        skip: Collection[str] = (),
        vars_json: str | None = None,
        at: datetime,
    ) -> set[str]:
        wanted = [key for key in contacts if key not in skip] if skip else list(contacts)
        if not wanted:
            return set()
        zones = dict(
            self.pg.run(
                "SELECT c.key, c.timezone FROM unnest(%s::text[]) AS j(key)"
                " JOIN contacts c ON c.key = j.key",
                [wanted],
            ).fetchall()
        )
        due_by_zone: dict[str | None, str | None] = {}
        keys: list[str] = []
        dues: list[str | None] = []
        for key in wanted:
            if key not in zones:
                continue
            zone = zones[key]
            if zone not in due_by_zone:
                due_by_zone[zone] = format_instant(first_due(zone))
            keys.append(key)
            dues.append(due_by_zone[zone])
        # The order of the file is the order of the ids (who goes first under a daily limit).
        stamp = format_instant(at)
        rows = self.pg.run(
            "INSERT INTO enrollments (sequence, version, contact, state, step, anchor_at,"
            " next_due_at, vars, enrolled_at, updated_at)"
            " SELECT %s, %s, j.key, 'active', 0, %s, j.due, %s, %s, %s"
            " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS j(key, due, n)"
            " ORDER BY j.n ON CONFLICT DO NOTHING RETURNING id, contact",
            [sequence, version, stamp, vars_json, stamp, stamp, keys, dues],
        ).fetchall()
        if rows:
            self.pg.run(
                "INSERT INTO history (enrollment, at, kind, step, detail)"
                " SELECT id, %s, 'enrolled', NULL, %s FROM unnest(%s::bigint[]) AS j(id)"
                " ORDER BY id",
                [stamp, f"version {version}", [row[0] for row in rows]],
            )
        return {str(contact) for _, contact in rows}

    def suppress(self, rows: Iterable[SuppressionRow]) -> int:
        times = TimeTexts()
        entries = [row.to_db(times) for row in rows]
        if not entries:
            return 0
        cursor = self.pg.conn.cursor()
        cursor.executemany(
            "INSERT INTO suppressions (value, kind, reason, at, added_by)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
            " RETURNING at, value, kind, reason, added_by",
            entries,
            returning=True,
        )
        added = list(_returned(cursor))
        if added:
            self.pg.conn.cursor().executemany(
                "INSERT INTO suppression_log (at, value, kind, change, reason, changed_by)"
                " VALUES (%s, %s, %s, 'added', %s, %s)",
                added,
            )
        return len(added)

    def last_history_id(self) -> int | None:
        """Taken when no transaction writing history is open (a SHARE lock waits for them to
        end, and holds new ones back meanwhile): ids come from a sequence as rows are written,
        so another worker's row with a smaller id may still commit after a larger one. Read
        without the lock, a digest would move past it and never tell anyone.

        None when the lock does not come within HISTORY_LOCK_SECONDS (a long enroll or a
        vacuum holds the table): waiting longer would hold every worker's writes back behind
        this one request; the digest waits for the next tick instead."""
        try:
            with self.pg.conn.transaction():
                self.pg.run(f"SET LOCAL lock_timeout = '{int(HISTORY_LOCK_SECONDS * 1000)}ms'")
                self.pg.run("LOCK TABLE history IN SHARE MODE")
                row = self.pg.run("SELECT COALESCE(MAX(id), 0) FROM history").fetchone()
        except psycopg.errors.LockNotAvailable:
            return None
        except psycopg.Error as exc:
            raise fault(exc, self.where) or exc from None
        return int(row[0]) if row else 0

    def has_daily_caps(self) -> bool:
        row = self.pg.run(
            "SELECT EXISTS (SELECT 1 FROM versions v JOIN sequences s ON s.id = v.sequence"
            " WHERE s.status = 'active' AND ("
            " (v.definition::jsonb #>> '{limits,per_day}') IS NOT NULL OR EXISTS ("
            "  SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof("
            "   v.definition::jsonb -> 'auto_approve') = 'array'"
            "   THEN v.definition::jsonb -> 'auto_approve' ELSE '[]'::jsonb END) AS rule"
            "  WHERE (rule ->> 'max_per_day') IS NOT NULL)))"
        ).fetchone()
        return bool(row[0]) if row else False

    def info(self) -> DatabaseInfo:
        applied = [
            str(name)
            for (name,) in self.pg.run(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")
        ]
        counts: dict[str, int] = {}
        breakdown: dict[str, dict[str, int]] = {}
        for table, column in _COUNTED.items():
            counts[table] = _one(self.pg.run(f"SELECT COUNT(*) FROM {table}"))
            if column is not None:
                rows = self.pg.run(
                    f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column} ORDER BY {column}"
                )
                breakdown[table] = {str(value): int(n) for value, n in rows}
        size = _one(self.pg.run("SELECT pg_database_size(current_database())"))
        return DatabaseInfo(
            store="postgresql",
            location=str(self.where),
            schema=applied[-1] if applied else "",
            migrations=len(applied),
            size_bytes=int(size),
            counts=counts,
            breakdown=breakdown,
        )


class PgParallel:
    """A tick's forked workers: each claims its batches, as separate ticks would."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def close(self) -> None:
        self.store.close()

    def reopen(self) -> None:
        self.store.reopen()

    @contextmanager
    def shard(self, ways: int, writers: object) -> Iterator[PostgresStore]:
        """A connection of this worker's own; its claims under the tick's name and its pid."""
        holder = f"{self.store.holder}/{os.getpid()}"
        try:
            worker = PostgresStore(connect(self.store.where))
        except psycopg.Error as exc:
            raise fault(exc, self.store.where) or exc from None
        try:
            worker.holder = holder
            yield worker
        except psycopg.Error as exc:
            raise fault(exc, self.store.where) or exc from None
        finally:
            try:
                worker.end_run(holder)
            finally:
                worker.close()


def _one(cursor: psycopg.Cursor[Any]) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def _returned(cursor: psycopg.Cursor[Any]) -> Iterator[tuple[Any, ...]]:
    """Every row an executemany(..., returning=True) returned, statement after statement."""
    while True:
        yield from cursor.fetchall()
        if not cursor.nextset():
            return
