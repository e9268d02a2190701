"""One contact, looked up by key and shown as `contacts show --json` prints it."""

from __future__ import annotations

from typing import Any

from seqctl.errors import NotFound
from seqctl.store import ContactRecord, Store
from seqctl.timeutil import format_instant


def contact(store: Store, key: str) -> ContactRecord:
    found = store.contact(key)
    if found is None:
        raise NotFound(f"no contact '{key}'")
    return found


def details(record: ContactRecord) -> dict[str, Any]:
    """A contact as `contacts show --json` prints it."""
    return {
        "key": record.key,
        "email": record.email,
        "phone": record.phone,
        "timezone": record.timezone,
        "attributes": record.attributes,
        "created_at": format_instant(record.created_at),
        "updated_at": format_instant(record.updated_at),
    }
