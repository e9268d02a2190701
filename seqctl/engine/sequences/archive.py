"""Retiring a sequence: archived, it stops for everyone and leaves the lists, history kept.

Archiving ends every running enrollment (state `exited`, reason `archived`: it is not coming
back, so holding people paused would only hide them); their open actions and unsent messages are
cancelled. Versions, enrollments, messages and the history stay. An archived sequence takes no
new enrollments, is not published again, and `unarchive` brings it back as a draft, to be
activated again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from seqctl.engine.run.advance import exit_enrollment
from seqctl.engine.sequences.catalog import require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound, SeqctlError
from seqctl.playbook.lint import display_path
from seqctl.store import SequenceRecord, Store

ARCHIVED = "archived"


def _record(store: Store, sequence_id: str, viewer: Viewer | None = None) -> SequenceRecord:
    require_visible(store, sequence_id, viewer)
    record = store.sequence(sequence_id)
    if record is None:
        raise NotFound(f"no sequence '{sequence_id}' (seqctl sequences list --all shows them all)")
    return record


def archive(
    store: Store,
    sequence_id: str,
    *,
    now: datetime,
    by: str | None = None,
    viewer: Viewer | None = None,
) -> int:
    """Archive a sequence (one the viewer may see); returns how many running enrollments
    ended."""
    record = _record(store, sequence_id, viewer)
    if record.status == ARCHIVED:
        raise SeqctlError(f"sequence '{sequence_id}' is already archived")
    detail = f"sequence archived by {by}" if by else "sequence archived"
    with store.transaction():
        running = store.enrollments(sequence=sequence_id, live=True)
        for enrollment in running:
            exit_enrollment(
                store, enrollment, at=now, reason=ARCHIVED, kind="exited", detail=detail
            )
        store.set_sequence_status(sequence_id, ARCHIVED, now, None)
    return len(running)


def unarchive(
    store: Store, sequence_id: str, *, now: datetime, viewer: Viewer | None = None
) -> None:
    """Bring an archived sequence back, as a draft: nothing moves until it is activated."""
    record = _record(store, sequence_id, viewer)
    if record.status != ARCHIVED:
        raise SeqctlError(f"sequence '{sequence_id}' is not archived (it is {record.status})")
    with store.transaction():
        store.set_sequence_status(sequence_id, "draft", now, None)


def refuse_if_archived(record: SequenceRecord) -> None:
    """Enrolling into an archived sequence is a mistake worth a clear message."""
    if record.status == ARCHIVED:
        raise SeqctlError(
            f"sequence '{record.id}' is archived: it takes no new enrollments "
            f"(seqctl unarchive {record.id} to use it again)"
        )


@dataclass(frozen=True)
class Gone:
    """A published sequence whose playbook is no longer among the files read."""

    sequence: str
    source: str
    folder: str

    def __str__(self) -> str:
        return (
            f"{self.sequence}: published, but its playbook is gone from {self.folder}; "
            f"`seqctl archive {self.sequence}` to retire it"
        )


def gone(store: Store, paths: Sequence[Path], found: Iterable[str]) -> list[Gone]:
    """Published, not archived sequences last published from a file under one of the folders
    read (`paths`), whose playbook none of the files read defines any more."""
    folders = [p.resolve() for p in paths if p.is_dir()]
    present = set(found)
    missing = []
    for record in store.sequences():
        if record.status == ARCHIVED or record.id in present or record.latest_version is None:
            continue
        newest = store.version(record.id)
        if newest is None or not newest.source:
            continue
        source = Path(newest.source).resolve()
        for folder, given in zip(folders, [p for p in paths if p.is_dir()], strict=True):
            if source.is_relative_to(folder):
                shown = display_path(given).rstrip("/") + "/"
                missing.append(Gone(record.id, newest.source, shown))
                break
    return missing
