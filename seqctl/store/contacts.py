"""Contacts: upserted by key, routing fields in columns, everything else as JSON attributes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from seqctl.store.records import ContactRecord, ContactRow

if TYPE_CHECKING:
    from sqlite_utils import Database

_COLUMNS = "key, email, phone, timezone, attributes, created_at, updated_at"
_IN_CHUNK = 500  # SQLite's parameter limit is far above; this keeps statements small


class ContactQueries:
    db: Database

    def contact(self, key: str) -> ContactRecord | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM contacts WHERE key = ?", [key]).fetchone()
        return ContactRecord(*row) if row else None

    def contacts(self, *, limit: int | None = None, offset: int = 0) -> list[ContactRecord]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM contacts ORDER BY key LIMIT ? OFFSET ?",
            [limit if limit is not None else -1, offset],
        )
        return [ContactRecord(*row) for row in rows]

    def contacts_by_key(self, keys: Sequence[str]) -> dict[str, ContactRecord]:
        found: dict[str, ContactRecord] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT {_COLUMNS} FROM contacts WHERE key IN ({marks})", chunk
            ):
                found[row[0]] = ContactRecord(*row)
        return found

    def existing_contact_keys(self, keys: Sequence[str]) -> set[str]:
        existing: set[str] = set()
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            existing.update(
                r[0]
                for r in self.db.execute(f"SELECT key FROM contacts WHERE key IN ({marks})", chunk)
            )
        return existing

    def count_contacts(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0])

    def upsert_contacts(self, rows: Iterable[ContactRow], at: str) -> None:
        """Insert new contacts; for known keys, set the given fields and merge attributes."""
        self.db.conn.executemany(
            """
            INSERT INTO contacts (key, email, phone, timezone, attributes, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(key) DO UPDATE SET
                email = COALESCE(excluded.email, contacts.email),
                phone = COALESCE(excluded.phone, contacts.phone),
                timezone = COALESCE(excluded.timezone, contacts.timezone),
                attributes = json_patch(contacts.attributes, excluded.attributes),
                updated_at = excluded.updated_at
            """,
            (
                (
                    r.key,
                    r.email,
                    r.phone,
                    r.timezone,
                    json.dumps(r.attributes, ensure_ascii=False, separators=(",", ":")),
                    at,
                    at,
                )
                for r in rows
            ),
        )
