"""Deliver the outbox: queued messages go out through their channel, then their step is done.

A message is a row before it is sent. A batch is marked `sending` in one transaction, handed to
the channel, then marked `sent` (and its enrollment moved on) in another. A tick that dies in
between leaves `sending` rows: the next run asks the channel which of them it already has (the
file channel looks in its outbox) and sends only the others, with the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from seqctl.channels import ChannelSet, Delivery, Outgoing
from seqctl.engine.advance import moved_on
from seqctl.engine.runtime import Versions
from seqctl.store import Store
from seqctl.store.records import Deliverable, Transition
from seqctl.timeutil import format_instant, from_db

MAX_ATTEMPTS = 5


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    completed: int = 0


def deliver(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> DeliveryReport:
    """Send every queued message (and recover those left in flight); move their steps on."""
    report = DeliveryReport()
    _recover_in_flight(store, channels, versions, now, report)
    while True:
        batch = store.deliverable(batch_size)
        if not batch:
            return report
        ids = [row.message.id for row in batch]
        with store.transaction():
            store.set_message_status(ids, "sending")
        _send(store, channels, versions, now, batch, report)
        if progress is not None:
            progress(len(batch))


def _recover_in_flight(
    store: Store, channels: ChannelSet, versions: Versions, now: datetime, report: DeliveryReport
) -> None:
    in_flight = store.deliverable(None, status="sending")
    if not in_flight:
        return
    by_channel: dict[str, set[str]] = {}
    for row in in_flight:
        by_channel.setdefault(row.message.channel, set()).add(row.message.idempotency_key)
    done: set[str] = set()
    for channel, keys in by_channel.items():
        done |= channels.for_type(channel).delivered(keys)
    already = [r for r in in_flight if r.message.idempotency_key in done]
    if already:
        _record(
            store,
            versions,
            now,
            already,
            [Delivery(r.message.id, provider_id=r.message.idempotency_key) for r in already],
            report,
        )
    again = [r for r in in_flight if r.message.idempotency_key not in done]
    if again:
        _send(store, channels, versions, now, again, report)


def _send(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    batch: list[Deliverable],
    report: DeliveryReport,
) -> None:
    sent_at = format_instant(now)
    assert sent_at is not None
    by_channel: dict[str, list[Deliverable]] = {}
    for row in batch:
        by_channel.setdefault(row.message.channel, []).append(row)
    for channel_name, rows in by_channel.items():
        channel = channels.for_type(channel_name)
        outgoing = [
            Outgoing(
                r.message.id,
                r.message.idempotency_key,
                r.message.sequence,
                r.message.version,
                r.message.step,
                r.message.contact,
                r.message.channel,
                r.message.to_address,
                r.message.subject,
                r.message.body,
                sent_at,
                r.extra,
            )
            for r in rows
        ]
        _record(store, versions, now, rows, channel.send(outgoing), report)


def _record(
    store: Store,
    versions: Versions,
    now: datetime,
    rows: list[Deliverable],
    deliveries: list[Delivery],
    report: DeliveryReport,
) -> None:
    at = format_instant(now)
    assert at is not None
    sent: list[tuple[str, str | None, int]] = []
    transitions: list[Transition] = []
    retry: list[tuple[int, str]] = []
    failed: list[tuple[int, str]] = []
    for row, delivery in zip(rows, deliveries, strict=True):
        message = row.message
        if delivery.ok:
            sent.append((at, delivery.provider_id, message.id))
            report.sent += 1
            if row.enrollment_state != "active":
                continue  # removed or exited while the message was in the outbox
            version = versions.get(message.sequence, message.version)
            enrolled = from_db(row.enrolled_at)
            assert enrolled is not None
            moves = moved_on(
                version,
                message.enrollment,
                next_index=row.step_index + 1,
                done_at=now,
                enrolled_at=enrolled,
                contact_zone=row.contact_zone,
                kind="sent",
                step_id=message.step,
                detail=f"{message.channel} to {message.to_address}",
            )
            report.completed += sum(1 for t in moves if t.state == "completed")
            transitions.extend(moves)
        elif delivery.temporary and message.attempts + 1 < MAX_ATTEMPTS:
            retry.append((message.id, str(delivery.error)))
            report.retrying += 1
        else:
            failed.append((message.id, str(delivery.error)))
            report.failed += 1
            transitions.append(
                Transition(
                    message.enrollment,
                    "failed",
                    row.step_index,
                    row.anchor_at,
                    None,
                    f"step '{message.step}': {delivery.error}",
                    at,
                    "failed",
                    message.step,
                    delivery.error,
                )
            )
    with store.transaction():
        store.mark_sent(sent)
        for message_id, error in retry:
            store.set_message_status([message_id], "queued", error=error, attempt=True)
        for message_id, error in failed:
            store.set_message_status([message_id], "failed", error=error, attempt=True)
        store.apply(transitions)
