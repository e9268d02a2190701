"""Enrollments: putting contacts on a sequence, and finding enrollments again.

What happens to an enrollment afterwards (the tick's reads and writes) is in `transitions`;
the record of it in `history`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.records import ContactRecord, EnrollmentRecord, LiveElsewhere
from seqctl.store.sql import TimeTexts, equal, json_list, where
from seqctl.store.sql import limit as sql_limit
from seqctl.store.states import LIVE_STATES
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from sqlite_utils import Database

    from seqctl.store.sql import Sql

# "('active', 'waiting', 'paused', 'failed')": as in the enrollments_live index, word for word
# (SQLite uses a partial index only for a query that repeats its condition).
_LIVE = "(" + ", ".join(f"'{state}'" for state in LIVE_STATES) + ")"
COLUMNS = """id, sequence, version, contact, state, step, anchor_at, next_due_at, vars, reason,
    enrolled_at, updated_at, paused_at"""
_E_COLUMNS = ", ".join(f"e.{name.strip()}" for name in COLUMNS.split(","))
_C_COLUMNS = "c.key, c.email, c.phone, c.timezone, c.attributes, c.created_at, c.updated_at"
_IN_CHUNK = 500


class EnrollmentQueries:
    sql: Sql
    db: Database  # SQLite's own: the PostgreSQL store has its own upsert and insert
    _first_due: _FirstDue

    def enrollment(self, enrollment_id: int) -> EnrollmentRecord | None:
        row = self.sql.execute(
            f"SELECT {COLUMNS} FROM enrollments WHERE id = ?", [enrollment_id]
        ).fetchone()
        return EnrollmentRecord.from_row(row) if row else None

    def live_enrollment(self, sequence: str, contact: str) -> EnrollmentRecord | None:
        row = self.sql.execute(
            f"SELECT {COLUMNS} FROM enrollments WHERE sequence = ? AND contact = ? "
            f"AND state IN {_LIVE}",
            [sequence, contact],
        ).fetchone()
        return EnrollmentRecord.from_row(row) if row else None

    def enrollments(
        self,
        *,
        sequence: str | None = None,
        contact: str | None = None,
        state: str | None = None,
        live: bool = False,
        limit: int | None = None,
    ) -> list[EnrollmentRecord]:
        conditions, params = equal(("sequence", sequence), ("contact", contact), ("state", state))
        if live:
            conditions.append(f"state IN {_LIVE}")
        params.append(sql_limit(limit))
        rows = self.sql.execute(
            f"SELECT {COLUMNS} FROM enrollments {where(conditions)} ORDER BY id LIMIT ?", params
        )
        return [EnrollmentRecord.from_row(row) for row in rows]

    def enrollments_with_contacts(
        self,
        *,
        states: Sequence[str],
        sequence: str | None = None,
        due_before: datetime | None = None,
    ) -> Iterator[tuple[EnrollmentRecord, ContactRecord]]:
        """Enrollments in these states with their contacts, streamed in id order (flat memory)."""
        marks = ",".join("?" * len(states))
        where = [f"e.state IN ({marks})"]
        params: list[Any] = list(states)
        if sequence is not None:
            where.append("e.sequence = ?")
            params.append(sequence)
        if due_before is not None:
            where.append("e.next_due_at < ?")
            params.append(format_instant(due_before))
        rows = self.sql.execute(
            f"SELECT {_E_COLUMNS}, {_C_COLUMNS} FROM enrollments e "
            f"JOIN contacts c ON c.key = e.contact WHERE {' AND '.join(where)} ORDER BY e.id",
            params,
        )
        width = len(_E_COLUMNS.split(","))
        for row in rows:
            yield EnrollmentRecord.from_row(row[:width]), ContactRecord.from_row(row[width:])

    def live_contacts(self, sequence: str, keys: Sequence[str]) -> set[str]:
        """Which of these contacts already have a live enrollment in the sequence."""
        rows = self.sql.execute(
            "SELECT e.contact FROM json_each(?) AS j"
            " CROSS JOIN enrollments AS e INDEXED BY enrollments_live"
            f" ON e.sequence = ? AND e.contact = j.value AND e.state IN {_LIVE}",
            [json_list(keys), sequence],
        )
        return {str(contact) for (contact,) in rows}

    def live_ids(self, sequence: str, keys: Sequence[str]) -> dict[str, int]:
        """The live enrollment id of each of these contacts that has one in the sequence."""
        rows = self.sql.execute(
            "SELECT e.contact, e.id FROM json_each(?) AS j"
            " CROSS JOIN enrollments AS e INDEXED BY enrollments_live"
            f" ON e.sequence = ? AND e.contact = j.value AND e.state IN {_LIVE}",
            [json_list(keys), sequence],
        )
        return {str(contact): int(enrollment) for contact, enrollment in rows}

    def last_ended(self, sequence: str, keys: Sequence[str]) -> dict[str, str]:
        """For contacts that went through the sequence before: the state their last one ended in."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self.sql.execute(
                "SELECT contact, state FROM enrollments WHERE sequence = ?"
                f" AND contact IN ({marks}) AND state IN ('completed', 'exited') ORDER BY id",
                [sequence, *chunk],
            )
            found.update({str(contact): str(state) for contact, state in rows})
        return found

    def live_elsewhere(self, sequence: str, keys: Sequence[str]) -> list[LiveElsewhere]:
        """The live enrollments of these contacts in other sequences."""
        found: list[LiveElsewhere] = []
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self.sql.execute(
                f"SELECT contact, sequence, version FROM enrollments INDEXED BY enrollments_contact"
                f" WHERE contact IN ({marks}) AND sequence != ? AND state IN {_LIVE}",
                [*chunk, sequence],
            )
            found.extend(LiveElsewhere.from_row(row) for row in rows)
        return found

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
        """Enroll these contacts (distinct keys) as active on step 0, anchored at `at`.

        Unknown contacts, those in `skip` and those already live in the sequence (the unique
        index decides, even against another process) are left out; each one enrolled gets an
        `enrolled` history row. `first_due(zone)` is the first step's due time for a contact's
        time zone (None when it has none). Returns the contacts enrolled.

        One INSERT ... SELECT for the whole batch: inserting a row at a time from Python
        re-seeks every index from its root for every row, about three times slower.
        """
        before = self.sql.execute("SELECT COALESCE(MAX(id), 0) FROM enrollments").fetchone()[0]
        call: _FirstDue | None = getattr(self, "_first_due", None)
        if call is None:
            call = self._first_due = _FirstDue()
            self.db.conn.create_function(_FirstDue.NAME, 1, call, deterministic=True)
        # CROSS JOIN keeps the given order: the contacts are the outer loop, so enrollment ids
        # (and who goes first under a daily limit) follow the order of the file.
        sql = (
            "INSERT OR IGNORE INTO enrollments (sequence, version, contact, state, step,"
            " anchor_at, next_due_at, vars, enrolled_at, updated_at)"
            f" SELECT ?, ?, c.key, 'active', 0, ?, {_FirstDue.NAME}(c.timezone), ?, ?, ?"
            " FROM json_each(?) AS j CROSS JOIN contacts AS c ON c.key = j.value"
        )
        stamp = format_instant(at)
        params: list[Any] = [sequence, version, stamp, vars_json, stamp, stamp, json_list(contacts)]
        if skip:
            sql += " WHERE j.value NOT IN (SELECT value FROM json_each(?))"
            params.append(json_list(skip))
        with call.using(first_due):
            inserted = self.sql.execute(sql, params).rowcount
        self.sql.execute(
            "INSERT INTO history (enrollment, at, kind, step, detail) "
            "SELECT id, enrolled_at, 'enrolled', NULL, 'version ' || version "
            "FROM enrollments WHERE id > ?",
            [before],
        )
        if inserted == len(contacts):
            return set(contacts)
        rows = self.sql.execute("SELECT contact FROM enrollments WHERE id > ?", [before])
        return {str(contact) for (contact,) in rows}

    def state_counts(self, sequence: str) -> dict[str, int]:
        rows = self.sql.execute(
            "SELECT state, COUNT(*) FROM enrollments WHERE sequence = ? GROUP BY state", [sequence]
        )
        return {state: int(n) for state, n in rows}

    def enrolled_count(
        self, sequence: str, since: datetime | None = None, until: datetime | None = None
    ) -> int:
        """Enrollments of a sequence, or those enrolled at or after `since` (and before `until`)."""
        row = self.sql.execute(
            "SELECT COUNT(*) FROM enrollments WHERE sequence = ?"
            + (" AND enrolled_at >= ?" if since is not None else "")
            + (" AND enrolled_at < ?" if until is not None else ""),
            [sequence, *(format_instant(t) for t in (since, until) if t is not None)],
        ).fetchone()
        return int(row[0])


class _FirstDue:
    """The SQL function that gives a new enrollment its first due time from the contact's zone.

    Registered once per connection (SQLite refuses to replace a function while a statement is
    running); each insert sets the Python callable it calls for the duration of its statement.
    """

    NAME = "seqctl_first_due"

    def __init__(self) -> None:
        self.target: Callable[[str | None], datetime | None] | None = None
        self.failure: BaseException | None = None
        self.times = TimeTexts()

    def __call__(self, zone: str | None) -> str | None:
        assert self.target is not None
        try:
            return self.times[self.target(zone)]
        except BaseException as exc:  # SQLite would only say "user-defined function raised"
            self.failure = exc
            raise

    @contextmanager
    def using(self, target: Callable[[str | None], datetime | None]) -> Iterator[None]:
        self.target, self.failure, self.times = target, None, TimeTexts()
        try:
            yield
        except sqlite3.Error:
            if self.failure is not None:
                raise self.failure from None
            raise
        finally:
            self.target = self.failure = None
