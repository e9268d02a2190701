"""Taking many contacts off a sequence at once, or one contact off every sequence.

Each removal is what `remove ID --contact KEY` does: the enrollment exits with the reason, its
open actions and unsent messages are cancelled. Removing is idempotent: a contact with nothing
running counts as "not enrolled", not as an error; a key that is no contact is reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from seqctl.engine import contacts
from seqctl.engine.run.advance import exit_enrollment
from seqctl.engine.sequences.catalog import admitted, require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound
from seqctl.store import Store

BATCH_SIZE = 500


@dataclass
class RemoveReport:
    removed: int = 0  # enrollments ended
    not_enrolled: int = 0  # contacts with nothing running there
    unknown: list[str] = field(default_factory=list)  # keys of no contact
    refused: list[tuple[str, str]] = field(default_factory=list)  # bad rows of a file
    by_sequence: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "removed": self.removed,
            "not_enrolled": self.not_enrolled,
            "unknown": self.unknown,
            "refused": [{"row": where, "reason": reason} for where, reason in self.refused],
            "sequences": dict(sorted(self.by_sequence.items())),
        }


def remove_many(
    store: Store,
    sequence: str | None,
    keys: Iterable[str | tuple[str, str]],
    *,
    now: datetime,
    reason: str = "removed by a person",
    viewer: Viewer | None = None,
) -> RemoveReport:
    """Take each contact off `sequence`, or off every sequence when it is None.

    Items are contact keys, or (where, reason) for a bad row of a file. Batches of keys are
    removed a transaction each, so a long file does not hold the database.
    """
    if sequence is not None:
        require_visible(store, sequence, viewer)
    if sequence is not None and store.sequence(sequence) is None:
        raise NotFound(f"no sequence '{sequence}' (seqctl sequences list shows the published ones)")
    among = admitted(store, viewer)  # off every sequence: every one the viewer may see
    report = RemoveReport()
    pending = iter(keys)
    seen: set[str] = set()
    while batch := list(islice(pending, BATCH_SIZE)):
        wanted = []
        for item in batch:
            if isinstance(item, tuple):
                report.refused.append(item)
            elif item not in seen:
                seen.add(item)
                wanted.append(item)
        with store.transaction():
            known = store.existing_contact_keys(wanted)
            for key in wanted:
                if key not in known:
                    report.unknown.append(key)
                    continue
                running = [
                    e
                    for e in store.enrollments(contact=key, sequence=sequence, live=True)
                    if among is None or e.sequence in among
                ]
                report.not_enrolled += not running
                for enrollment in running:
                    exit_enrollment(
                        store, enrollment, at=now, reason=reason, kind="exited", detail=reason
                    )
                    report.removed += 1
                    report.by_sequence[enrollment.sequence] += 1
    return report


def keys_in(path: str) -> Iterator[str | tuple[str, str]]:
    """Contact keys from a file (or `-`): one a line, or the key (else email) column of a CSV
    or JSONL of contacts. A bad row comes as (where, reason)."""
    with contacts.open_source(path) as handle:
        checked = contacts.Lines(handle)
        kind, rest = contacts.sniff_keys(path, iter(checked))
        if kind is None:
            for key in contacts.plain_keys(rest, checked):
                yield (f"{path}:{key[0]}", key[1]) if isinstance(key, tuple) else key
            return
        for row in contacts.read_contacts(rest, name=path, kind=kind, checked=checked):
            if isinstance(row, contacts.Refusal):
                yield (f"{path}:{row.row}", row.reason)
            else:
                yield row.contact.key
