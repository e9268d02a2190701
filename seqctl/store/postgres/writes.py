"""The tick's writes on PostgreSQL, a statement per batch instead of one per row.

The shared queries write a batch with executemany: on PostgreSQL that is a statement per row,
each parsed, planned and executed by the server. Here each batch is one statement over arrays,
a column each (`unnest(%s::bigint[], %s::text[], ...)`, NULLs included), with the same
effect: rows inserted in the batch's order (ids, and so history's order, as before), the same
guards. An update names its rows twice, joined to the arrays and `id = ANY(ids)`: the second
finds them through the primary key, where the join alone may hash a scan of the whole table
for every batch. Where a batch names a row twice the per-row statements' effect depends on
their order, so such a batch (never the tick's) goes the shared way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from seqctl.store.postgres.claims import _EXPIRY, CLAIM_SECONDS
from seqctl.store.queries.actions import ActionQueries
from seqctl.store.queries.history import HistoryQueries
from seqctl.store.queries.messages import MessageQueries
from seqctl.store.queries.transitions import TransitionQueries
from seqctl.store.records import NewAction, NewMessage, Postponement, Sent, Transition
from seqctl.store.sql import TimeTexts

if TYPE_CHECKING:
    from seqctl.store.postgres.connection import PgSql
    from seqctl.store.queries.history import StoredHistory

_FINISHED = "('sent', 'failed', 'rejected', 'cancelled')"
# A row this worker claimed is let go by the write that is done with it: `end_run` then finds
# next to nothing left to release, where it would otherwise write every claimed row once more.
_LET_GO = (
    "claimed_by = CASE WHEN {t}.claimed_by = %s THEN NULL ELSE {t}.claimed_by END,"
    " claimed_until = CASE WHEN {t}.claimed_by = %s THEN NULL ELSE {t}.claimed_until END"
)
# An enrollment whose next step is due at once stays this worker's: it takes that step in the
# same run, and its count of steps in one tick (the branch-loop guard) stays with it.
_DUE_AGAIN = 'v.next_due_at IS NOT NULL AND v.next_due_at COLLATE "C" <= v.at'
_LET_GO_MOVED = (
    f"claimed_by = CASE WHEN e.claimed_by = %s AND NOT ({_DUE_AGAIN}) THEN NULL"
    " ELSE e.claimed_by END,"
    f" claimed_until = CASE WHEN e.claimed_by = %s AND NOT ({_DUE_AGAIN}) THEN NULL"
    " ELSE e.claimed_until END"
)


class WriteQueries(TransitionQueries, HistoryQueries, ActionQueries, MessageQueries):
    """Set-based versions of the shared writes the tick makes for every batch."""

    pg: PgSql
    holder: str | None

    def _write_history(self, rows: Iterable[StoredHistory]) -> None:
        """History rows as the database takes them (see HistoryQueries), in one statement."""
        columns = _columns(rows, 5)
        if columns:
            self.pg.run(
                "INSERT INTO history (enrollment, at, kind, step, detail)"
                " SELECT v.enrollment, v.at, v.kind, v.step, v.detail FROM unnest(%s::bigint[],"
                " %s::text[], %s::text[], %s::text[], %s::text[])"
                " WITH ORDINALITY AS v(enrollment, at, kind, step, detail, n) ORDER BY v.n",
                columns,
            )

    def apply(self, transitions: Sequence[Transition]) -> None:
        """Write new states and their history rows."""
        if _repeated(t.enrollment for t in transitions):
            super().apply(transitions)
            return
        self._move(transitions, "paused_at = NULL, resume_at = NULL", "")

    def advance(self, transitions: Sequence[Transition]) -> None:
        """`apply` for enrollments the tick found active; one no longer active is left alone.

        One statement for all: `state` is written even where it stays `active`, which costs
        PostgreSQL nothing more: an update makes a new row version either way, and whether it
        may leave the indexes alone depends on the values that change, not the columns named."""
        if _repeated(t.enrollment for t in transitions):
            super().advance(transitions)
            return
        self._move(transitions, "", " AND e.state = 'active'")

    def _move(self, transitions: Sequence[Transition], also: str, guard: str) -> None:
        """The enrollments' new states, then their history rows."""
        times = TimeTexts()
        columns = _columns((t.row(times) for t in transitions), 7)
        if columns:
            self.pg.run(
                "UPDATE enrollments e SET state = v.state, step = v.step,"
                " anchor_at = v.anchor_at, next_due_at = v.next_due_at, reason = v.reason,"
                f" updated_at = v.at, {_LET_GO_MOVED}{', ' if also else ''}{also}"
                " FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[], %s::text[],"
                " %s::text[], %s::bigint[])"
                " AS v(state, step, anchor_at, next_due_at, reason, at, id)"
                f" WHERE e.id = v.id AND e.id = ANY(%s::bigint[]){guard}",
                [self.holder, self.holder, *columns, columns[6]],
            )
        self._write_history(t.history_row(times) for t in transitions)

    def add_actions(self, actions: Sequence[NewAction]) -> None:
        times = TimeTexts()
        columns = _columns(
            (
                (a.enrollment, a.step, a.type, times[a.due_at], a.title, a.instructions)
                for a in actions
            ),
            6,
        )
        if columns:
            self.pg.run(
                "INSERT INTO actions (enrollment, step, type, due_at, title, instructions)"
                " SELECT v.enrollment, v.step, v.type, v.due_at, v.title, v.instructions"
                " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],"
                " %s::text[]) WITH ORDINALITY"
                " AS v(enrollment, step, type, due_at, title, instructions, n) ORDER BY v.n",
                columns,
            )

    def add_messages(self, messages: Sequence[NewMessage]) -> dict[str, int]:
        """Store messages; one already stored under the same key is left as it is (the first
        of a batch's own is kept). A tick's worker claims the ones it wrote as it writes them:
        its own to send (its connections take them from the batch), not another worker's
        outbox pass's, until it ends or dies."""
        times = TimeTexts()
        columns = _columns((m.row(times) for m in messages), 17)
        if not columns:
            return {}
        claim = f"%s::text, CASE WHEN %s::text IS NOT NULL THEN {_EXPIRY} END"
        rows = self.pg.run(
            "INSERT INTO messages (idempotency_key, enrollment, sequence, version, step,"
            " contact, channel, to_address, subject, body, status, created_at, extra, sender,"
            " next_attempt_at, error, variant, claimed_by, claimed_until)"
            " SELECT v.key, v.enrollment, v.sequence, v.version, v.step, v.contact, v.channel,"
            " v.to_address, v.subject, v.body, v.status, v.created_at, v.extra, v.sender,"
            f" v.next_attempt_at, v.error, v.variant, {claim}"
            " FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::int[], %s::text[],"
            " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
            " WITH ORDINALITY AS v(key, enrollment, sequence, version, step, contact, channel,"
            " to_address, subject, body, status, created_at, extra, sender, next_attempt_at,"
            " error, variant, n) ORDER BY v.n"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key, id",
            [self.holder, self.holder, CLAIM_SECONDS, *columns],
        ).fetchall()
        return {str(key): int(message_id) for key, message_id in rows}

    def mark_sent(self, sent: Iterable[Sent]) -> None:
        """Messages sent, when, under the provider's id."""
        rows = list(sent)
        if _repeated(s.message for s in rows):
            super().mark_sent(rows)
            return
        times = TimeTexts()
        columns = _columns(((times[s.at], s.provider_id, s.message) for s in rows), 3)
        if columns:
            self.pg.run(
                "UPDATE messages m SET status = 'sent', sent_at = v.sent_at,"
                " provider_id = v.provider_id, error = NULL, attempts = m.attempts + 1,"
                f" failing_since = NULL, next_attempt_at = NULL, {_LET_GO.format(t='m')}"
                " FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS v(sent_at, provider_id, id)"
                " WHERE m.id = v.id AND m.id = ANY(%s::bigint[])",
                [self.holder, self.holder, *columns, columns[2]],
            )

    def postpone(self, updates: Iterable[Postponement]) -> None:
        """Messages back to queued until their next attempt, with why."""
        rows = list(updates)
        if _repeated(u.message for u in rows):
            super().postpone(rows)
            return
        times = TimeTexts()
        columns = _columns(
            ((u.error, times[u.next_attempt_at], 1 if u.attempt else 0, u.message) for u in rows),
            4,
        )
        if columns:
            self.pg.run(
                "UPDATE messages m SET status = 'queued', error = v.error,"
                " next_attempt_at = v.until, attempts = m.attempts + v.n,"
                f" {_LET_GO.format(t='m')}"
                " FROM unnest(%s::text[], %s::text[], %s::int[], %s::bigint[])"
                " AS v(error, until, n, id) WHERE m.id = v.id AND m.id = ANY(%s::bigint[])",
                [self.holder, self.holder, *columns, columns[3]],
            )

    def finished_keys(self, keys: Sequence[str]) -> set[str]:
        """Of these idempotency keys, those whose message is done with (sent, failed, ...)."""
        if not keys:
            return set()
        rows = self.pg.run(
            "SELECT idempotency_key FROM messages WHERE idempotency_key = ANY(%s::text[])"
            f" AND status IN {_FINISHED}",
            [list(keys)],
        )
        return {str(key) for (key,) in rows}


def _columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as `width` lists, a column each (arrays for unnest); [] when there are no rows."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns if columns[0] else []


def _repeated(ids: Iterable[int]) -> bool:
    """Whether an id comes more than once (the per-row statements' order then counts)."""
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            return True
        seen.add(i)
    return False
