"""Many tick workers on one PostgreSQL database, with no lease over the whole of it.

Each worker names itself (`start_run`) and claims what it works on, in short transactions
with `FOR UPDATE SKIP LOCKED`: a batch of due enrollments (`due`), a batch of messages to
send or to settle (`deliverable`). A claim is the worker's name and an expiry on the server's
clock (`claimed_until`), renewed while the worker runs and cleared when it ends; the claims
of a worker that died run out by themselves, and another worker takes the work over then.
The write that moves an enrollment locks its row and checks it is still where the claim
found it (`enrollment_positions`), so even a claim that ran out is never acted on twice.

Daily caps count what was sent, then count along in memory (engine/run/limits.py): exact only
if one worker at a time sends capped messages. While any active sequence has a cap, the
workers take turns (a session advisory lock); without caps they all run at once. One
worker at a time also does what must happen once per tick (`only_one`: the owners' digest,
resuming out-of-office pauses).
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.errors import ConfigError
from seqctl.store.queries.messages import _JOINS, DELIVERABLE, MessageQueries
from seqctl.store.queries.transitions import TransitionQueries
from seqctl.store.records import Deliverable, DueRow, EnrollmentPosition
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.store.postgres.connection import PgSql


# How long a claim holds without renewal: a dead worker's work waits this long.
def _claim_seconds(text: str | None) -> float:
    """SEQCTL_CLAIM_SECONDS: how long a claim holds unrenewed (a positive number of seconds)."""
    if text is None or not text.strip():
        return 120.0
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86_400:
        raise ConfigError(
            f"SEQCTL_CLAIM_SECONDS={text!r}: give the seconds a claim holds, a number above 0 "
            "and below 86400 (default 120)"
        )
    return seconds


CLAIM_SECONDS = _claim_seconds(os.environ.get("SEQCTL_CLAIM_SECONDS"))
CAPS_LOCK = 0x5E9C7101  # pg_advisory_lock key: "a worker is sending capped messages"

_EXPIRY = "clock_timestamp() + make_interval(secs => %s)"
_FREE = (
    "({t}.claimed_until IS NULL OR {t}.claimed_until < clock_timestamp() OR {t}.claimed_by = %s)"
)


class ClaimQueries(TransitionQueries, MessageQueries):
    """The PostgreSQL store's way of sharing a tick's work (see the module's docstring)."""

    pg: PgSql
    exclusive_runs = False
    holder: str | None = None
    _renewed = 0.0
    _capped = False

    if TYPE_CHECKING:

        def has_daily_caps(self) -> bool: ...

    def start_run(
        self, holder: str, now: datetime, expires_at: datetime, *, capped: bool = False
    ) -> str | None:
        self.holder = holder
        self._renewed = time.monotonic()
        self._capped = capped or self.has_daily_caps()
        if self._capped:
            self.pg.run("SELECT pg_advisory_lock(%s)", [CAPS_LOCK])
        return None  # never busy: workers share the work

    def renew_run(self, holder: str, expires_at: datetime) -> bool:
        """Extend this worker's claims (a forked worker's are its own, under its own name)."""
        if self.holder is not None and time.monotonic() - self._renewed > CLAIM_SECONDS / 3:
            for table in ("enrollments", "messages"):
                self.pg.run(
                    f"UPDATE {table} SET claimed_until = {_EXPIRY} WHERE claimed_by = %s",
                    [CLAIM_SECONDS, self.holder],
                )
            self._renewed = time.monotonic()
        return True

    def end_run(self, holder: str) -> None:
        try:
            for table in ("enrollments", "messages"):
                self.pg.run(
                    f"UPDATE {table} SET claimed_by = NULL, claimed_until = NULL"
                    " WHERE claimed_by = %s",
                    [holder],
                )
        finally:
            if self._capped:
                self.pg.run("SELECT pg_advisory_unlock(%s)", [CAPS_LOCK])
            self.holder = None

    @contextmanager
    def only_one(self, name: str) -> Iterator[bool]:
        key = zlib.crc32(f"seqctl:{name}".encode())
        row = self.pg.run("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
        mine = bool(row and row[0])
        try:
            yield mine
        finally:
            if mine:
                self.pg.run("SELECT pg_advisory_unlock(%s)", [key])

    def due(
        self,
        now: datetime,
        limit: int,
        shard: tuple[int, int] | None = None,
        skip: Collection[int] = (),
    ) -> list[DueRow]:
        """Claim up to `limit` due enrollments no other live worker has; read them as the
        shared query does. (Shards are SQLite's; workers here need none.)"""
        if self.holder is None or limit < 0:  # not a tick's (a dry run): read only
            return super().due(now, limit, skip=skip)
        # One statement: pick, claim, and read them back with their contacts. The rows are
        # found by `= ANY(ARRAY(...))`, through the primary keys: joined, the planner would
        # hash a scan of both whole tables for each batch, a cost growing with the tables.
        rows = self.pg.run(
            "WITH picked AS (SELECT e.id FROM enrollments e JOIN sequences s"
            " ON s.id = e.sequence AND s.status = 'active'"
            " WHERE e.state = 'active' AND e.next_due_at <= %s AND NOT (e.id = ANY(%s))"
            f" AND {_FREE.format(t='e')} ORDER BY e.next_due_at, e.id LIMIT %s"
            " FOR UPDATE OF e SKIP LOCKED),"
            f" claimed AS (UPDATE enrollments e SET claimed_by = %s, claimed_until = {_EXPIRY}"
            " WHERE e.id = ANY(ARRAY(SELECT id FROM picked)) RETURNING e.id, e.sequence,"
            " e.version, e.contact, e.step, e.anchor_at, e.next_due_at, e.vars, e.enrolled_at)"
            " SELECT e.id, e.sequence, e.version, e.contact, e.step, e.anchor_at, e.next_due_at,"
            " e.vars, e.enrolled_at, c.email, c.phone, c.timezone, c.attributes"
            " FROM claimed e JOIN contacts c ON c.key = e.contact"
            " AND c.key = ANY(ARRAY(SELECT contact FROM claimed)) ORDER BY e.next_due_at, e.id",
            [format_instant(now), list(skip), self.holder, limit, self.holder, CLAIM_SECONDS],
        )
        return DueRow.from_rows(rows)

    def enrollment_positions(self, ids: Sequence[int]) -> dict[int, EnrollmentPosition]:
        """As the shared query, and the rows locked until the transaction ends: a write that
        checks a position and moves on cannot interleave with another worker's."""
        rows = self.pg.run(
            "SELECT e.id, CASE WHEN s.status = 'active' THEN e.state ELSE 'paused' END,"
            " e.step, e.next_due_at FROM enrollments e JOIN sequences s ON s.id = e.sequence"
            " WHERE e.id = ANY(%s) ORDER BY e.id FOR UPDATE OF e",
            [list(ids)],
        )
        return EnrollmentPosition.by_id(rows)

    def deliverable(
        self,
        limit: int | None,
        *,
        now: datetime | None = None,
        status: str = "queued",
        after: int = 0,
    ) -> list[Deliverable]:
        """Claim messages to send (`queued`) or to settle (`sending`, left by a worker whose
        claim ran out), as the shared query chooses them."""
        if self.holder is None:  # not a tick's: read only
            return super().deliverable(limit, now=now, status=status, after=after)
        if status == "sending":
            free = "m.status = 'sending' AND (m.claimed_until IS NULL"
            free += " OR m.claimed_until < clock_timestamp())"
            params: list[Any] = []
        else:
            free = f"m.status = '{_status(status)}' AND e.state != 'paused'"
            free += f" AND s.status = 'active' AND {_FREE.format(t='m')}"
            params = [self.holder]
        with self.pg.conn.transaction():
            claimed = self.pg.run(
                "WITH picked AS (SELECT m.id FROM messages m"
                " JOIN enrollments e ON e.id = m.enrollment JOIN sequences s ON s.id = m.sequence"
                f" WHERE {free} AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= %s)"
                " AND m.id > %s ORDER BY m.id LIMIT %s FOR UPDATE OF m SKIP LOCKED)"
                f" UPDATE messages m SET claimed_by = %s, claimed_until = {_EXPIRY}"
                " FROM picked WHERE m.id = picked.id RETURNING m.id",
                [*params, format_instant(now) if now is not None else "9999", after]
                + [limit if limit is not None else 2**62]
                + [self.holder, CLAIM_SECONDS],
            ).fetchall()
        if not claimed:
            return []
        return self._deliverables([i for (i,) in claimed])

    def _deliverables(self, ids: list[int]) -> list[Deliverable]:
        """The claimed messages, read as the shared query reads them, oldest first."""
        rows = self.pg.execute(f"{DELIVERABLE} {_JOINS} WHERE m.id = ANY(?) ORDER BY m.id", [ids])
        return [Deliverable.from_row(row) for row in rows]

    def set_message_status(
        self,
        ids: Iterable[int],
        status: str,
        *,
        error: str | None = None,
        sent_at: datetime | None = None,
        attempt: bool = False,
    ) -> None:
        """As the shared query; a message started (`sending`) is claimed by this worker, so no
        other settles it while it is on its way; one it is done with is let go."""
        chosen = list(ids)
        if not chosen:
            return
        # A message named twice counts its attempt twice, as a statement per id would.
        self.pg.run(
            "UPDATE messages m SET status = %s, error = %s, sent_at = COALESCE(%s, m.sent_at),"
            " attempts = m.attempts + %s * v.n,"
            " claimed_by = CASE WHEN %s = 'sending' THEN %s WHEN m.claimed_by = %s THEN NULL"
            " ELSE m.claimed_by END,"
            f" claimed_until = CASE WHEN %s = 'sending' THEN {_EXPIRY}"
            " WHEN m.claimed_by = %s THEN NULL ELSE m.claimed_until END"
            " FROM (SELECT id, count(*) AS n FROM unnest(%s::bigint[]) AS u(id) GROUP BY id) v"
            " WHERE m.id = v.id AND m.id = ANY(%s::bigint[])",
            [status, error, format_instant(sent_at), 1 if attempt else 0]
            + [status, self.holder, self.holder, status, CLAIM_SECONDS, self.holder]
            + [chosen, chosen],
        )


def _status(status: str) -> str:
    """A waiting status, checked: it is written into the query."""
    if status not in ("queued", "pending_approval"):
        raise ValueError(f"not a waiting status: {status}")
    return status
