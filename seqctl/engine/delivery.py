"""Deliver the outbox: queued messages go out through their channel, then their step is done.

A message is a row before it is sent. A batch is marked `sending` in one transaction, handed to
the channel, then marked `sent` (and its enrollment moved on) in another. A tick that dies in
between leaves `sending` rows: the next run asks the channel which of them it already has (the
file channel looks in its outbox) and sends only the others, with the same idempotency key.
Temporary failures are retried later with exponential backoff; daily caps defer, never drop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from seqctl.channels import ChannelSet, Delivery, Outgoing
from seqctl.engine.advance import moved_on
from seqctl.engine.attachments import send_checked
from seqctl.engine.limits import Limits
from seqctl.engine.runtime import Versions
from seqctl.engine.tracking import instrument
from seqctl.schedule import open_at
from seqctl.store import Store
from seqctl.store.records import Deliverable, Transition
from seqctl.timeutil import format_instant, from_db

MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    deferred: int = 0
    completed: int = 0


def retry_delay(attempt: int, key: str) -> timedelta:
    """Exponential backoff (1, 2, 4, ... minutes, at most an hour) with +/-20% jitter.

    The jitter comes from the message's key, so retries of many messages spread out while a
    replay of the same tick computes the same times.
    """
    base = min(FIRST_RETRY * (2 ** max(attempt - 1, 0)), LAST_RETRY)
    spread = int(hashlib.sha256(f"{key}:{attempt}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return base * (0.8 + 0.4 * spread)


def deliver(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    *,
    senders: Mapping[str, Any] | None = None,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
    keep_alive: Callable[[], None] | None = None,
    stop: Callable[[], str | None] | None = None,
) -> DeliveryReport:
    """Send every queued message whose time has come (and recover those left in flight)."""
    report = DeliveryReport()
    stamp = format_instant(now) or ""
    caps = limits or Limits(store, senders or {}, now)
    _recover_in_flight(store, channels, versions, now, report)
    while (stop is None or stop() is None) and (batch := store.deliverable(batch_size, now=stamp)):
        allowed, later = [], []
        for row in batch:
            version = versions.get(row.message.sequence, row.message.version)
            held = caps.admit(version, row.sender)
            if held is None:
                allowed.append(row)
                continue
            reason, frees = held
            until = open_at(frees, version.calendar(row.contact_zone))
            later.append((reason, format_instant(until) or stamp, False, row.message.id))
        with store.transaction():
            store.postpone(later)
            store.set_message_status([row.message.id for row in allowed], "sending")
        report.deferred += len(later)
        send_batch(store, channels, versions, now, allowed, report)
        if progress is not None:
            progress(len(batch))
        if keep_alive is not None:
            keep_alive()
    return report


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
        send_batch(store, channels, versions, now, again, report)


def send_batch(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    batch: list[Deliverable],
    report: DeliveryReport,
) -> None:
    """Hand messages marked `sending` to their channels and record what happened."""
    sent_at = format_instant(now) or ""
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
                _tracked(channels, r.message.id, _with_attachments(store, r.extra)),
            )
            for r in rows
        ]
        _record(store, versions, now, rows, send_checked(channel, outgoing), report)


def _tracked(channels: ChannelSet, message_id: int, extra: dict[str, Any]) -> dict[str, Any]:
    """HTML with a tracking pixel and links through the receiver. The stored HTML stays as it
    was written: the receiver redirects a click to the n-th link of that original."""
    settings = channels.tracking
    html = extra.get("html")
    if settings is None or not isinstance(html, str):
        return extra
    instrumented = instrument(
        html, message_id=message_id, base_url=settings.base_url, secret=settings.secret
    )
    return {**extra, "html": instrumented}


def _with_attachments(store: Store, extra: dict[str, Any]) -> dict[str, Any]:
    """Attachments named in a message, with their bytes from the database."""
    if not extra.get("attachments"):
        return extra
    files = []
    for item in extra["attachments"]:
        data = store.attachment(item["sha256"]) if "sha256" in item else None
        files.append({**item, "data": data} if data is not None else item)
    return {**extra, "attachments": files}


def _record(
    store: Store,
    versions: Versions,
    now: datetime,
    rows: list[Deliverable],
    deliveries: list[Delivery],
    report: DeliveryReport,
) -> None:
    at = format_instant(now) or ""
    sent: list[tuple[str, str | None, int]] = []
    transitions: list[Transition] = []
    retry: list[tuple[str | None, str, bool, int]] = []
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
                next_index=version.after(row.step_index),
                done_at=now,
                enrolled_at=enrolled,
                contact_zone=row.contact_zone,
                kind="sent",
                step_id=message.step,
                detail=f"{message.channel} to {message.to_address}",
            )
            report.completed += moves[-1].state == "completed"
            transitions.extend(moves)
        elif delivery.temporary and message.attempts + 1 < MAX_ATTEMPTS:
            until = now + retry_delay(message.attempts + 1, message.idempotency_key)
            retry.append((delivery.error, format_instant(until) or at, True, message.id))
            report.retrying += 1
            # Out of the due set while its message waits to be tried again (a message sent
            # straight from the tick left its enrollment due).
            transitions.append(
                Transition(
                    message.enrollment,
                    "active",
                    row.step_index,
                    row.anchor_at,
                    None,
                    None,
                    at,
                    "retrying",
                    message.step,
                    delivery.error,
                )
            )
        else:
            error = str(delivery.error)
            if delivery.temporary:
                error = f"{error} (gave up after {MAX_ATTEMPTS} attempts)"
            failed.append((message.id, error))
            report.failed += 1
            if row.enrollment_state != "active":
                continue
            transitions.append(
                Transition(
                    message.enrollment,
                    "failed",
                    row.step_index,
                    row.anchor_at,
                    None,
                    f"step '{message.step}': {error}",
                    at,
                    "failed",
                    message.step,
                    error,
                )
            )
    with store.transaction():
        store.mark_sent(sent)
        store.postpone(retry)
        for message_id, error in failed:
            store.set_message_status([message_id], "failed", error=error, attempt=True)
        # Read again under the write lock: a reply, a removal or a pause that came in while the
        # message was on its way wins over moving the enrollment on.
        states = store.enrollment_states([t.enrollment for t in transitions])
        store.advance([t for t in transitions if states.get(t.enrollment) == "active"])
