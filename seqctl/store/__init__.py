"""The database. Everything above talks to it through the contract `Store` (contract.py), so
another backend can sit beside `SqliteStore`."""

from seqctl.store.base import SqliteStore
from seqctl.store.contract import Parallel, Store, WriterLock
from seqctl.store.faults import database_fault
from seqctl.store.opening import open_store
from seqctl.store.records import ContactRecord, ContactRow, SequenceRecord, VersionRecord

__all__ = [
    "ContactRecord",
    "ContactRow",
    "Parallel",
    "SequenceRecord",
    "SqliteStore",
    "Store",
    "VersionRecord",
    "WriterLock",
    "database_fault",
    "open_store",
]
