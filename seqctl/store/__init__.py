"""The database. Everything above talks to it through the contract `Store` (contract.py), so
another backend can sit beside `SqliteStore`."""

from seqctl.store.contract import Parallel, Store, WriterLock
from seqctl.store.opening import open_store
from seqctl.store.records import ContactRecord, ContactRow, SequenceRecord, VersionRecord
from seqctl.store.sqlite.base import SqliteStore
from seqctl.store.sqlite.faults import database_fault

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
