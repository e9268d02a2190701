"""What a channel reports, written down as it comes: a message a connection starts is marked
`sending`, each outcome is recorded (sent, retried later, failed) and the enrollment moved on,
in one short transaction per report.

Temporary failures are retried with exponential backoff for as long as the channel's
`retry_for` (6 hours by default), not a number of attempts: an outage is measured in time.
A server's Retry-After is honoured. A message held because its channel is down for now (the
breaker tripped) is no attempt; it waits as long as the outage has lasted so far (1, 2, 4, ...
minutes, at most LAST_RETRY), so a long outage is tried less and less often.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from seqctl.channels import ChannelSet, Delivery, Progress
from seqctl.engine.run.advance import at_message_step, moved_on
from seqctl.engine.run.runtime import Versions
from seqctl.store import Store
from seqctl.store.records import (
    Deliverable,
    FailingSince,
    Postponement,
    Resent,
    Sent,
    Transition,
)
from seqctl.store.states import EnrollmentState

FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(minutes=30)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    deferred: int = 0
    completed: int = 0
    suppressed: int = 0  # cancelled as they were leaving: the address opted out meanwhile
    resent: int = 0  # messages sent again after an outcome that was unknown
    next_try: dict[str, datetime] = field(default_factory=dict)  # by channel, after a failure


def retry_delay(attempt: int, key: str) -> timedelta:
    """Exponential backoff (1, 2, 4, ... minutes, at most LAST_RETRY) with +/-20% jitter.

    The jitter comes from the message's key, so retries of many messages spread out while a
    replay of the same tick computes the same times.
    """
    base = min(FIRST_RETRY * (2 ** max(attempt - 1, 0)), LAST_RETRY)
    return base * _jitter(f"{key}:{attempt}")


def _jitter(text: str) -> float:
    spread = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return 0.8 + 0.4 * spread


class _Failure(NamedTuple):
    """A message that failed for good, why, and whether this try counts as an attempt."""

    message: int
    error: str
    tried: bool


@dataclass
class _Writes:
    """The rows one report changes, written together."""

    started: list[int] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    resent: list[Resent] = field(default_factory=list)
    retry: list[Postponement] = field(default_factory=list)
    failing: list[FailingSince] = field(default_factory=list)
    failed: list[_Failure] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


def record(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    progress: Progress,
    rows: dict[int, Deliverable],
    report: DeliveryReport,
    mark: tuple[str, str] | None = None,
) -> None:
    """Write one report of a channel in one transaction (with `mark`, how far into its
    journal the reports are recorded: see journal)."""
    writes = _Writes(started=progress.started)
    # Real failures first: a message held behind them waits until the channel's next try.
    for delivery in sorted(progress.done, key=lambda d: d.held):
        row = rows[delivery.message_id]
        if delivery.unknown:
            writes.resent.append(Resent(times=delivery.unknown, message=row.message.id))
            report.resent += 1
        if delivery.ok:
            _sent(versions, now, row, delivery, writes, report)
        elif delivery.temporary and not _given_up(channels, now, row):
            _retry(channels, now, row, delivery, writes, report)
        else:
            _failed(channels, now, row, delivery, writes, report)
    with store.transaction():  # only the statements with rows: most reports are a few sends
        if mark is not None:
            store.set_mark(*mark)
        if writes.started:
            store.set_message_status(writes.started, "sending")
        if writes.sent:
            store.mark_sent(writes.sent)
        if writes.resent:
            store.add_resent(writes.resent)
        if writes.retry:
            store.postpone(writes.retry)
            store.mark_failing(writes.failing)
        for failure in writes.failed:
            store.set_message_status(
                [failure.message], "failed", error=failure.error, attempt=failure.tried
            )
        # Read again under the write lock: a reply, a removal or a pause that came in while the
        # message was on its way wins over moving the enrollment on.
        if writes.transitions:
            states = store.enrollment_states([t.enrollment for t in writes.transitions])
            active = EnrollmentState.ACTIVE
            store.advance([t for t in writes.transitions if states.get(t.enrollment) == active])


def _sent(
    versions: Versions,
    now: datetime,
    row: Deliverable,
    delivery: Delivery,
    writes: _Writes,
    report: DeliveryReport,
) -> None:
    message = row.message
    writes.sent.append(Sent(now, delivery.provider_id, message.id))
    report.sent += 1
    if row.enrollment_state != EnrollmentState.ACTIVE:
        return  # removed or exited while the message was in the outbox
    version = versions.get(message.sequence, message.version)
    enrolled = row.enrolled_at
    moves = moved_on(
        version,
        message.enrollment,
        next_index=version.after(row.step_index),
        done_at=now,
        enrolled_at=enrolled,
        contact_zone=row.contact_zone,
        place=versions.place(version, message.contact),
        kind="sent",
        step_id=message.step,
        detail=_sent_detail(row),
    )
    report.completed += moves[-1].state == EnrollmentState.COMPLETED
    writes.transitions.extend(moves)


def _sent_detail(row: Deliverable) -> str:
    """`email to ana@acme.test`; a WhatsApp template names itself (sent outside the window)."""
    message = row.message
    detail = f"{message.channel} to {message.to_address}"
    template = row.extra.get("template") if message.channel == "whatsapp" else None
    if isinstance(template, dict) and template.get("name"):
        detail += f" as template '{template['name']}' (outside the 24-hour window)"
    return detail


def _given_up(channels: ChannelSet, now: datetime, row: Deliverable) -> bool:
    """True once the message has been failing for longer than its channel retries."""
    since = row.message.failing_since
    return since is not None and now - since >= channels.retry_for(row.message.channel)


def _retry(
    channels: ChannelSet,
    now: datetime,
    row: Deliverable,
    delivery: Delivery,
    writes: _Writes,
    report: DeliveryReport,
) -> None:
    message = row.message
    name = channels.name_for(message.channel)
    if delivery.held:
        since = message.failing_since or now
        outage = min(max(now - since, FIRST_RETRY), LAST_RETRY)
        until = now + outage * _jitter(f"{message.idempotency_key}:held")
        until = max(until, report.next_try.get(name, until))
    else:
        until = now + retry_delay(message.attempts + 1, message.idempotency_key)
    if delivery.retry_after is not None:
        until = max(until, now + timedelta(seconds=delivery.retry_after))
    if not delivery.held:
        report.next_try[name] = max(until, report.next_try.get(name, until))
    writes.retry.append(
        Postponement(
            error=delivery.error,
            next_attempt_at=until,
            attempt=not delivery.held,
            message=message.id,
        )
    )
    writes.failing.append(FailingSince(at=now, message=message.id))
    report.retrying += 1
    # Out of the due set while its message waits to be tried again (a message sent straight
    # from the tick left its enrollment due).
    writes.transitions.append(at_message_step(row, "active", now, "retrying", delivery.error))


def _failed(
    channels: ChannelSet,
    now: datetime,
    row: Deliverable,
    delivery: Delivery,
    writes: _Writes,
    report: DeliveryReport,
) -> None:
    message = row.message
    error = str(delivery.error)
    tried = not delivery.held  # held: the server was left alone, the message never went
    if delivery.temporary:
        window = channels.retry_for_text(message.channel)
        tries = message.attempts + tried
        error += (
            f" (gave up after {tries} attempt{'s' if tries != 1 else ''} over {window})"
            if tries
            else f" (gave up: the server could not be reached in {window})"
        )
    writes.failed.append(_Failure(message.id, error, tried))
    report.failed += 1
    if row.enrollment_state != EnrollmentState.ACTIVE:
        return
    writes.transitions.append(at_message_step(row, "failed", now, "failed", error))
