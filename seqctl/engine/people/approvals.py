"""Messages waiting for a person's OK: list, approve (optionally edited), reject."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from seqctl.engine.incoming.events import rule_for
from seqctl.engine.people.onhold import OnHold
from seqctl.engine.run.advance import exit_enrollment, finish_step
from seqctl.engine.run.runtime import Versions
from seqctl.engine.sequences.catalog import admitted, require_visible, visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound, SeqctlError
from seqctl.store import Store
from seqctl.store.records import MessageRecord, NewHistory, Transition
from seqctl.store.states import EnrollmentState, MessageStatus


def pending(
    store: Store, sequence: str | None = None, *, viewer: Viewer | None = None
) -> list[MessageRecord]:
    """Messages waiting for an OK (of a sequence), of the sequences the viewer may see."""
    if sequence is not None:
        require_visible(store, sequence, viewer)
    waiting = store.messages(status="pending_approval", sequence=sequence)
    among = admitted(store, viewer)
    return waiting if among is None else [m for m in waiting if m.sequence in among]


def waiting(
    store: Store,
    sequence: str | None = None,
    *,
    paused: bool = False,
    viewer: Viewer | None = None,
) -> list[tuple[MessageRecord, bool]]:
    """Messages waiting for approval, each with whether it is on hold (a paused sequence or
    enrollment); those on hold only with `paused`. Only of sequences the viewer may see."""
    found = pending(store, sequence, viewer=viewer)
    held = OnHold(store).held((m.sequence, m.enrollment) for m in found)
    return [(m, m.enrollment in held) for m in found if paused or m.enrollment not in held]


def on_hold(store: Store, messages: Sequence[MessageRecord]) -> list[MessageRecord]:
    """Of these messages, those on hold: approved, they go once their sequence is resumed."""
    held = OnHold(store).held((m.sequence, m.enrollment) for m in messages)
    return [m for m in messages if m.enrollment in held]


def _pending_message(store: Store, message_id: int, viewer: Viewer | None) -> MessageRecord:
    message = store.message(message_id)
    if message is None or not visible(store, message.sequence, viewer):
        raise NotFound(f"no message {message_id} (seqctl approvals lists those waiting)")
    if message.status != MessageStatus.PENDING_APPROVAL:
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
    viewer: Viewer | None = None,
) -> list[MessageRecord]:
    """Release messages to the outbox; the next tick sends them. Edits apply to one message."""
    messages = [_pending_message(store, i, viewer) for i in ids]
    if (subject is not None or body is not None) and len(messages) != 1:
        raise SeqctlError("edit one message at a time (--subject/--body with a single ID)")
    with store.transaction():
        if subject is not None or body is not None:
            store.edit_message(messages[0].id, subject, body)
        store.set_message_status([m.id for m in messages], "queued")
        transitions = []
        for message in messages:
            enrollment = store.enrollment(message.enrollment)
            assert enrollment is not None
            if enrollment.state == EnrollmentState.WAITING:
                transitions.append(
                    Transition(
                        enrollment.id,
                        "active",
                        enrollment.step,
                        enrollment.anchor_at,
                        None,
                        None,
                        now,
                        "approved",
                        message.step,
                        by,
                    )
                )
            else:
                store.add_history(
                    [NewHistory(enrollment.id, now, "approved", step=message.step, detail=by)]
                )
        store.apply(transitions)
    return messages


def approve_all(
    store: Store,
    *,
    now: datetime,
    by: str | None,
    sequence: str | None = None,
    viewer: Viewer | None = None,
) -> int:
    """Release every message waiting for approval (of a sequence, of the sequences the viewer
    may see); the next tick sends them."""
    if sequence is not None:
        require_visible(store, sequence, viewer)
        if store.sequence(sequence) is None:
            raise NotFound(f"no sequence '{sequence}'")
    among = admitted(store, viewer)
    with store.transaction():
        if among is None or sequence is not None:
            return store.approve_pending(now, by, sequence)
        return sum(store.approve_pending(now, by, seen) for seen in sorted(among))


def reject(
    store: Store,
    message_id: int,
    *,
    now: datetime,
    by: str | None,
    reason: str | None = None,
    viewer: Viewer | None = None,
) -> str:
    """Do not send this message; the enrollment moves on to its next step. Returns its state."""
    message = _pending_message(store, message_id, viewer)
    enrollment = store.enrollment(message.enrollment)
    assert enrollment is not None
    detail = "; ".join(x for x in (reason, f"by {by}" if by else None) if x) or None
    with store.transaction():
        store.set_message_status([message.id], "rejected", error=reason)
        if enrollment.state != EnrollmentState.WAITING:
            store.add_history(
                [NewHistory(enrollment.id, now, "rejected", step=message.step, detail=detail)]
            )
            return enrollment.state
        # What a rejection does is the playbook's `on: {reject: ...}`: move on (the default),
        # end the enrollment, or pause it.
        definition = Versions(store).get(enrollment.sequence, enrollment.version).model.definition
        action, _, _ = rule_for(definition, "reject")
        if action == "exit":
            exit_enrollment(
                store,
                enrollment,
                at=now,
                reason="rejected",
                kind="rejected",
                detail=detail,
                step_id=message.step,
            )
            return "exited"
        state = finish_step(
            store, enrollment, now=now, kind="rejected", step_id=message.step, detail=detail
        )
        if action == "pause" and state != EnrollmentState.COMPLETED:
            # Moved past the rejected step, then held: the next countdown waits for a resume.
            store.set_paused(enrollment.id, at=now, reason="rejected")
            return "paused"
        return state


def preview_rules(
    store: Store, now: datetime, sequence: str | None = None, *, viewer: Viewer | None = None
) -> list[dict[str, Any]]:
    """What each auto_approve rule would let out at `now`: the due messages it covers, its cap.

    Only the rules of sequences the viewer may see."""
    if sequence is not None:
        require_visible(store, sequence, viewer)
    among = admitted(store, viewer)
    if among is not None:
        return [rule for rule in preview_rules(store, now, sequence) if rule["sequence"] in among]
    since = now - timedelta(days=1)
    versions = Versions(store)
    due: dict[tuple[str, str], int] = {}
    for row in store.due(now, -1):
        if sequence is not None and row.sequence != sequence:
            continue
        step = versions.get(row.sequence, row.version).steps[row.step]
        due[(row.sequence, step.id)] = due.get((row.sequence, step.id), 0) + 1
    rules = []
    for record in store.sequences():
        if record.latest_version is None or sequence not in (None, record.id):
            continue
        version = versions.get(record.id)
        for rule in version.model.definition.get("auto_approve") or []:
            step_id = str(rule["step"])
            cap = rule.get("max_per_day")
            used = store.count_released(record.id, step_id, since)
            waiting = due.get((record.id, step_id), 0)
            allowed = waiting if cap is None else max(0, min(waiting, int(cap) - used))
            rules.append(
                {
                    "sequence": record.id,
                    "step": step_id,
                    "max_per_day": cap,
                    "used_today": used,
                    "due": waiting,
                    "would_approve": allowed,
                    "would_hold": waiting - allowed,
                }
            )
    return rules
