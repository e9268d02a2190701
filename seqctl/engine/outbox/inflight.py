"""Messages on their way out: handed to their channels batch after batch, each outcome recorded
as soon as the channel knows it.

A channel with connections of its own (SMTP, webhooks) takes a batch's messages while the tick
makes the next batch, so its connections do not sit idle while a batch is rendered, nor while
the last slow replies of a batch come in. Each connection waits for its last report to be
recorded before it starts its next message (or, with a database file, to be kept in a journal
beside it: see journal), so the tick records what they report between the rows it renders
(`record_ready`): the database stays on the tick's own thread, and a tick killed at any moment
still leaves at most one message per connection in flight. The next batches leave alone the
enrollments whose message is out (`enrollments`) until its outcome is recorded. A channel that
takes whole batches (the file) sends each one at once, as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from seqctl.channels import ChannelSet, Flow, Outgoing, Progress, Streaming
from seqctl.engine.messages.tracking import instrument
from seqctl.engine.outbox.attachments import send_checked, split_refused
from seqctl.engine.outbox.journal import Journal, mark_name
from seqctl.engine.outbox.outcomes import DeliveryReport, record
from seqctl.engine.run.runtime import Versions
from seqctl.store import Store
from seqctl.store.records import Deliverable
from seqctl.timeutil import format_instant

WAKE_SECONDS = 0.2  # the longest wait for a report, so a signal's handler runs meanwhile
POLL_SECONDS = 0.002  # with several channels out at once, how often each is looked at


class InFlight:
    """The messages of a tick handed to their channels whose outcome is not recorded yet.

    Use `close` in a `finally`: after an error, the connections stop taking messages.
    """

    def __init__(
        self,
        store: Store,
        channels: ChannelSet,
        versions: Versions,
        now: datetime,
        report: DeliveryReport,
        stop: Callable[[], str | None] | None = None,
        part: str = "main",
    ) -> None:
        self.store = store
        self.part = part  # which process of the tick: the shards each keep their journals
        self.channels = channels
        self.versions = versions
        self.now = now
        self.report = report
        self.halt = (lambda: stop() is not None) if stop is not None else None
        self.sent_at = format_instant(now) or ""
        self._flows: dict[str, Flow] = {}  # by channel name
        self._journals: dict[str, Journal] = {}  # by channel name, when the store keeps them
        self._rows: dict[int, Deliverable] = {}  # by message id
        self._enrollments: dict[int, int] = {}  # messages out, by enrollment

    def __len__(self) -> int:
        return len(self._rows)

    def enrollments(self) -> Collection[int]:
        """Enrollments with a message out: a batch made now leaves them alone."""
        return self._enrollments.keys()

    def send(self, rows: list[Deliverable]) -> None:
        """Hand messages to their channels: to the connections of those that have some, to be
        sent while the caller goes on; to the others (the file) now, recorded on return."""
        by_channel: dict[str, list[Deliverable]] = {}
        for row in rows:
            by_channel.setdefault(row.message.channel, []).append(row)
        for message_type, group in by_channel.items():
            channel = self.channels.for_type(message_type)
            outgoing = [self._outgoing(row) for row in group]
            by_id = {row.message.id: row for row in group}
            if not isinstance(channel, Streaming):
                for progress in send_checked(channel, outgoing, self.halt):
                    self._write(progress, by_id)
                continue
            allowed, refused = split_refused(outgoing)
            if refused:
                self._write(Progress(done=refused), by_id)
            for message in allowed:
                row = by_id[message.id]
                self._rows[message.id] = row
                enrollment = row.message.enrollment
                self._enrollments[enrollment] = self._enrollments.get(enrollment, 0) + 1
            name = self.channels.name_for(message_type)
            flow = self._flows.get(name)
            if flow is None:
                folder = self.store.journals()
                journal = None
                if folder is not None:
                    journal = Journal(folder, mark_name(self.part, name), self.now)
                    self._journals[name] = journal
                flow = self._flows[name] = channel.flow(self.halt, journal)
            flow.put(allowed)

    def record_ready(self) -> None:
        """Record what the connections have reported, without waiting (cheap when nothing
        has come: called between the rows of a batch)."""
        for name, flow in self._flows.items():
            if flow.ready():
                self._collect(name, 0.0)

    def wait(self, most: int) -> None:
        """Record outcomes as they come until at most `most` messages are out (or none will
        be answered: the connections stopped for a halt, and the rest stay queued)."""
        while len(self._rows) > most:
            names = list(self._flows)
            if all(self._flows[name].finished for name in names):
                self._forget_unanswered()
                return
            if len(names) == 1:
                self._collect(names[0], WAKE_SECONDS)
                continue
            for name in names:  # none of them may wait long on another
                self._collect(name, POLL_SECONDS)

    def finish(self) -> None:
        """Wait for every message handed over, recording as outcomes come; the connections
        are then free for the next use."""
        self.wait(0)
        for flow in self._flows.values():
            flow.end()
        while not all(flow.finished for flow in self._flows.values()):
            for name, flow in self._flows.items():
                if not flow.finished:
                    self._collect(name, POLL_SECONDS if len(self._flows) > 1 else WAKE_SECONDS)
        self._forget_unanswered()
        self._flows.clear()
        journals, self._journals = list(self._journals.values()), {}
        for journal in journals:  # every report in them is recorded
            journal.close(keep=False)

    def close(self) -> None:
        """Stop every connection still at work (after an error: nothing more is recorded)."""
        flows, self._flows = list(self._flows.values()), {}
        for flow in flows:
            if not flow.finished:
                flow.abandon()
        self._forget_unanswered()
        journals, self._journals = list(self._journals.values()), {}
        for journal in journals:  # the next tick records what they hold and this one did not
            journal.close(keep=True)

    def _collect(self, name: str, timeout: float) -> None:
        flow = self._flows[name]
        progress = flow.collect(timeout)
        if progress is None:
            return
        journal = self._journals.get(name)
        mark = None
        if journal is not None and progress.journaled:
            mark = journal.recorded(progress.journaled)
        self._write(progress, self._rows, mark)
        flow.recorded()
        for delivery in progress.done:
            row = self._rows.pop(delivery.message_id, None)
            if row is None:
                continue
            enrollment = row.message.enrollment
            left = self._enrollments.pop(enrollment) - 1
            if left:
                self._enrollments[enrollment] = left

    def _write(
        self,
        progress: Progress,
        rows: dict[int, Deliverable],
        mark: tuple[str, str] | None = None,
    ) -> None:
        record(
            self.store, self.channels, self.versions, self.now, progress, rows, self.report, mark
        )

    def _forget_unanswered(self) -> None:
        """Messages left unstarted by a halt: they stay queued for the next tick."""
        self._rows.clear()
        self._enrollments.clear()

    def _outgoing(self, row: Deliverable) -> Outgoing:
        m = row.message
        return Outgoing(
            m.id,
            m.idempotency_key,
            m.sequence,
            m.version,
            m.step,
            m.contact,
            m.channel,
            m.to_address,
            m.subject,
            m.body,
            self.sent_at,
            _tracked(self.channels, m.id, _with_attachments(self.store, row.extra)),
        )


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
