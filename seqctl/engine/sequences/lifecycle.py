"""A sequence's life: draft until activated, paused and resumed as a whole."""

from __future__ import annotations

from datetime import datetime

from seqctl.engine.enrollments.enrollment import shift_paused_sequence
from seqctl.engine.sequences.catalog import require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import ExitCode, NotFound, SeqctlError
from seqctl.store import Store

SEQUENCE_STATUSES = ("draft", "active", "paused", "archived")  # archived: see archive.py


def set_status(
    store: Store, sequence_id: str, status: str, now: datetime, *, viewer: Viewer | None = None
) -> str:
    """Activate, pause or resume a whole sequence; returns the previous status."""
    require_visible(store, sequence_id, viewer)
    record = store.sequence(sequence_id)
    if record is None:
        raise NotFound(f"no sequence '{sequence_id}' (publish it first: seqctl publish)")
    if record.status == "archived":
        raise SeqctlError(
            f"sequence '{sequence_id}' is archived (seqctl unarchive {sequence_id} first)"
        )
    if status == "active" and record.latest_version is None:
        raise SeqctlError(f"sequence '{sequence_id}' has no published version")
    if record.status == "draft" and status == "paused":
        raise SeqctlError(
            f"sequence '{sequence_id}' is a draft: activate it first", exit_code=ExitCode.USAGE
        )
    paused_at = now if status == "paused" else None
    if record.status == "paused" and status == "paused":
        paused_at = record.paused_at
    with store.transaction():
        store.set_sequence_status(sequence_id, status, now, paused_at)
        if record.status == "paused" and status == "active" and record.paused_at is not None:
            shift_paused_sequence(store, sequence_id, record.paused_at, now)
    return record.status
