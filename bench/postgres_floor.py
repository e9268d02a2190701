"""The PostgreSQL floors: what bench/postgres.py's stages do, in plain psycopg.

    python bench/postgres_floor.py import --url URL --csv contacts.csv --at ISO
    python bench/postgres_floor.py enroll --url URL --keys keys.txt --sequence ID --at ISO
    python bench/postgres_floor.py tick --url URL --now ISO --holder NAME

On a database with seqctl's own schema (made by `seqctl db init`), in the batches seqctl uses:

- import: the store's contact upsert (INSERT ... ON CONFLICT (key) DO UPDATE, the same
  statement), executemany in batches of 10,000 rows, a transaction each; the CSV read with the
  csv module, the non-column fields as the JSON attributes.
- enroll: INSERT ... SELECT of the enrollments from the contacts named, and their `enrolled`
  history rows, in batches of 50,000 keys, a transaction each; due at once (the bench
  playbook has no window).
- tick: claim a batch of 1,000 due enrollments (UPDATE ... FROM (SELECT ... FOR UPDATE SKIP
  LOCKED LIMIT 1000) RETURNING, a transaction of its own), then in one transaction insert a
  history row and an action row per enrollment (the bench playbook's one step is a task: its
  output row is an action, not a message) and move the enrollment on to `waiting`, releasing
  its claim. Several of these processes at once share the work as `seqctl tick` processes do.

Prints one JSON line: {"rows": n, "batches": n, "seconds": s}.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any

import psycopg

IMPORT_BATCH = 10_000  # seqctl.engine.contacts.importing.BATCH_SIZE
ENROLL_BATCH = 50_000  # seqctl.engine.enrollments.enrollment.BATCH_SIZE
TICK_BATCH = 1000  # seqctl.engine.run.tick.BATCH_SIZE
COLUMNS = ("key", "email", "phone", "timezone")
CLAIM_SECONDS = 120

# The store's statement (seqctl/store/postgres/store.py, upsert_contacts).
UPSERT = """
INSERT INTO contacts AS c (key, email, phone, timezone, attributes, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (key) DO UPDATE SET
    email = COALESCE(excluded.email, c.email),
    phone = COALESCE(excluded.phone, c.phone),
    timezone = COALESCE(excluded.timezone, c.timezone),
    attributes = jsonb_strip_nulls(c.attributes::jsonb || excluded.attributes::jsonb)::text,
    updated_at = excluded.updated_at
WHERE c.email IS DISTINCT FROM COALESCE(excluded.email, c.email)
    OR c.phone IS DISTINCT FROM COALESCE(excluded.phone, c.phone)
    OR c.timezone IS DISTINCT FROM COALESCE(excluded.timezone, c.timezone)
    OR c.attributes::jsonb IS DISTINCT FROM
        jsonb_strip_nulls(c.attributes::jsonb || excluded.attributes::jsonb)
RETURNING key, xmax = 0
"""
ENROLL = """
INSERT INTO enrollments (sequence, version, contact, state, step, anchor_at, next_due_at,
                         enrolled_at, updated_at)
SELECT %(sequence)s, %(version)s, c.key, 'active', 0, %(at)s, %(at)s, %(at)s, %(at)s
FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS j(key, n) JOIN contacts c ON c.key = j.key
ORDER BY j.n
ON CONFLICT DO NOTHING
RETURNING id
"""
ENROLLED = """
INSERT INTO history (enrollment, at, kind, step, detail)
SELECT id, %s, 'enrolled', NULL, %s FROM unnest(%s::bigint[]) AS j(id) ORDER BY id
"""
CLAIM = f"""
UPDATE enrollments e SET claimed_by = %(holder)s,
    claimed_until = clock_timestamp() + make_interval(secs => {CLAIM_SECONDS})
FROM (
    SELECT e.id, c.attributes FROM enrollments e JOIN contacts c ON c.key = e.contact
    WHERE e.state = 'active' AND e.next_due_at <= %(now)s
      AND (e.claimed_until IS NULL OR e.claimed_until < clock_timestamp())
    ORDER BY e.next_due_at, e.id
    LIMIT %(limit)s
    FOR UPDATE OF e SKIP LOCKED
) AS picked
WHERE e.id = picked.id
RETURNING e.id, picked.attributes
"""
HISTORY = "INSERT INTO history (enrollment, at, kind, step, detail) VALUES (%s, %s, %s, %s, %s)"
ACTION = (
    "INSERT INTO actions (enrollment, step, type, due_at, title, instructions)"
    " VALUES (%s, %s, 'task', %s, %s, %s)"
)
MOVE_ON = (
    "UPDATE enrollments SET state = 'waiting', reason = %s, updated_at = %s,"
    " claimed_by = NULL, claimed_until = NULL WHERE id = %s"
)
STEP_ID = "call"


def import_csv(conn: psycopg.Connection[Any], path: str, at: str) -> tuple[int, int]:
    rows = batches = 0
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        while batch := list(islice(_contact_rows(reader, at), IMPORT_BATCH)):
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(UPSERT, batch, returning=True)
                while True:  # read what came back, as the store does
                    cursor.fetchall()
                    if not cursor.nextset():
                        break
            rows += len(batch)
            batches += 1
    return rows, batches


def _contact_rows(reader: csv.DictReader[str], at: str) -> Iterator[tuple[Any, ...]]:
    for record in reader:
        attributes = {k: v for k, v in record.items() if k not in COLUMNS and v}
        yield (
            record["key"],
            record["email"] or None,
            record["phone"] or None,
            record["timezone"] or None,
            json.dumps(attributes, ensure_ascii=False, separators=(",", ":")),
            at,
            at,
        )


def enroll(conn: psycopg.Connection[Any], path: str, sequence: str, at: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT max(number) FROM versions WHERE sequence = %s", [sequence]
    ).fetchone()
    version = row[0] if row else None
    if version is None:
        raise SystemExit(f"sequence {sequence!r} is not published")
    rows = batches = 0
    with open(path, encoding="utf-8") as handle:
        keys = (line.strip() for line in handle if line.strip())
        while batch := list(islice(keys, ENROLL_BATCH)):
            with conn.transaction():
                ids = [
                    i
                    for (i,) in conn.execute(
                        ENROLL, {"sequence": sequence, "version": version, "at": at, "keys": batch}
                    )
                ]
                conn.execute(ENROLLED, [at, f"version {version}", ids])
            rows += len(ids)
            batches += 1
    return rows, batches


def tick(conn: psycopg.Connection[Any], now: str, holder: str) -> tuple[int, int]:
    rows = batches = 0
    while True:
        with conn.transaction():
            claimed = conn.execute(
                CLAIM, {"holder": holder, "now": now, "limit": TICK_BATCH}
            ).fetchall()
        if not claimed:
            return rows, batches
        history, actions, moves = [], [], []
        for enrollment, attributes in claimed:
            contact = json.loads(attributes)
            name = f"{contact.get('first_name', '')} {contact.get('last_name', '')}".strip()
            title = f"Task for {name}"
            instructions = (
                f"Call {contact.get('first_name') or 'them'}"
                f" at {contact.get('company') or 'their company'}."
            )
            history.append((enrollment, now, "action", STEP_ID, title))
            actions.append((enrollment, STEP_ID, now, title, instructions))
            moves.append((f"action for step '{STEP_ID}'", now, enrollment))
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(HISTORY, history)
            cursor.executemany(ACTION, actions)
            cursor.executemany(MOVE_ON, moves)
        rows += len(claimed)
        batches += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("import", "enroll", "tick"))
    parser.add_argument("--url", required=True, help="a database with seqctl's schema")
    parser.add_argument("--csv", help="import: the contacts")
    parser.add_argument("--keys", help="enroll: the contacts' keys, one a line")
    parser.add_argument("--sequence", help="enroll: the sequence")
    parser.add_argument("--at", help="import, enroll: the time written")
    parser.add_argument("--now", help="tick: the time")
    parser.add_argument("--holder", default="floor", help="tick: this worker's name")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    with psycopg.connect(args.url, autocommit=True) as conn:
        if args.stage == "import":
            rows, batches = import_csv(conn, args.csv, args.at)
        elif args.stage == "enroll":
            rows, batches = enroll(conn, args.keys, args.sequence, args.at)
        else:
            rows, batches = tick(conn, args.now, args.holder)
    seconds = round(time.perf_counter() - start, 3)
    print(json.dumps({"rows": rows, "batches": batches, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
