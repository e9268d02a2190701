"""The database. Everything above talks to it through `Store`, so another backend can sit beside."""

from seqctl.store.base import Store, open_store
from seqctl.store.records import ContactRecord, ContactRow, SequenceRecord, VersionRecord

__all__ = [
    "ContactRecord",
    "ContactRow",
    "SequenceRecord",
    "Store",
    "VersionRecord",
    "open_store",
]
