"""The database. Everything above talks to it through `Store`, so another backend can sit beside."""

from seqctl.store.base import Store
from seqctl.store.faults import database_fault
from seqctl.store.opening import open_store
from seqctl.store.records import ContactRecord, ContactRow, SequenceRecord, VersionRecord

__all__ = [
    "ContactRecord",
    "ContactRow",
    "SequenceRecord",
    "Store",
    "VersionRecord",
    "database_fault",
    "open_store",
]
