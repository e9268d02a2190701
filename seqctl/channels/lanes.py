"""Several connections at once, each sending one message at a time, each outcome recorded
before its connection starts the next message.

A lane is one connection (SMTP) or one set of kept-alive connections (webhooks), driven by a
thread of its own. Lanes stay open for the whole tick (`Lanes.close` at its end) and are
lent to the threads of each `run`. The threads never touch the database: they hand what they
know (a message they are about to transmit, an outcome) to the caller's thread through a
queue, and wait until the caller has recorded it. So a tick killed at any moment has at most
one message per lane whose outcome is not recorded, and the caller groups whatever the lanes
reported meanwhile into one short transaction instead of waiting for a batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from seqctl.channels.base import Delivery, Outgoing, Progress

JOIN_SECONDS = 5.0  # how long an abandoned run waits for its threads before leaving them
WAKE_SECONDS = 0.2


class Lane(Protocol):
    def open(self) -> str | None:
        """Be ready to send (connect, if that is how it works); why not, if it cannot."""
        ...

    def held(self, message: Outgoing) -> Delivery | None:
        """The outcome at once, without sending, when the message cannot go now (its
        server's breaker has tripped); None to send it."""
        ...

    def send(self, message: Outgoing) -> Delivery:
        """Transmit one message and say what happened (never raises for a network error)."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _Report:
    started: list[int]
    done: list[Delivery]
    recorded: threading.Event = field(default_factory=threading.Event)


_FINISHED = None  # what a thread puts on the queue last


class _Run:
    """What the threads of one `run` share: the messages not taken yet and the report queue."""

    def __init__(self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None) -> None:
        self.messages = messages
        self.halt = halt
        self._next = 0
        self._taken = threading.Lock()
        self._lock = threading.Lock()
        self.reports: queue.SimpleQueue[_Report | None] = queue.SimpleQueue()
        self.abandoned = False
        self.retired: list[str] = []  # why lanes gave up before sending (a server's limit)
        self.failure: BaseException | None = None  # a lane's unexpected error

    def take(self) -> Outgoing | None:
        if self.halt is not None and self.halt():
            return None
        with self._taken:
            if self._next >= len(self.messages):
                return None
            message = self.messages[self._next]
            self._next += 1
            return message

    def leftover(self) -> list[Outgoing]:
        """Messages no lane took (not for a halt): every lane gave up before sending."""
        if self.abandoned or (self.halt is not None and self.halt()):
            return []
        with self._taken:
            left, self._next = list(self.messages[self._next :]), len(self.messages)
        return left

    def submit(self, report: _Report) -> bool:
        """Hand a report to the caller and wait until it is recorded; False once abandoned."""
        with self._lock:
            if self.abandoned:
                return False
            self.reports.put(report)
        report.recorded.wait()
        return not self.abandoned

    def finished(self) -> None:
        self.reports.put(_FINISHED)

    def abandon(self) -> None:
        """The caller stopped reading (an error, a second Ctrl-C): no thread waits for it, and
        none starts another message."""
        with self._lock:
            self.abandoned = True
            self._next = len(self.messages)
        while True:
            try:
                report = self.reports.get_nowait()
            except queue.Empty:
                return
            if report is not None:
                report.recorded.set()


class Lanes:
    """Up to `size` lanes made by `make`, kept open between runs until `close`."""

    def __init__(self, name: str, size: int, make: Callable[[], Lane]) -> None:
        self.name = name
        self.size = max(1, size)
        self.make = make
        self._idle: list[Lane] = []
        self._lock = threading.Lock()

    def run(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        """Send `messages` over the lanes; yield what is known, a few at a time.

        The caller must record each Progress before asking for the next: the lanes that
        reported in it wait until then.
        """
        if not messages:
            return
        shared = _Run(messages, halt)
        threads = [
            threading.Thread(
                target=self._work, args=(shared,), name=f"seqctl-{self.name}-{n}", daemon=True
            )
            for n in range(min(self.size, len(messages)))
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        reports: list[_Report] = []
        try:
            while running:
                reports = []
                try:  # a timeout, so a signal's handler runs while the lanes are busy
                    item = shared.reports.get(timeout=WAKE_SECONDS)
                except queue.Empty:
                    continue
                while True:
                    if item is None:
                        running -= 1
                    else:
                        reports.append(item)
                    try:
                        item = shared.reports.get_nowait()
                    except queue.Empty:
                        break
                if not reports:
                    continue
                yield Progress(
                    [i for r in reports for i in r.started], [d for r in reports for d in r.done]
                )
                for report in reports:
                    report.recorded.set()
            if shared.failure is not None:
                raise shared.failure
            left = shared.leftover()
            if left:  # every lane gave up before sending (none should, but none is lost)
                why = shared.retired[-1] if shared.retired else "no connection could be made"
                yield Progress(
                    [], [Delivery(m.id, error=why, temporary=True, held=True) for m in left]
                )
        finally:
            if running:
                shared.abandon()
                for report in reports:  # handed out, not recorded: their lanes stop
                    report.recorded.set()
                for thread in threads:
                    thread.join(JOIN_SECONDS)

    def _work(self, shared: _Run) -> None:
        lane = self._lend()
        healthy = False
        try:
            why = lane.open()
            if why is not None:
                shared.retired.append(why)
                return
            done: list[Delivery] = []
            while True:
                message = shared.take()
                if message is not None:
                    held = lane.held(message)
                    if held is not None:
                        done.append(held)  # no connection needed: reported with the next
                        continue
                started = [message.id] if message is not None else []
                if (started or done) and not shared.submit(_Report(started, done)):
                    return
                if message is None:
                    healthy = True
                    return
                done = [lane.send(message)]
        except BaseException as exc:  # a bug: raised again in the caller's thread
            shared.failure = exc
        finally:
            self._give_back(lane, healthy)
            shared.finished()

    def _lend(self) -> Lane:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.make()

    def _give_back(self, lane: Lane, healthy: bool) -> None:
        if not healthy:
            lane.close()
            return
        with self._lock:
            self._idle.append(lane)

    def close(self) -> None:
        """Close the lanes kept open (at the end of a tick)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for lane in idle:
            lane.close()
