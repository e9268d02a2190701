"""Messages waiting for a person's OK: list, approve (optionally edited), reject."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from seqctl.engine.advance import moved_on
from seqctl.engine.runtime import Versions
from seqctl.errors import NotFound, SeqctlError
from seqctl.store import Store
from seqctl.store.records import MessageRecord, Transition
from seqctl.timeutil import format_instant, from_db


def pending(store: Store, sequence: str | None = None) -> list[MessageRecord]:
    return store.messages(status="pending_approval", sequence=sequence)


def _pending_message(store: Store, message_id: int) -> MessageRecord:
    message = store.message(message_id)
    if message is None:
        raise NotFound(f"no message {message_id} (seqctl approvals lists those waiting)")
    if message.status != "pending_approval":
        raise SeqctlError(
            f"message {message_id} is not waiting for approval (it is {message.status})"
        )
    return message


def approve(
    store: Store,
    ids: Sequence[int],
    *,
    now: datetime,
    by: str | None,
    subject: str | None = None,
    body: str | None = None,
) -> list[MessageRecord]:
    """Release messages to the outbox; the next tick sends them. Edits apply to one message."""
    messages = [_pending_message(store, i) for i in ids]
    if (subject is not None or body is not None) and len(messages) != 1:
        raise SeqctlError("edit one message at a time (--subject/--body with a single ID)")
    stamp = format_instant(now) or ""
    with store.transaction():
        if subject is not None or body is not None:
            store.edit_message(messages[0].id, subject, body)
        store.set_message_status([m.id for m in messages], "queued")
        transitions = []
        for message in messages:
            enrollment = store.enrollment(message.enrollment)
            assert enrollment is not None
            if enrollment.state == "waiting":
                transitions.append(
                    Transition(
                        enrollment.id,
                        "active",
                        enrollment.step,
                        enrollment.anchor_at,
                        None,
                        None,
                        stamp,
                        "approved",
                        message.step,
                        by,
                    )
                )
            else:
                store.add_history([(enrollment.id, stamp, "approved", message.step, by)])
        store.apply(transitions)
    return messages


def reject(
    store: Store, message_id: int, *, now: datetime, by: str | None, reason: str | None = None
) -> str:
    """Do not send this message; the enrollment moves on to its next step. Returns its state."""
    message = _pending_message(store, message_id)
    enrollment = store.enrollment(message.enrollment)
    assert enrollment is not None
    stamp = format_instant(now) or ""
    detail = "; ".join(x for x in (reason, f"by {by}" if by else None) if x) or None
    with store.transaction():
        store.set_message_status([message.id], "rejected", error=reason)
        if enrollment.state != "waiting":
            store.add_history([(enrollment.id, stamp, "rejected", message.step, detail)])
            return enrollment.state
        version = Versions(store).get(enrollment.sequence, enrollment.version)
        contact = store.contact(enrollment.contact)
        enrolled = from_db(enrollment.enrolled_at)
        assert enrolled is not None
        moves = moved_on(
            version,
            enrollment.id,
            next_index=enrollment.step + 1,
            done_at=now,
            enrolled_at=enrolled,
            contact_zone=contact.timezone if contact else None,
            kind="rejected",
            step_id=message.step,
            detail=detail,
        )
        store.apply(moves)
    return moves[-1].state
