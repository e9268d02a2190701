"""One run of the engine: send what waits in the outbox (oldest first: daily caps are first
in, first out), advance every enrollment due at `now` in batches, then send what is left."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from seqctl.engine.run.limits import Limits
from seqctl.engine.run.runtime import Versions
from seqctl.engine.run.stopping import StopRequest
from seqctl.errors import SeqctlError
from seqctl.store import Store
from seqctl.store.records import DueRow
from seqctl.store.states import EnrollmentState
from seqctl.timeutil import format_instant

if TYPE_CHECKING:
    from seqctl.channels import ChannelSet
    from seqctl.engine.outbox.delivery import DeliveryReport
    from seqctl.engine.outbox.failing import ChannelTrouble
    from seqctl.engine.outbox.inflight import InFlight
    from seqctl.engine.outbox.notify import DigestFailure

# The rendering, delivery and events machinery is imported when there is work: cron runs the
# tick every minute, and most minutes there is none.

BATCH_SIZE = 1000
# The first batch of a run is smaller: the channels' connections start sooner, and the next
# batch is made while they send it (see inflight).
FIRST_BATCH = 250
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
    suppressed: int = 0  # enrollments ended because the address opted out: nothing sent
    notified: int = 0  # owners sent a digest of what needs them
    resent: int = 0  # messages sent again after an unknown outcome (a tick killed mid-send)
    busy: str | None = None  # who held the lease when another tick was running
    stopped: str | None = None  # why it stopped before the end (a signal), if it did
    failing: list[ChannelTrouble] = field(default_factory=list)  # channels that are down
    digests_failed: list[DigestFailure] = field(default_factory=list)  # owners not told

    def add(self, delivered: DeliveryReport) -> None:
        self.sent += delivered.sent
        self.failed += delivered.failed
        self.deferred += delivered.deferred
        self.completed += delivered.completed
        self.suppressed += delivered.suppressed
        self.resent += delivered.resent

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int)}

    def add_counts(self, counts: Mapping[str, int]) -> None:
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        for optional in ("busy", "stopped"):
            if data[optional] is None:
                del data[optional]
        for name, troubles in (("failing", self.failing), ("digests_failed", self.digests_failed)):
            if troubles:
                data[name] = [trouble.as_json() for trouble in troubles]
            else:
                del data[name]
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
    stop: StopRequest | None = None,
    workers: int | None = None,
) -> TickReport:
    """Advance everything due at or before now; hold, send, or hand to people.

    A stop request is honoured between batches: what was sent is recorded, the rest waits for
    the next tick.
    """
    stop = stop or StopRequest()
    stamp = format_instant(now)
    assert stamp is not None
    report = TickReport(now=stamp)
    if dry_run:
        return _dry_run(store, now, limit, report)
    lease = Lease(f"{socket.gethostname()}:{os.getpid()}:{stamp}", now)
    capped = any((sender or {}).get("per_day") is not None for sender in (senders or {}).values())
    busy = store.start_run(lease.holder, now, now + LEASE, capped=capped)
    if busy is not None:
        report.busy = busy
        return report
    try:
        journals = store.journals()
        if journals is not None and journals.is_dir():  # a tick killed while it sent
            from seqctl.engine.outbox.journal import replay

            report.add(replay(store, channels, Versions(store), now, journals))
        if store.has_work(now):
            from seqctl.engine.incoming.events import resume_due
            from seqctl.engine.outbox.delivery import deliver, recover_in_flight
            from seqctl.engine.run import shards
            from seqctl.engine.run.bulk import collector_paused

            with store.only_one("resume") as mine:
                if mine:
                    resume_due(store, now)  # out-of-office pauses that have ended
            run = Run(channels, now, batch_size, senders or {}, lease, stop)

            def outbox() -> DeliveryReport:
                return deliver(
                    store,
                    channels,
                    Versions(store),
                    now,
                    batch_size=batch_size,
                    limits=Limits(store, senders or {}, now),
                    keep_alive=lambda: lease.renew(store),
                    stop=stop,
                )

            processes = shards.workers(store, now, limit, senders or {}, workers)
            with collector_paused():  # a tick makes no reference cycles; see bulk
                # What a dead tick left in flight is settled before anything new is sent.
                report.add(recover_in_flight(store, channels, Versions(store), now, stop))
                # Then what waits in the outbox (held by a daily cap, approved, to be retried),
                # oldest first: newly due messages never take a cap's slot before it.
                report.add(outbox())
                if processes > 1 and stop() is None:
                    channels.close()  # no connection or thread may cross the fork
                    for part in shards.run(store, processes, run.advance_shard, progress, stop):
                        report.add_counts(part)
                elif stop() is None:
                    run.advance(store, limit, report, progress)
                report.add(outbox())  # what this tick queued and did not send (rare)
        from seqctl.engine.outbox.failing import failing_channels

        report.failing = failing_channels(store, channels)
        if notifications and stop() is None:
            from seqctl.engine.outbox.notify import notify_owners

            with store.only_one("notify") as mine:  # one digest, however many workers
                if mine:
                    digests = notify_owners(store, channels, notifications, now)
                    report.notified, report.digests_failed = digests.sent, digests.failed

    finally:
        store.end_run(lease.holder)
    report.stopped = stop()
    return report


class Lease:
    """The tick's hold on the database, renewed between batches: a long tick is never taken
    for a dead one. Counted from `now` (which --now may set) plus the time really run."""

    def __init__(self, holder: str, now: datetime) -> None:
        self.holder = holder
        self.now = now
        self.started = time.monotonic()

    def renew(self, store: Store) -> None:
        elapsed = timedelta(seconds=time.monotonic() - self.started)
        if not store.renew_run(self.holder, self.now + elapsed + LEASE):
            raise SeqctlError(
                "another tick took over (this one ran past its lease); "
                "stopping without sending more"
            )


@dataclass
class Run:
    """What every batch of one tick shares, in this process or in a shard's."""

    channels: ChannelSet
    now: datetime
    batch_size: int
    senders: Mapping[str, Any]
    lease: Lease
    stop: StopRequest

    def advance(
        self,
        store: Store,
        limit: int | None,
        report: TickReport,
        progress: Callable[[int], None] | None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        """Advance what is due (this shard's share of it), batch by batch."""
        from seqctl.engine.outbox.delivery import DeliveryReport
        from seqctl.engine.outbox.inflight import InFlight

        versions = Versions(store)
        delivered = DeliveryReport()
        part = f"shard{shard[0]}" if shard is not None else "main"
        in_flight = InFlight(store, self.channels, versions, self.now, delivered, self.stop, part)
        with store.unchecked_references():
            try:
                _advance_all(
                    store,
                    self.channels,
                    versions,
                    Limits(store, self.senders, self.now),
                    self.now,
                    limit,
                    self.batch_size,
                    report,
                    progress,
                    lambda: self.lease.renew(store),
                    self.stop,
                    in_flight,
                    shard,
                )
                in_flight.finish()
            finally:
                in_flight.close()
        report.add(delivered)

    def advance_shard(
        self, store: Store, shard: tuple[int, int], progress: Callable[[int], None]
    ) -> dict[str, int]:
        """One process's share: its counts, to be added up."""
        report = TickReport(now=format_instant(self.now) or "")
        try:
            self.advance(store, None, report, progress, shard)
        finally:
            self.channels.close()  # this process's own connections, opened after the fork
        return report.counts()


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
    keep_alive: Callable[[], None],
    stop: StopRequest,
    in_flight: InFlight,
    shard: tuple[int, int] | None = None,
) -> None:
    """Batch after batch: each is made while the messages of the one before are on their way
    (see inflight), at most one batch ahead of the channels' connections."""
    from seqctl.engine.incoming.engagement import engagement
    from seqctl.engine.outbox.routing import auto_suppression_keys
    from seqctl.engine.run.batch import Batch
    from seqctl.engine.run.gates import AutoApproval, Suppressions, needs_engagement
    from seqctl.engine.run.steps import DueEnrollment, decide

    # Enrollments due again within this tick (steps with no wait): counted to stop branch loops.
    # Only those are kept, so memory does not grow with the number due.
    chained: dict[int, int] = {}
    approvals = AutoApproval(store, now)
    suppressions = Suppressions(store)
    while (limit is None or report.due < limit) and stop() is None:
        size = batch_size if report.due else min(batch_size, FIRST_BATCH)
        if limit is not None:
            size = min(size, limit - report.due)
        rows = store.due(now, size, shard, in_flight.enrollments())
        if not rows:
            if not in_flight:
                return
            in_flight.wait(0)  # a message sent may make its enrollment due again at once
            continue
        batch = Batch(now, approvals, limits, channels.knows_delivered)
        for row in rows:
            in_flight.record_ready()  # each connection waits for its last report to be written
            due = DueEnrollment.from_due(row)
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
                    engagement(
                        store,
                        due.contact,
                        due.sequence,
                        due.enrolled_at,
                        now,
                        auto_suppression_keys(version.model.definition, step, due.contact_fields)
                        if suppressions.checker.active
                        else (),
                    )
                    if needs_engagement(step)
                    else None
                )
                outcome = decide(version, due, now, seen)
                blocked = suppressions.check(due, outcome)
                if blocked is None:
                    batch.add(version, due, outcome)
                else:  # never sent, and not tried again: the enrollment ends here
                    batch.exit(due, "suppressed", blocked, step.id)
        for transition in batch.transitions:
            if transition.next_due_at is not None and transition.next_due_at <= now:
                chained[transition.enrollment] = chained.get(transition.enrollment, 0) + 1
        # Read before taking the write lock (shards take turns holding it): under the tick's
        # lease nothing else finishes messages that are due again.
        batch.rekey_revisits(store.finished_keys([m.idempotency_key for m in batch.messages]))
        with store.transaction():
            keep_alive()  # first: a tick whose lease was taken over writes nothing more
            batch.drop(_moved_since_read(store, rows))
            ids = store.add_messages(batch.messages)
            batch.park_known(ids)
            store.add_actions(batch.actions)
            store.advance(batch.transitions)
        report.due += len(rows) - len(batch.dropped)
        report.actions += len(batch.actions)
        report.approvals += batch.approvals
        report.failed += batch.failed
        report.deferred += batch.deferred
        completed = EnrollmentState.COMPLETED
        report.completed += sum(1 for t in batch.transitions if t.state == completed)
        report.suppressed += sum(1 for t in batch.transitions if t.reason == "suppressed")
        if batch.sending:
            in_flight.send(batch.deliverables(ids))
            in_flight.wait(batch_size)  # the next batch is made while this one goes out
        if progress is not None:
            progress(len(rows))


def _moved_since_read(store: Store, rows: list[DueRow]) -> set[int]:
    """Enrollments of a batch no longer where its unlocked read found them.

    Called under the write lock: a reply, a removal or a pause that came in while the batch
    was being rendered wins, and those enrollments are left as they are.
    """
    now_at = store.enrollment_positions([row.id for row in rows])
    moved = set()
    for row in rows:
        position = now_at.get(row.id)
        if (
            position is None
            or position.state != EnrollmentState.ACTIVE
            or position.step != row.step
            or position.next_due_at != row.next_due_at
        ):
            moved.add(row.id)
    return moved


def _dry_run(store: Store, now: datetime, limit: int | None, report: TickReport) -> TickReport:
    """What a tick would do now, without writing: one pass over what is due."""
    from seqctl.engine.incoming.engagement import engagement
    from seqctl.engine.run.gates import needs_approval, needs_engagement
    from seqctl.engine.run.steps import DueEnrollment, Kind, decide

    versions = Versions(store)
    for row in store.due(now, limit if limit is not None else -1):
        due = DueEnrollment.from_due(row)
        version = versions.get(due.sequence, due.version)
        if due.step >= len(version.steps):  # moved past its last step: the tick completes it
            report.due += 1
            report.completed += 1
            continue
        step = version.steps[due.step]
        # What the contact did, as the tick reads it: a branch, WhatsApp's window, channel auto.
        seen = (
            engagement(store, due.contact, due.sequence, due.enrolled_at, now)
            if needs_engagement(step)
            else None
        )
        outcome = decide(version, due, now, seen)
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
