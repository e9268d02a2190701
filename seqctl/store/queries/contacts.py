"""Contacts: upserted by key, routing fields in columns, everything else as JSON attributes."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seqctl.store.records import ContactRecord, ContactRow, Upserted
from seqctl.store.sql import limit as sql_limit
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from sqlite_utils import Database

    from seqctl.store.sql import Sql

_COLUMNS = "key, email, phone, timezone, attributes, created_at, updated_at"
_IN_CHUNK = 500  # SQLite's parameter limit is far above; this keeps statements small


class ContactQueries:
    sql: Sql
    db: Database  # SQLite's own: the PostgreSQL store has its own upsert and insert

    def contact(self, key: str) -> ContactRecord | None:
        row = self.sql.execute(f"SELECT {_COLUMNS} FROM contacts WHERE key = ?", [key]).fetchone()
        return ContactRecord.from_row(row) if row else None

    def contacts(self, *, limit: int | None = None, offset: int = 0) -> list[ContactRecord]:
        rows = self.sql.execute(
            f"SELECT {_COLUMNS} FROM contacts ORDER BY key LIMIT ? OFFSET ?",
            [sql_limit(limit), offset],
        )
        return [ContactRecord.from_row(row) for row in rows]

    def contacts_by_key(self, keys: Sequence[str]) -> dict[str, ContactRecord]:
        found: dict[str, ContactRecord] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            for row in self.sql.execute(
                f"SELECT {_COLUMNS} FROM contacts WHERE key IN ({marks})", chunk
            ):
                found[row[0]] = ContactRecord.from_row(row)
        return found

    def existing_contact_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys are contacts."""
        rows = self.sql.execute(
            "SELECT c.key FROM json_each(?) AS j CROSS JOIN contacts AS c ON c.key = j.value",
            [_encode_attributes(list(keys))],
        )
        return {str(key) for (key,) in rows}

    def count_contacts(self) -> int:
        return int(self.sql.execute("SELECT COUNT(*) FROM contacts").fetchone()[0])

    def upsert_contacts(
        self, rows: Iterable[ContactRow], at: datetime, *, new_keys: list[str] | None = None
    ) -> Upserted:
        """Insert new contacts; for known keys, set the given fields and merge attributes.

        A known contact whose values would not change is not written (its updated_at stays).
        Returns how many were new and how many changed (call inside a transaction); the new
        keys are appended to `new_keys` when given, in the order written.
        """
        # A new row gets a rowid above every existing one; an updated row keeps its own.
        before = self.sql.execute("SELECT COALESCE(MAX(rowid), 0) FROM contacts").fetchone()[0]
        changes = self.db.conn.total_changes
        encode = _encode_attributes
        stamp = format_instant(at)
        self.sql.executemany(
            """
            INSERT INTO contacts (key, email, phone, timezone, attributes, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(key) DO UPDATE SET
                email = COALESCE(excluded.email, contacts.email),
                phone = COALESCE(excluded.phone, contacts.phone),
                timezone = COALESCE(excluded.timezone, contacts.timezone),
                attributes = json_patch(contacts.attributes, excluded.attributes),
                updated_at = excluded.updated_at
            WHERE contacts.email IS NOT COALESCE(excluded.email, contacts.email)
                OR contacts.phone IS NOT COALESCE(excluded.phone, contacts.phone)
                OR contacts.timezone IS NOT COALESCE(excluded.timezone, contacts.timezone)
                OR contacts.attributes IS NOT json_patch(contacts.attributes, excluded.attributes)
            """,
            (
                (r.key, r.email, r.phone, r.timezone, encode(r.attributes), stamp, stamp)
                for r in rows
            ),
        )
        written = self.db.conn.total_changes - changes  # new rows and rows that changed
        if new_keys is None:
            query = "SELECT COUNT(*) FROM contacts WHERE rowid > ?"
            created = int(self.sql.execute(query, [before]).fetchone()[0])
            return Upserted(created, written - created)
        found = self.sql.execute(
            "SELECT key FROM contacts WHERE rowid > ? ORDER BY rowid", [before]
        )
        count = len(new_keys)
        new_keys.extend(key for (key,) in found)
        created = len(new_keys) - count
        return Upserted(created, written - created)


def _attributes_encoder() -> Callable[[Any], str]:
    """Attributes as compact JSON (what json.dumps gives with these options), fast.

    json.dumps with options builds an encoder for every call, which costs more than encoding
    a contact's few fields; here the C encoder is built once (the Python one where there is
    none). No circular check: attributes come from parsed files and events, never cycles.
    """
    options = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return options.encode
    encoder = make(
        None, options.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    return lambda value: "".join(encoder(value, 0))


_encode_attributes = _attributes_encoder()
