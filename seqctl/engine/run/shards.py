"""A big tick on every core: each process takes the due enrollments whose id is its share
(SQLite's way, `Parallel.shard`), or claims batches as any worker does (PostgreSQL's).

Rendering and scheduling are Python, one core each; SQLite lets one process write at a time
and each holds the lock only for its batch's statements, so two processes on two cores advance
1.3 to 1.5 times as many enrollments a second as one (the writes, which they take turns at, are
most of the rest). A shard is a whole tick loop of its own (its database connection, channels,
batches, lease renewals); only counts come back. A stop request of the parent reaches them
through a shared byte.

Daily caps are counted in memory by the process that sends, so a tick with caps in play runs
in one process. So does a small one, where starting processes would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from multiprocessing.connection import Connection, wait
from typing import Any

from seqctl.engine.run.stopping import StopRequest
from seqctl.errors import SeqctlError
from seqctl.store import Parallel, Store, WriterLock

PARALLEL_FROM = 20_000  # due enrollments; below that one process finishes in about a second
MAX_WORKERS = 8
STOP_POLL_SECONDS = 0.2  # how soon a stop request of the parent reaches the shards

Work = Callable[[Store, tuple[int, int], Callable[[int], None]], dict[str, int]]


def workers(
    store: Store,
    now: datetime,
    limit: int | None,
    senders: Mapping[str, Any],
    wanted: int | None = None,
) -> int:
    """How many processes this tick should use: `wanted` (--workers) or, by default, one per
    core for a big tick; 1 whenever anything is capped or a --limit counts.

    Only on Linux: elsewhere a forked process is not safe (macOS) or not possible (Windows).
    """
    cores = _cores()
    if not sys.platform.startswith("linux") or store.parallel() is None or wanted == 1:
        return 1
    if wanted is None and cores < 2:
        return 1
    if limit is not None:
        return 1
    if any((sender or {}).get("per_day") is not None for sender in senders.values()):
        return 1
    if store.has_daily_caps():
        return 1
    if wanted is not None:
        return wanted
    if store.count_due(now) < PARALLEL_FROM:
        return 1
    return min(cores, MAX_WORKERS)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run(
    store: Store,
    count: int,
    work: Work,
    progress: Callable[[int], None] | None,
    stop: StopRequest | None = None,
) -> list[dict[str, int]]:
    """Run work(store, (k, count), progress) in `count` forked processes; return their counts.

    The parent's connection is closed across the fork (a connection must not cross one) and
    opened again after. A shard that fails stops the tick with its error, once the others are
    done: what they committed stays, as when a one-process tick stops.
    """
    context = multiprocessing.get_context("fork")
    parallel = store.parallel()
    assert parallel is not None
    parallel.close()
    children = []
    writers = context.Lock()
    # Set when this process is asked to stop: the shards stop too. A plain shared byte, read
    # without a lock (a lock could be held by a process a signal interrupted, or killed).
    halt = context.RawValue("b", 0)
    try:
        for index in range(count):
            parent_end, child_end = context.Pipe(duplex=False)
            process = context.Process(
                target=_shard,
                args=(parallel, (index, count), work, child_end, writers, stop, halt),
                daemon=True,
            )
            process.start()
            child_end.close()
            children.append((process, parent_end))
        results, errors = _collect(children, progress, stop, halt)
    except BaseException:
        halt.value = 1  # leaving early (Ctrl-C twice): the shards stop after their batch
        raise
    finally:
        for process, _ in children:
            process.join()
        parallel.reopen()
    if errors:
        raise SeqctlError("; ".join(dict.fromkeys(errors)))  # a locked database: said once
    return results


def _collect(
    children: list[tuple[Any, Connection]],
    progress: Callable[[int], None] | None,
    stop: StopRequest | None,
    halt: Any,
) -> tuple[list[dict[str, int]], list[str]]:
    """Read what the shards say until each has said it is done (or died)."""
    results: list[dict[str, int]] = []
    errors: list[str] = []
    open_ends = {conn: index for index, (_, conn) in enumerate(children)}
    stopping = False
    while open_ends:
        if stop is not None and stop() is not None:
            halt.value = 1  # a signal to this process alone: the shards stop as it does
        for conn in wait(list(open_ends), timeout=STOP_POLL_SECONDS):
            assert isinstance(conn, Connection)
            try:
                kind, value = conn.recv()
            except EOFError:  # gone without a word: killed, or out of memory
                index = open_ends.pop(conn)
                if stopping:
                    continue
                process = children[index][0]
                process.join(timeout=5)
                errors.append(
                    f"tick worker {index + 1} stopped unexpectedly (exit code {process.exitcode});"
                    " the tick stopped the others: the next tick finishes the work"
                )
                # It may have died holding the write lock, which the others would wait for.
                # Stopped between two writes, they lose nothing: what they committed stays,
                # and a message on its way is recovered by the next tick.
                stopping = True
                for other, _ in children:
                    if other.is_alive():
                        other.kill()  # at once: a graceful stop would wait for that lock
                continue
            if kind == "progress":
                if progress is not None:
                    progress(value)
                continue
            open_ends.pop(conn)
            (results if kind == "done" else errors).append(value)
    return results, errors


def _shard(
    parallel: Parallel,
    shard: tuple[int, int],
    work: Work,
    conn: Connection,
    writers: WriterLock,
    stop: StopRequest | None,
    halt: Any,
) -> None:
    """In the child: open the database afresh, do the share, report.

    A shard whose tick is gone (killed with SIGKILL alone, by the OOM killer) stops between
    batches too, as for a signal: nobody would add up its counts, and it would keep the
    tick's lease alive for the next tick to wait on."""
    parent = os.getppid()
    if stop is not None:
        stop.follow(lambda: bool(halt.value), "stopped by the parent")
        stop.follow(lambda: os.getppid() != parent, "the tick that started it is gone")
    try:
        with parallel.shard(shard[1], writers) as store:
            counts = work(store, shard, lambda n: _tell(conn, ("progress", n)))
        _tell(conn, ("done", counts))
    except SeqctlError as exc:  # a locked database among them
        _tell(conn, ("error", str(exc)))
    except BaseException:  # a bug: the parent shows where
        _tell(conn, ("error", traceback.format_exc()))
    finally:
        conn.close()


def _tell(conn: Connection, message: tuple[str, Any]) -> None:
    """Send the parent a message; nothing when it is gone (its end of the pipe closed)."""
    try:
        conn.send(message)
    except OSError:
        pass
