"""Ctrl-C and SIGTERM (systemd stopping a unit, `kill`) stop a tick between two batches.

The first signal asks the run to stop at its next safe point: the batch in hand is sent and
recorded, the rest waits for the next tick. A second one stops at once, as the default would
(a message caught between its send and its record is then recovered by the next tick).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from seqctl.engine.run.stopping import StopRequest

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def graceful_stop(announce: Callable[[str], str] | None = None) -> Iterator[StopRequest]:
    """A stop request that SIGINT and SIGTERM set while the block runs (main thread only).

    `announce` makes the line said on stderr from the signal's name (a JSON log line, say).
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    owner = os.getpid()  # worker processes forked meanwhile inherit the handler: they stay quiet

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        # Only this process's own request counts (not one passed on by a parent): a worker's
        # first signal is a first signal.
        if stop.reason is not None:
            raise KeyboardInterrupt  # asked twice: stop now
        stop.request(name)
        if os.getpid() == owner:  # written past Python's buffers: the handler may interrupt them
            said = f"{name}: stopping after the batch in hand (again to stop at once)"
            os.write(2, f"{announce(said) if announce else said}\n".encode())

    previous = {number: signal.getsignal(number) for number in SIGNALS}
    try:
        for number in SIGNALS:
            signal.signal(number, handle)
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def exit_code(reason: str) -> int:
    """128 + the signal's number, as a shell reports a process a signal stopped."""
    try:
        return 128 + int(signal.Signals[reason])
    except KeyError:
        return 1
