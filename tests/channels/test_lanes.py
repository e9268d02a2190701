"""Lanes: each connection reports before its next message, and nothing is lost or left hanging."""

from __future__ import annotations

import threading
import time

import pytest

from seqctl.channels import Delivery, Outgoing
from seqctl.channels.lanes import Lanes
from tests.channels.conftest import outgoing


class Recorder:
    """A lane that 'sends' by remembering, and checks it never runs ahead of the records."""

    def __init__(self, log: list[tuple[str, int]], lock: threading.Lock, why: str | None) -> None:
        self.log, self.lock, self.why = log, lock, why

    def open(self) -> str | None:
        return self.why

    def held(self, message: Outgoing) -> Delivery | None:
        return None

    def send(self, message: Outgoing) -> Delivery:
        with self.lock:
            self.log.append(("sent", message.id))
        time.sleep(0.001)
        return Delivery(message.id, provider_id=str(message.id))

    def close(self) -> None:
        return None


def test_each_outcome_is_recorded_before_its_connection_starts_the_next() -> None:
    log: list[tuple[str, int]] = []
    lock = threading.Lock()
    lanes = Lanes("t", 3, lambda: Recorder(log, lock, None))
    recorded: set[int] = set()
    in_flight: dict[int, int] = {}
    for progress in lanes.run([outgoing(n) for n in range(1, 31)]):
        with lock:
            for message_id in progress.started:
                in_flight[message_id] = 1
            for delivery in progress.done:
                recorded.add(delivery.message_id)
                in_flight.pop(delivery.message_id, None)
            # Started but not recorded: never more than one per lane.
            assert len(in_flight) <= 3
    assert recorded == set(range(1, 31))


def test_lanes_that_cannot_open_leave_no_message_unanswered() -> None:
    lanes = Lanes("t", 2, lambda: Recorder([], threading.Lock(), "421 too many connections"))
    done = [d for p in lanes.run([outgoing(1), outgoing(2)]) for d in p.done]
    assert [(d.message_id, d.held, d.error) for d in done] == [
        (1, True, "421 too many connections"),
        (2, True, "421 too many connections"),
    ]


class Broken(Recorder):
    def send(self, message: Outgoing) -> Delivery:
        raise RuntimeError("a bug in a lane")


def test_a_bug_in_a_lane_is_raised_in_the_caller() -> None:
    lanes = Lanes("t", 1, lambda: Broken([], threading.Lock(), None))
    with pytest.raises(RuntimeError, match="a bug in a lane"):
        for _ in lanes.run([outgoing(1)]):
            pass


class BrokenOnFive(Recorder):
    def send(self, message: Outgoing) -> Delivery:
        if message.id == 5:
            raise RuntimeError("a bug in a lane")
        return super().send(message)


@pytest.mark.parametrize("attempt", range(20))
def test_after_a_bug_in_one_lane_nothing_goes_out_unannounced(
    attempt: int,
) -> None:
    log: list[tuple[str, int]] = []
    lock = threading.Lock()
    lanes = Lanes("t", 4, lambda: BrokenOnFive(log, lock, None))
    started: set[int] = set()
    recorded: set[int] = set()
    flow = lanes.flow()
    flow.put([outgoing(n) for n in range(1, 41)])
    flow.end()
    with pytest.raises(RuntimeError, match="a bug in a lane"):
        while not flow.finished:
            progress = flow.collect(0.05)
            if progress is not None:
                started.update(progress.started)
                recorded.update(d.message_id for d in progress.done)
                flow.recorded()
    time.sleep(0.005)  # the error unwinds through the tick before it abandons the flow
    flow.abandon()
    sent = {message_id for _, message_id in log}
    assert sent <= started  # every message that went out was announced before it went
    # Unanswered: the broken message and what the other lanes had on the wire at that moment,
    # at most one a connection (sent again by the next tick, as after a SIGKILL).
    assert 5 in started - recorded and len(started - recorded) <= 4


def test_a_caller_that_stops_reading_leaves_no_thread_waiting() -> None:
    lanes = Lanes("t", 2, lambda: Recorder([], threading.Lock(), None))
    before = threading.active_count()
    run = lanes.run([outgoing(n) for n in range(1, 50)])
    next(run)
    run.close()  # as when the tick dies of an error between two reports
    time.sleep(0.05)
    assert threading.active_count() <= before


def test_a_halt_leaves_the_messages_not_started() -> None:
    lanes = Lanes("t", 1, lambda: Recorder([], threading.Lock(), None))
    done: list[int] = []

    def halt() -> bool:
        return len(done) >= 3

    for progress in lanes.run([outgoing(n) for n in range(1, 11)], halt):
        done.extend(d.message_id for d in progress.done)
    assert done == [1, 2, 3, 4]  # the fourth was started in the report of the third


def test_a_flow_reports_each_batch_without_waiting_for_the_next() -> None:
    lanes = Lanes("t", 3, lambda: Recorder([], threading.Lock(), None))
    flow = lanes.flow()
    answered: list[int] = []
    for first in (1, 11):  # two batches, the second put only once the first is answered
        flow.put([outgoing(n) for n in range(first, first + 10)])
        deadline = time.monotonic() + 10
        while len(answered) < first + 9:
            assert time.monotonic() < deadline, f"answered {answered}: the rest waits for more"
            progress = flow.collect(0.2)
            if progress is not None:
                answered.extend(d.message_id for d in progress.done)
                flow.recorded()
        assert not flow.finished  # more may come: the lanes wait for it
    flow.end()
    while not flow.finished:
        if flow.collect(0.2) is not None:
            flow.recorded()
    assert sorted(answered) == list(range(1, 21))
    lanes.close()


class Tripped(Recorder):
    def held(self, message: Outgoing) -> Delivery | None:
        return Delivery(message.id, error="server down", temporary=True, held=True)


def test_messages_held_by_a_tripped_breaker_are_reported_before_more_come() -> None:
    lanes = Lanes("t", 2, lambda: Tripped([], threading.Lock(), None))
    flow = lanes.flow()
    flow.put([outgoing(n) for n in range(1, 8)])
    held: list[int] = []
    deadline = time.monotonic() + 10
    while len(held) < 7:
        assert time.monotonic() < deadline, f"held {held}: the rest is kept back"
        progress = flow.collect(0.2)
        if progress is not None:
            held.extend(d.message_id for d in progress.done if d.held)
            flow.recorded()
    flow.end()
    while not flow.finished:
        if flow.collect(0.2) is not None:
            flow.recorded()
    assert sorted(held) == list(range(1, 8))


def test_a_flow_abandoned_between_batches_leaves_no_thread_waiting() -> None:
    lanes = Lanes("t", 4, lambda: Recorder([], threading.Lock(), None))
    before = threading.active_count()
    flow = lanes.flow()
    flow.put([outgoing(n) for n in range(1, 30)])
    assert flow.collect(5) is not None
    flow.abandon()  # as when the tick dies of an error while the lanes wait for more
    time.sleep(0.05)
    assert threading.active_count() <= before
