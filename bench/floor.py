"""The floor: the least work a tick must do per due enrollment, in plain sqlite3 and jinja2.

    python bench/floor.py --db COPY.db --now 2026-11-24T12:00:00Z

Against a copy of a bench database (seqctl's own schema), in batches of 1,000: read the due
enrollments joined with their contacts (keyset on the due index), render bench-auto's first
email body with one compiled template, insert the message row and move the enrollment on, one
transaction per batch. The connection is set up as seqctl's store sets up its own (WAL,
synchronous=NORMAL, a 64 MB page cache, a checkpoint every 10,000 pages; foreign keys not
checked, as the tick's own writes are not) and the template is sandboxed as the design
requires, so the difference to `seqctl tick` is the tick's own work: no schedule (the next step
is simply due two days later), no subject, no history row, no outbox, no lease.

Prints one JSON line: {"processed": n, "batches": n, "seconds": s}.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment
from workload import HELLO_BODY

BATCH = 1000
STEP_ID = "hello"
SENDER = {"name": "Ana", "email": "ana@acme.test"}
WAIT = timedelta(days=2)

DUE = """
SELECT e.id, e.next_due_at, e.sequence, e.version, e.contact, c.email, c.attributes
FROM enrollments e JOIN contacts c ON c.key = e.contact
WHERE e.state = 'active' AND e.next_due_at <= ? AND (e.next_due_at, e.id) > (?, ?)
ORDER BY e.next_due_at, e.id
LIMIT ?
"""
INSERT_MESSAGE = """
INSERT INTO messages (idempotency_key, enrollment, sequence, version, step, contact, channel,
                      to_address, body, status, attempts, created_at, sent_at)
VALUES (?, ?, ?, ?, ?, ?, 'email', ?, ?, 'sent', 1, ?, ?)
"""
MOVE_ON = """
UPDATE enrollments SET step = step + 1, anchor_at = ?, next_due_at = ?, updated_at = ? WHERE id = ?
"""


def connect(path: str) -> sqlite3.Connection:
    """An autocommit connection with the pragmas seqctl's store uses for a tick."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{64 * 1024}")
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    conn.execute("PRAGMA foreign_keys=OFF")  # SQLite's default, said out loud
    return conn


def due_batches(conn: sqlite3.Connection, now: str) -> Iterator[list[tuple[Any, ...]]]:
    """Due enrollments with their contacts, BATCH at a time, each batch in its own transaction.

    The caller writes the batch before asking for the next one, which commits it.
    """
    after: tuple[str, int] = ("", 0)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(DUE, (now, *after, BATCH)).fetchall()
        if not rows:
            conn.execute("COMMIT")
            return
        yield rows
        conn.execute("COMMIT")
        after = (rows[-1][1], rows[-1][0])


def run(conn: sqlite3.Connection, now: datetime) -> tuple[int, int]:
    """Process everything due at now; (enrollments processed, batches)."""
    template = ImmutableSandboxedEnvironment(keep_trailing_newline=True).from_string(HELLO_BODY)
    stamp = _instant(now)
    next_due = _instant(now + WAIT)
    processed = batches = 0
    for rows in due_batches(conn, stamp):
        messages = []
        for enrollment, _, sequence, version, contact, email, attributes in rows:
            body = template.render(contact=json.loads(attributes), sender=SENDER)
            key = f"{enrollment}:{version}:{STEP_ID}"
            messages.append(
                (key, enrollment, sequence, version, STEP_ID, contact, email, body, stamp, stamp)
            )
        conn.executemany(INSERT_MESSAGE, messages)
        conn.executemany(MOVE_ON, [(stamp, next_due, stamp, row[0]) for row in rows])
        processed += len(rows)
        batches += 1
    return processed, batches


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a copy of a bench database (it is written)")
    parser.add_argument("--now", required=True, help="the tick's time, ISO 8601 in UTC")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    start = time.perf_counter()
    conn = connect(args.db)
    processed, batches = run(conn, now)
    conn.close()
    seconds = round(time.perf_counter() - start, 3)
    print(json.dumps({"processed": processed, "batches": batches, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
