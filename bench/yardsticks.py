"""Stages that measure around the commands: start-up, the floor a tick is compared to, db size."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

from checks import check, json_object, require, require_fields
from database import copy_database, count_rows, database_bytes, first_bodies
from measure import BenchFailure, Run, run_measured
from report import TARGETS, Result, Target
from workspace import BENCH_SEQUENCES, IDLE_TICKS_AT, TICK_AT, Bench, measured

STARTUP_RUNS = 5
IDLE_TICK_TARGET_MS = 100
FLOOR_SCRIPT = Path(__file__).with_name("floor.py")
FLOOR_SAMPLE = "floor-sample.json"  # the floor's first bodies, for tick-due to compare
FLOOR_SAMPLE_COUNT = 200
PAGE_BYTES = 4096

# Registered here, beside their stages, so the table judges them like the others.
TARGETS["startup"] = Target(
    f"idle tick < {IDLE_TICK_TARGET_MS} ms after start-up",
    lambda r: _number(r, "tick_after_startup_ms") < IDLE_TICK_TARGET_MS,
    lambda r: f"{_number(r, 'tick_after_startup_ms'):.0f} ms",
)
TARGETS["db-size"] = Target(
    f"no growth over {len(IDLE_TICKS_AT)} idle ticks",
    lambda r: _number(r, "idle_ticks_growth_bytes") < PAGE_BYTES,
    lambda r: (
        f"{_number(r, 'bytes_per_enrollment'):,.0f} B/enrollment, "
        f"{_number(r, 'bytes_per_history_row'):,.0f} B/history row, "
        f"{_number(r, 'idle_ticks_growth_bytes'):+,.0f} B"
    ),
)


def startup(bench: Bench) -> Result:
    """`seqctl --help`, `seqctl --version` and an idle cron tick: medians of fresh processes.

    The idle tick runs on an empty database of its own. `seqctl --version` is the bare start-up
    of the CLI, so `tick_after_startup_ms` (idle tick less --version) is what a tick with nothing
    to do costs beyond it. `seconds` is the slower of --help and the idle tick.
    """
    folder = bench.root / "startup"
    folder.mkdir(exist_ok=True)
    db = folder / "seqctl.db"  # its own database (and outbox): the other stages' stay untouched
    check("startup", bench.seqctl("db", "init", db=db))  # unmeasured
    helps, versions, ticks = [], [], []
    for _ in range(STARTUP_RUNS):  # interleaved, so a slow moment of the machine hits all three
        helps.append(_startup_run(bench, run_measured([*bench.command, "--help"], bench.project)))
        versions.append(
            _startup_run(bench, run_measured([*bench.command, "--version"], bench.project))
        )
        ticks.append(_startup_run(bench, bench.seqctl("tick", db=db, now=TICK_AT)))
    help_s, version_s, tick_s = (_median(runs) for runs in (helps, versions, ticks))
    peak = max(run.peak_rss_mb for run in [*helps, *versions, *ticks])
    extra: dict[str, object] = {
        "help_seconds": round(help_s, 3),
        "version_seconds": round(version_s, 3),
        "tick_seconds": round(tick_s, 3),
        "tick_after_startup_ms": round((tick_s - version_s) * 1000, 1),
    }
    return Result("startup", bench.size, 1, max(help_s, tick_s), peak, extra)


def _startup_run(bench: Bench, run: Run) -> Run:
    check("startup", run)
    command = run.args[len(bench.command) :]
    if "--help" in command:
        require("Usage" in run.stdout, "startup", run, "`seqctl --help` printed no usage")
    elif "--version" in command:
        require("seqctl" in run.stdout, "startup", run, "`seqctl --version` printed no version")
    else:  # Under cron (no TTY) a tick with nothing due prints nothing, not even progress.
        require(not (run.stdout or run.stderr), "startup", run, "an idle tick printed something")
    return run


def _median(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def floor(bench: Bench) -> Result:
    """bench/floor.py on a copy of the database tick-due is about to work on, in a fresh process.

    Start-up is included, as for seqctl; `work_seconds` is the floor's own time without it. The
    count is checked twice (what it printed, the rows in the copy), and the first message bodies
    are kept for tick-due to compare with what seqctl sends.
    """
    with tempfile.TemporaryDirectory(prefix="floor-", dir=bench.root) as temp:
        copy = Path(temp) / "seqctl.db"
        copy_database(bench.db, copy)
        script = [sys.executable, str(FLOOR_SCRIPT), "--db", str(copy), "--now", TICK_AT]
        run = run_measured(script, bench.root)
        said = json_object("floor", run)
        require_fields(said, {"processed": bench.size}, "floor", run)
        messages = count_rows(copy, "messages")
        require(messages == bench.size, "floor", run, f"{messages} messages in the copy")
        sample = first_bodies(copy, "hello", FLOOR_SAMPLE_COUNT)
    (bench.root / FLOOR_SAMPLE).write_text(json.dumps(sample), encoding="utf-8")
    return measured("floor", bench, bench.size, run, work_seconds=said.get("seconds"))


def floor_sample(bench: Bench) -> dict[int, str]:
    """The floor's first message bodies by enrollment id; empty when the floor did not run."""
    path = bench.root / FLOOR_SAMPLE
    if not path.exists():
        return {}
    return {int(key): body for key, body in json.loads(path.read_text(encoding="utf-8")).items()}


def db_size(bench: Bench) -> Result:
    """Bytes per enrollment and per history row; then idle ticks, which must not grow the file."""
    enrollments = count_rows(bench.db, "enrollments")
    expected = len(BENCH_SEQUENCES) * bench.size  # both sequences, checked by the stages before
    if enrollments != expected:
        raise BenchFailure(f"db-size: {enrollments} enrollments, expected {expected}")
    history = count_rows(bench.db, "history")
    before = database_bytes(bench.db)
    for now in IDLE_TICKS_AT:
        run = bench.seqctl("tick", "--json", db=bench.db, now=now)
        require_fields(json_object("db-size", run), {"due": 0, "sent": 0}, "db-size", run)
    extra: dict[str, object] = {
        "bytes": before,
        "bytes_per_enrollment": round(before / enrollments),
        "history_rows": history,
        "bytes_per_history_row": round(before / history),
        "idle_ticks": len(IDLE_TICKS_AT),
        "idle_ticks_growth_bytes": database_bytes(bench.db) - before,
    }
    return Result("db-size", bench.size, enrollments, None, None, extra)


def _number(result: Result, name: str) -> float:
    value = result.extra.get(name)
    return float(value) if isinstance(value, int | float) else float("nan")
