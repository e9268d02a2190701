"""Several connections at once, each sending one message at a time, each outcome recorded
before its connection starts the next message.

A lane is one connection (SMTP) or one set of kept-alive connections (webhooks), driven by a
thread of its own. Lanes stay open for the whole tick (`Lanes.close` at its end) and are
lent to the threads of each flow. A flow takes messages as the caller makes them (`put`),
batch after batch, so the connections never sit idle while the next batch is being made; the
threads wait for more until the caller says there is none (`end`).

The threads never touch the database: they hand what they know (a message they are about to
transmit, an outcome) to the caller's thread through a queue, and wait until the caller has
recorded it. So a tick killed at any moment has at most one message per lane whose outcome is
not recorded, and the caller groups whatever the lanes reported meanwhile into one short
transaction instead of waiting for a batch. When the caller keeps a journal, a thread appends
its report to it instead of waiting (the caller still records every report, and replays the
journal after a kill): the bound is the same, without a round trip through the caller's
thread for every message.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from seqctl.channels.base import Delivery, Journal, Outgoing, Progress

JOIN_SECONDS = 5.0  # how long an abandoned flow waits for its threads before leaving them
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
    journaled: int = 0


class LaneFlow:
    """One run of a channel's lanes over messages handed to them as they are made.

    The caller's side: `put` messages, `collect` what the lanes know and record it, then say
    so (`recorded`), and `end` when no more will come; `finished` once every message put is
    answered (or left unstarted by a halt). `abandon` when the caller stops reading.
    """

    def __init__(
        self, lanes: Lanes, halt: Callable[[], bool] | None, journal: Journal | None = None
    ) -> None:
        self._lanes = lanes
        self.halt = halt
        self._journal = journal
        self._waiting: deque[Outgoing] = deque()
        self._more = threading.Condition()
        self._ended = False
        self._abandoned = False
        self._reports: queue.SimpleQueue[_Report | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._running = 0  # threads whose end the caller has not seen yet
        self._handed: list[_Report] = []  # given to the caller, not yet recorded
        self.retired: list[str] = []  # why lanes gave up before sending (a server's limit)
        self.failure: BaseException | None = None  # a lane's unexpected error

    # The caller's side.

    def put(self, messages: Sequence[Outgoing]) -> None:
        """More messages to send; threads are started as there is work for them."""
        if not messages:
            return
        with self._more:
            self._waiting.extend(messages)
            self._more.notify(len(messages))
            wanted = min(self._lanes.size, self._running + len(self._waiting)) - self._running
        for _ in range(max(0, wanted)):
            thread = threading.Thread(
                target=self._work,
                name=f"seqctl-{self._lanes.name}-{len(self._threads)}",
                daemon=True,
            )
            self._threads.append(thread)
            self._running += 1
            thread.start()

    def end(self) -> None:
        """No more messages: the threads finish once the ones put are sent."""
        with self._more:
            self._ended = True
            self._more.notify_all()

    def ready(self) -> bool:
        """Whether something waits to be collected (cheap: asked between rows of a batch)."""
        return not self._reports.empty()

    def collect(self, timeout: float = 0.0) -> Progress | None:
        """What the lanes reported since the last call, waiting up to `timeout` for the
        first; None if nothing. The lanes in it wait until `recorded()`."""
        assert not self._handed, "the last report is not recorded yet"
        reports: list[_Report] = []
        try:
            item = self._reports.get(timeout=timeout) if timeout > 0 else self._reports.get_nowait()
        except queue.Empty:
            return self._leftover()
        while True:
            if item is None:
                self._running -= 1
            else:
                reports.append(item)
            try:
                item = self._reports.get_nowait()
            except queue.Empty:
                break
        if self.failure is not None:
            # A lane's bug: no lane starts another message from now on, and what the lanes
            # already know is handed over to be recorded first; the next collect raises.
            with self._more:
                self._abandoned = True
                self._waiting.clear()
                self._more.notify_all()
            if not reports:
                raise self.failure
        if not reports:
            return self._leftover()
        self._handed = reports
        return Progress(
            [i for r in reports for i in r.started],
            [d for r in reports for d in r.done],
            max(r.journaled for r in reports),
        )

    def recorded(self) -> None:
        """What `collect` returned is written down: its lanes go on."""
        handed, self._handed = self._handed, []
        for report in handed:
            report.recorded.set()

    @property
    def finished(self) -> bool:
        """Every thread has ended and said so, and no more messages will come."""
        return (
            self._running == 0
            and not self._handed
            and self.failure is None  # not before `collect` has raised it
            and (self._ended or self._halted() or self._abandoned)
        )

    def abandon(self) -> None:
        """The caller stopped reading (an error, a second Ctrl-C): no thread waits for it,
        none starts another message, and the threads are given a moment to end."""
        with self._more:
            self._abandoned = True
            self._waiting.clear()
            self._more.notify_all()
        self.recorded()
        while True:
            try:
                report = self._reports.get_nowait()
            except queue.Empty:
                break
            if report is not None:
                report.recorded.set()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)

    def _leftover(self) -> Progress | None:
        """Messages no lane will take: every lane gave up before sending (none should, but
        none is lost). Not after a halt: those stay queued for the next tick."""
        if self._running or self._abandoned or self._halted():
            return None
        with self._more:
            left, self._waiting = list(self._waiting), deque()
        if not left:
            return None
        why = self.retired[-1] if self.retired else "no connection could be made"
        return Progress([], [Delivery(m.id, error=why, temporary=True, held=True) for m in left])

    def _halted(self) -> bool:
        return self.halt is not None and self.halt()

    # The threads' side.

    def _take(self, wait: bool) -> Outgoing | None:
        """The next message; None when none will come (or, without `wait`, none is there)."""
        with self._more:
            while True:
                if self._abandoned or self._halted():
                    return None
                if self._waiting:
                    return self._waiting.popleft()
                if self._ended or not wait:
                    return None
                self._more.wait(WAKE_SECONDS)  # a timeout, to see a halt

    def _submit(self, report: _Report) -> bool:
        """Hand a report to the caller and wait until it is recorded (or only until it is in
        the journal, when there is one); False once abandoned."""
        with self._more:  # in the journal's order: the caller records up to an entry
            if self._abandoned:
                return False
            if self._journal is not None:
                report.journaled = self._journal.append(report.started, report.done)
            self._reports.put(report)
        if self._journal is None:
            report.recorded.wait()
        return not self._abandoned

    def _work(self) -> None:
        lane = self._lanes.lend()
        healthy = False
        try:
            why = lane.open()
            if why is not None:
                self.retired.append(why)
                return
            done: list[Delivery] = []
            while True:
                # An outcome in hand is reported at once when no message waits: it must not
                # wait for the next batch.
                waited = not done
                message = self._take(waited)
                if message is not None:
                    held = lane.held(message)
                    if held is not None:
                        done.append(held)  # no connection needed: reported with the next
                        continue
                started = [message.id] if message is not None else []
                if (started or done) and not self._submit(_Report(started, done)):
                    return
                if message is not None:
                    done = [lane.send(message)]
                elif waited:  # no more will come
                    healthy = True
                    return
                else:
                    done = []
        except BaseException as exc:  # a bug: raised again in the caller's thread
            self.failure = exc
        finally:
            self._lanes.give_back(lane, healthy)
            self._reports.put(None)


class Lanes:
    """Up to `size` lanes made by `make`, kept open between flows until `close`."""

    def __init__(self, name: str, size: int, make: Callable[[], Lane]) -> None:
        self.name = name
        self.size = max(1, size)
        self.make = make
        self._idle: list[Lane] = []
        self._lock = threading.Lock()

    def flow(
        self, halt: Callable[[], bool] | None = None, journal: Journal | None = None
    ) -> LaneFlow:
        """A flow over these lanes: messages put as they are made, sent as lanes are free."""
        return LaneFlow(self, halt, journal)

    def run(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        """Send `messages` over the lanes; yield what is known, a few at a time.

        The caller must record each Progress before asking for the next: the lanes that
        reported in it wait until then.
        """
        if not messages:
            return
        flow = self.flow(halt)
        flow.put(messages)
        flow.end()
        try:
            while not flow.finished:
                # A timeout, so a signal's handler runs while the lanes are busy.
                progress = flow.collect(WAKE_SECONDS)
                if progress is not None:
                    yield progress
                    flow.recorded()
        finally:
            if not flow.finished:
                flow.abandon()

    def lend(self) -> Lane:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.make()

    def give_back(self, lane: Lane, healthy: bool) -> None:
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
