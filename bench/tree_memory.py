"""The memory a command holds with all its processes, sampled from /proc while it runs.

`ru_maxrss` is one process's own peak. A command that forks workers (a big tick runs on every
core) holds the sum of theirs, which no single process reports. This samples the proportional
set size (PSS: shared pages split between the processes that share them, so forked workers are
not counted twice) of the process and its descendants, and keeps the highest sum and the most
processes seen at once. Sampling can miss a short peak; the report judges the larger of this and
`ru_maxrss`. Where /proc is missing (not Linux) nothing is sampled.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

SAMPLE_SECONDS = 0.05
PROC = Path("/proc")


class TreeMemory:
    """A thread sampling a process tree's memory until the `with` block ends."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self.most_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        if PROC.is_dir():
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid, *descendants(self.pid)]
            total_kib = sum(pss_kib(pid) for pid in pids)
            self.peak_mb = max(self.peak_mb, total_kib / 1024)
            self.most_processes = max(self.most_processes, len(pids))
            self._stop.wait(SAMPLE_SECONDS)


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of pid, from /proc/PID/task/TID/children."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            threads = list((PROC / str(parent) / "task").glob("*/children"))
        except OSError:  # the process ended while its threads were listed
            continue
        for children in threads:
            try:
                kids = [int(part) for part in children.read_text().split()]
            except OSError:  # the process ended meanwhile
                continue
            found.extend(kids)
            pending.extend(kids)
    return found


def pss_kib(pid: int) -> int:
    """The process's proportional set size in KiB; 0 when it has ended (or is a zombie)."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0
