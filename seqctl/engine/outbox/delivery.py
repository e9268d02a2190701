"""Deliver the outbox: queued messages go out through their channel, then their step is done.

A message is a row before it is sent, and its outcome is recorded as soon as the channel
knows it (see outcomes). A channel that cannot be asked what it got (SMTP, webhooks) marks a
message `sending` as a connection starts it, and each connection waits for its last outcome
to be recorded before it starts the next: a tick killed at any moment leaves at most one
message per connection in flight. The next tick settles those before it sends anything new:
they go again with the same idempotency key, and `messages` counts them as resent (a kill
during that repeats only what was in flight then, not the whole set). The file channel takes
whole batches marked `sending`; after a crash it says which of them its outbox has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from seqctl.channels import ChannelSet, Delivery, Progress
from seqctl.engine.incoming.suppression import hold_back
from seqctl.engine.outbox import whatsapp
from seqctl.engine.outbox.inflight import InFlight
from seqctl.engine.outbox.outcomes import DeliveryReport, record, retry_delay
from seqctl.engine.run.limits import Limits
from seqctl.engine.run.runtime import Versions
from seqctl.schedule import open_at
from seqctl.store import Store
from seqctl.store.records import Deliverable, Postponement

__all__ = ["DeliveryReport", "deliver", "recover_in_flight", "retry_delay", "send_batch"]

UNKNOWN_OUTCOME = "outcome unknown (the tick stopped while it was being sent): sent again"

Stop = Callable[[], str | None]


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
    stop: Stop | None = None,
) -> DeliveryReport:
    """Send every queued message whose time has come, batch after batch: each is read while
    the one before is on its way (see inflight)."""
    report = DeliveryReport()
    caps = limits or Limits(store, senders or {}, now)
    in_flight = InFlight(store, channels, versions, now, report, stop)
    last = 0  # each message once: one postponed here is not due again in this tick anyway
    try:
        while (stop is None or stop() is None) and (
            batch := store.deliverable(batch_size, now=now, after=last)
        ):
            last = batch[-1].message.id
            allowed: list[Deliverable] = []
            later: list[Postponement] = []
            kept = hold_back(store, batch, now)  # suppressed meanwhile: cancelled, not sent
            report.suppressed += len(batch) - len(kept)
            for row in kept:
                in_flight.record_ready()  # each connection waits for its last report
                version = versions.get(row.message.sequence, row.message.version)
                held = caps.admit(version, row.sender)
                if held is None:
                    allowed.append(row)
                    continue
                reason, frees = held
                calendar = version.calendar(
                    row.contact_zone, versions.place(version, row.message.contact)
                )
                until = open_at(frees, calendar)
                later.append(
                    Postponement(
                        error=reason, next_attempt_at=until, attempt=False, message=row.message.id
                    )
                )
            # WhatsApp free text whose window closed meanwhile: its template, or failed. After
            # the caps: a message they hold back is judged again when it does leave.
            allowed, failed = whatsapp.leaving(store, versions, now, allowed)
            report.failed += failed
            with store.transaction():
                store.postpone(later)
                store.set_message_status(
                    [r.message.id for r in allowed if channels.knows_delivered(r.message.channel)],
                    "sending",
                )
            report.deferred += len(later)
            in_flight.send(allowed)
            in_flight.wait(batch_size)  # the next batch is read while this one goes out
            if progress is not None:
                progress(len(batch))
            if keep_alive is not None:
                keep_alive()
        in_flight.finish()
    finally:
        in_flight.close()
    return report


def recover_in_flight(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    stop: Stop | None = None,
) -> DeliveryReport:
    """Settle the messages a dead tick left `sending`, before anything new is sent."""
    report = DeliveryReport()
    in_flight = store.deliverable(None, status="sending")
    if not in_flight:
        return report
    asked = [r for r in in_flight if channels.knows_delivered(r.message.channel)]
    unknown = [r for r in in_flight if not channels.knows_delivered(r.message.channel)]
    if unknown:
        # Queued again, one by one as the others: a kill now repeats only those in flight.
        with store.transaction():
            store.requeue_in_flight([r.message.id for r in unknown], UNKNOWN_OUTCOME)
        report.resent += len(unknown)
    by_channel: dict[str, set[str]] = {}
    for row in asked:
        by_channel.setdefault(row.message.channel, set()).add(row.message.idempotency_key)
    done: set[str] = set()
    for channel, keys in by_channel.items():
        done |= channels.for_type(channel).delivered(keys)
    already = [r for r in asked if r.message.idempotency_key in done]
    if already:
        record(
            store,
            channels,
            versions,
            now,
            Progress(
                [], [Delivery(r.message.id, provider_id=r.message.idempotency_key) for r in already]
            ),
            {r.message.id: r for r in already},
            report,
        )
    again = [r for r in asked if r.message.idempotency_key not in done] + unknown
    # Sent again only to an address still allowed: one that opted out meanwhile is cancelled.
    leaving = hold_back(store, again, now)
    report.suppressed += len(again) - len(leaving)
    again, failed = whatsapp.leaving(store, versions, now, leaving)  # judged as it leaves again
    report.failed += failed
    if again:
        send_batch(store, channels, versions, now, again, report, stop)
    return report


def send_batch(
    store: Store,
    channels: ChannelSet,
    versions: Versions,
    now: datetime,
    batch: list[Deliverable],
    report: DeliveryReport,
    stop: Stop | None = None,
) -> None:
    """Hand messages to their channels and record what happens as it happens, until all are
    answered.

    Messages of a channel that knows what it got were marked `sending` before; the others are
    marked as their connection starts them. Once `stop` says so, no connection starts another
    message: those not started stay queued for the next tick.
    """
    in_flight = InFlight(store, channels, versions, now, report, stop)
    try:
        in_flight.send(batch)
        in_flight.finish()
    finally:
        in_flight.close()
