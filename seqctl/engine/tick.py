"""One run of the engine: advance every enrollment due at `now`, in batches, then deliver."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from seqctl.channels import ChannelSet
from seqctl.engine.advance import moved_on
from seqctl.engine.delivery import DeliveryReport, deliver, send_batch
from seqctl.engine.engagement import engagement
from seqctl.engine.events import resume_due
from seqctl.engine.limits import Limits
from seqctl.engine.notify import notify_owners
from seqctl.engine.runtime import RunnableVersion, Versions
from seqctl.engine.steps import DueEnrollment, Kind, Outcome, decide
from seqctl.playbook.model import Step, StepType
from seqctl.schedule import open_at
from seqctl.store import Store
from seqctl.store.records import Deliverable, MessageRecord, NewAction, NewMessage, Transition
from seqctl.timeutil import format_instant

BATCH_SIZE = 1000
LEASE = timedelta(minutes=10)
MAX_STEPS_PER_TICK = 50  # a branch loop with no waits must not spin forever


@dataclass
class TickReport:
    now: str
    due: int = 0
    sent: int = 0
    actions: int = 0
    approvals: int = 0
    failed: int = 0
    deferred: int = 0
    completed: int = 0
    notified: int = 0  # owners sent a digest of what needs them
    busy: str | None = None  # who held the lease when another tick was running

    def add(self, delivered: DeliveryReport) -> None:
        self.sent += delivered.sent
        self.failed += delivered.failed
        self.deferred += delivered.deferred
        self.completed += delivered.completed

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        if self.busy is None:
            del data["busy"]
        return data


def tick(
    store: Store,
    channels: ChannelSet,
    *,
    now: datetime,
    limit: int | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    senders: Mapping[str, Any] | None = None,
    notifications: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> TickReport:
    """Advance everything due at or before now; hold, send, or hand to people."""
    stamp = format_instant(now)
    assert stamp is not None
    report = TickReport(now=stamp)
    if dry_run:
        return _dry_run(store, now, limit, report)
    holder = f"{socket.gethostname()}:{os.getpid()}:{stamp}"
    with store.transaction():
        busy = store.take_lease("tick", holder, stamp, format_instant(now + LEASE) or stamp)
    if busy is not None:
        report.busy = busy
        return report
    try:
        versions = Versions(store)
        resume_due(store, now)  # out-of-office pauses that have ended
        limits = Limits(store, senders or {}, now)
        _advance_all(store, channels, versions, limits, now, limit, batch_size, report, progress)
        report.add(deliver(store, channels, versions, now, batch_size=batch_size, limits=limits))
        if notifications:
            report.notified = notify_owners(store, channels, notifications, now)

    finally:
        with store.transaction():
            store.release_lease("tick", holder)
    return report


def _advance_all(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    limits: Limits,
    now: datetime,
    limit: int | None,
    batch_size: int,
    report: TickReport,
    progress: Callable[[int], None] | None,
) -> None:
    stamp = format_instant(now)
    assert stamp is not None
    # Enrollments due again within this tick (steps with no wait): counted to stop branch loops.
    # Only those are kept, so memory does not grow with the number due.
    chained: dict[int, int] = {}
    approvals = AutoApproval(store, now)
    suppressions = Suppressions(store)
    while limit is None or report.due < limit:
        size = batch_size if limit is None else min(batch_size, limit - report.due)
        rows = store.due(stamp, size)
        if not rows:
            return
        batch = Batch(now, approvals, limits)
        for row in rows:
            due = DueEnrollment.from_row(row)
            version = versions.get(due.sequence, due.version)
            if due.step >= len(version.steps):  # moved past its last step by a forced migrate
                batch.complete(due)
            elif chained.get(due.id, 0) >= MAX_STEPS_PER_TICK:
                batch.fail(
                    due,
                    version.steps[due.step].id,
                    f"more than {MAX_STEPS_PER_TICK} steps in one tick (a branch loop?)",
                )
            else:
                step = version.steps[due.step]
                seen = (
                    engagement(store, due.contact, due.sequence, due.enrolled_text, now)
                    if needs_engagement(step)
                    else None
                )
                outcome = decide(version, due, now, seen)
                blocked = suppressions.check(due.contact, outcome)
                if blocked is None:
                    batch.add(version, due, outcome)
                elif blocked.startswith("unsubscribed"):
                    batch.exit(due, "unsubscribed", blocked)
                else:
                    batch.skip(version, due, step.id, blocked)
        for transition in batch.transitions:
            if transition.next_due_at is not None and transition.next_due_at <= stamp:
                chained[transition.enrollment] = chained.get(transition.enrollment, 0) + 1
        with store.transaction():
            ids = store.add_messages(batch.messages)
            batch.park_known(ids)
            store.add_actions(batch.actions)
            store.apply(batch.transitions)
        report.due += len(rows)
        report.actions += len(batch.actions)
        report.approvals += batch.approvals
        report.failed += batch.failed
        report.deferred += batch.deferred
        report.completed += sum(1 for t in batch.transitions if t.state == "completed")
        if batch.sending:
            delivered = DeliveryReport()
            send_batch(store, channels, versions, now, batch.deliverables(ids), delivered)
            report.add(delivered)
        if progress is not None:
            progress(len(rows))


class Batch:
    """The writes of one batch of due enrollments, applied together."""

    def __init__(self, now: datetime, approvals: AutoApproval, limits: Limits) -> None:
        self.now = now
        self.auto = approvals
        self.limits = limits
        self.sending: list[tuple[NewMessage, DueEnrollment]] = []  # admitted: deliver now
        self._json: dict[int, str] = {}
        self.deferred = 0
        self.stamp = format_instant(now) or ""
        self.messages: list[NewMessage] = []
        self.actions: list[NewAction] = []
        self.transitions: list[Transition] = []
        self.approvals = 0
        self.queued = 0
        self.failed = 0

    def complete(self, due: DueEnrollment) -> None:
        self.transitions.append(
            Transition(
                due.id,
                "completed",
                due.step,
                due.anchor_text,
                None,
                None,
                self.stamp,
                "completed",
                None,
            )
        )

    def exit(self, due: DueEnrollment, reason: str, detail: str) -> None:
        self.transitions.append(
            Transition(
                due.id,
                "exited",
                due.step,
                due.anchor_text,
                None,
                reason,
                self.stamp,
                "exited",
                None,
                detail,
            )
        )

    def skip(self, version: RunnableVersion, due: DueEnrollment, step_id: str, reason: str) -> None:
        """The step cannot go to this address (suppressed): the enrollment moves on without it."""
        self.transitions.extend(
            moved_on(
                version,
                due.id,
                next_index=version.after(due.step),
                done_at=self.now,
                enrolled_at=due.enrolled_at,
                contact_zone=due.contact_zone,
                kind="skipped",
                step_id=step_id,
                detail=reason,
            )
        )

    def fail(self, due: DueEnrollment, step_id: str, reason: str) -> None:
        self.failed += 1
        self.transitions.append(
            Transition(
                due.id,
                "failed",
                due.step,
                due.anchor_text,
                None,
                reason,
                self.stamp,
                "failed",
                step_id,
                reason,
            )
        )

    def add(self, version: RunnableVersion, due: DueEnrollment, outcome: Outcome) -> None:
        step = outcome.step
        anchor = due.anchor_text
        if outcome.kind is Kind.FAIL:
            self.fail(due, step.id, outcome.reason or "failed")
        elif outcome.kind is Kind.JUMP:
            assert outcome.next_index is not None
            target = (
                version.steps[outcome.next_index].id
                if outcome.next_index < len(version.steps)
                else "the end"
            )
            self.transitions.extend(
                moved_on(
                    version,
                    due.id,
                    next_index=outcome.next_index,
                    done_at=self.now,
                    enrolled_at=due.enrolled_at,
                    contact_zone=due.contact_zone,
                    kind="branched",
                    step_id=step.id,
                    detail=f"to {target}",
                )
            )
        elif outcome.kind is Kind.ACTION:
            self.actions.append(
                NewAction(
                    due.id,
                    step.id,
                    str(step.type),
                    _iso(due.due_at),
                    outcome.title,
                    outcome.instructions,
                )
            )
            self.transitions.append(
                Transition(
                    due.id,
                    "waiting",
                    due.step,
                    anchor,
                    None,
                    f"action for step '{step.id}'",
                    self.stamp,
                    "action",
                    step.id,
                    outcome.title,
                )
            )
        else:
            message = outcome.message
            assert message is not None
            held = not self.auto.allows(version, step.id)
            sender = (version.model.definition.get("sender") or {}).get("email")
            deferral = None if held else self.limits.admit(version, sender)
            status = "pending_approval" if held else "queued" if deferral else "sending"
            new = NewMessage(
                idempotency_key=f"{due.id}:{due.version}:{step.id}",
                enrollment=due.id,
                sequence=due.sequence,
                version=due.version,
                step=step.id,
                contact=due.contact,
                channel=message.channel,
                to_address=message.to,
                subject=message.subject,
                body=message.body,
                status=status,
                created_at=self.stamp,
                extra_json=self.extra_json(message.extra),
                sender=sender,
                next_attempt_at=(
                    _iso(open_at(deferral[1], version.calendar(due.contact_zone)))
                    if deferral
                    else None
                ),
                error=deferral[0] if deferral else None,
            )
            self.messages.append(new)
            if held:
                self.approvals += 1
                state, reason, kind = (
                    "waiting",
                    f"message for step '{step.id}' awaits approval",
                    ("approval"),
                )
            else:
                # Active with no due time while its message is in the outbox: the step is done
                # when the message is sent.
                state, reason, kind = "active", None, "queued"
                if deferral:
                    self.deferred += 1
                    reason = f"message deferred: {deferral[0]}"
                else:
                    # Sent in a moment, in this tick: its `sent` transition says it all. Only if
                    # the message turns out to be in the outbox already (a run that died) is it
                    # parked here, for the recovery of in-flight messages to finish.
                    self.sending.append((new, due))
                    return
            self.transitions.append(
                Transition(
                    due.id,
                    state,
                    due.step,
                    anchor,
                    None,
                    reason,
                    self.stamp,
                    kind,
                    step.id,
                    message.to,
                )
            )

    def extra_json(self, extra: dict[str, Any]) -> str | None:
        """A message's extra fields as JSON; the common case (just the sender) made once."""
        if not extra:
            return None
        if len(extra) == 1 and "from" in extra:
            key = id(extra["from"])
            found = self._json.get(key)
            if found is None:
                found = self._json[key] = json.dumps(extra)
            return found
        return json.dumps(extra)

    def park_known(self, ids: dict[str, int]) -> None:
        """Messages that were in the outbox already: their enrollments wait for the recovery."""
        for new, due in self.sending:
            if new.idempotency_key not in ids:
                self.transitions.append(
                    Transition(
                        due.id,
                        "active",
                        due.step,
                        due.anchor_text,
                        None,
                        None,
                        self.stamp,
                        "queued",
                        new.step,
                        new.to_address,
                    )
                )

    def deliverables(self, ids: dict[str, int]) -> list[Deliverable]:
        """The admitted messages of this batch as the outbox would read them back."""
        rows = []
        for new, due in self.sending:
            message_id = ids.get(new.idempotency_key)
            if message_id is None:
                continue  # already in the outbox from an earlier run: recovery sends it
            record = MessageRecord(
                message_id,
                new.idempotency_key,
                new.enrollment,
                new.sequence,
                new.version,
                new.step,
                new.contact,
                new.channel,
                new.to_address,
                new.subject,
                new.body,
                "sending",
                0,
                None,
                new.created_at,
                None,
                None,
            )
            rows.append(
                Deliverable(
                    record,
                    due.step,
                    "active",
                    due.anchor_text,
                    due.enrolled_text,
                    due.contact_zone,
                    new.extra_json,
                    new.sender,
                )
            )
        return rows


def needs_engagement(step: Step) -> bool:
    """Steps whose outcome depends on what the contact did: branches, WhatsApp, channel auto."""
    return step.type in (StepType.BRANCH, StepType.WHATSAPP) or step.spec.get("channel") == "auto"


class Suppressions:
    """The suppression list, asked only when it has entries."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.active = store.has_suppressions()

    def check(self, contact: str, outcome: Outcome) -> str | None:
        """Why this outcome must not reach the contact, or None."""
        if not self.active or outcome.kind is not Kind.SEND or outcome.message is None:
            return None
        values = [contact]
        address = (outcome.message.to or "").lower()
        if address:
            values.append(address)
            if "@" in address:
                values.append("@" + address.split("@", 1)[1])
        found = self.store.suppressed(values)
        if contact in found:
            return f"unsubscribed: {found[contact]}"
        for value in values[1:]:
            if value in found:
                return f"{value} is suppressed ({found[value]})"
        return None


def needs_approval(version: RunnableVersion, step_id: str) -> bool:
    """Nothing goes out without an OK unless the playbook says so (approval: auto, auto_approve)."""
    return version.release(step_id)[0]


class AutoApproval:
    """auto_approve rules with their max_per_day caps, counted over a rolling 24 hours."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.since = format_instant(now - timedelta(days=1)) or ""
        self.used: dict[tuple[str, str], int] = {}

    def allows(self, version: RunnableVersion, step_id: str) -> bool:
        """True when this message may go without a person's OK (and counts it if capped)."""
        needs_person, cap = version.release(step_id)
        if needs_person:
            return False
        if cap is None:
            return True
        key = (version.sequence, step_id)
        if key not in self.used:
            self.used[key] = self.store.count_released(version.sequence, step_id, self.since)
        if self.used[key] >= cap:
            return False
        self.used[key] += 1
        return True


def _dry_run(store: Store, now: datetime, limit: int | None, report: TickReport) -> TickReport:
    """What a tick would do now, without writing: one pass over what is due."""
    stamp = format_instant(now) or ""
    versions = Versions(store)
    for row in store.due(stamp, limit if limit is not None else -1):
        due = DueEnrollment.from_row(row)
        version = versions.get(due.sequence, due.version)
        outcome = decide(version, due, now)
        report.due += 1
        if outcome.kind is Kind.FAIL:
            report.failed += 1
        elif outcome.kind is Kind.ACTION:
            report.actions += 1
        elif outcome.kind is Kind.SEND:
            if needs_approval(version, outcome.step.id):
                report.approvals += 1
            else:
                report.sent += 1
    return report


def _iso(value: datetime) -> str:
    return format_instant(value) or ""
