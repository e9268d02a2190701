"""The database. Everything above talks to it through `Store`, so another backend can sit beside."""

from seqctl.store.base import Store, open_store
from seqctl.store.records import SequenceRecord, VersionRecord

__all__ = ["SequenceRecord", "Store", "VersionRecord", "open_store"]
