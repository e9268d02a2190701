"""The last resort against a render that does not end: a timer signal in the main thread.

The guards check the time where a template repeats work (loops, calls); work that runs inside
one filter (a quadratic `striptags`, `wordwrap` of a megabyte-long word) never passes them. So
while the main thread renders, an interval timer (SIGALRM, every PERIOD) looks at the render's
budget: past its deadline (or past its memory bound), the handler raises RenderTimeout in the
render, which fails that one message.

Costs nothing per render: the timer is armed by the first render after it was stopped, and the
handler stops it when it finds no render running (between two batches of a tick, say). It only
raises when the interrupted frame is inside a render (`RENDER_CODES`), so a render's state left
behind can never raise in other code. Elsewhere than the main thread, where a signal handler
cannot run, or when something else owns SIGALRM, or on a system without it: no watchdog, the
guards alone. Forked processes (the tick's shards) arm their own timer.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from time import monotonic
from types import CodeType, FrameType

from seqctl.render import limits

PERIOD = 0.25
RENDER_CODES: set[CodeType] = set()  # the functions that render (sandbox registers them)
_state = {"unavailable": False}


def arm(budget: limits.Budget) -> None:
    """Start the timer (main thread only; a no-op where it cannot work)."""
    budget.armed = True
    if _state["unavailable"] or threading.current_thread() is not threading.main_thread():
        return
    try:
        handler = signal.getsignal(signal.SIGALRM)
        if handler is not _alarm:
            if handler not in (signal.SIG_DFL, None):
                _state["unavailable"] = True  # someone else's timer: leave it alone
                return
            signal.signal(signal.SIGALRM, _alarm)
            signal.siginterrupt(signal.SIGALRM, False)  # system calls restart, not fail
        signal.setitimer(signal.ITIMER_REAL, PERIOD, PERIOD)
    except (AttributeError, ValueError, OSError):  # no SIGALRM (Windows)
        _state["unavailable"] = True


def _alarm(signum: int, frame: FrameType | None) -> None:
    budget = limits.current()  # the main thread's: a handler runs there
    if budget.parts is None or not _rendering(frame):
        budget.parts = None
        budget.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0, 0)  # until the next render
        return
    if budget.owner is not budget.parts:
        budget.fresh()  # a render not seen before: its clock starts now, at the latest
    elif monotonic() > budget.deadline:
        raise limits.timeout()
    elif budget.rss:
        budget.check_memory()


def _rendering(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code in RENDER_CODES:
            return True
        frame = frame.f_back
    return False


def _forked() -> None:
    limits.current().armed = False  # a child process has no timer of its parent's


def _exiting() -> None:
    """Stop the timer: Python restores SIGALRM's default (end the process) as it exits."""
    if limits.current().armed and not _state["unavailable"]:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)


os.register_at_fork(after_in_child=_forked)
atexit.register(_exiting)
