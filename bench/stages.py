"""The benchmark stages: each runs the real `seqctl` in a fresh process and checks what it said."""

from __future__ import annotations

import json
import re
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from measure import BenchFailure, Run, run_measured
from report import TARGETS, Result, Target
from workload import (
    contacts,
    write_bench_playbooks,
    write_csv,
    write_jsonl,
    write_keys,
    write_lint_variants,
)

LINT_COUNT = 1000
# A Monday: bench-auto's first email opens by 19:00Z in every zone (window 08:00-20:00 local).
ENROLL_AT = "2026-11-23T12:00:00Z"
TICK_AT = "2026-11-24T12:00:00Z"  # everything due; the follow-ups wait two days
ENROLL_APPROVE_AT = "2026-11-24T12:05:00Z"
TICK_APPROVALS_AT = "2026-11-24T12:10:00Z"
APPROVE_AT = "2026-11-24T12:15:00Z"
BENCH_SEQUENCES = ("bench-auto", "bench-approve")
STARTUP_RUNS = 5
STARTUP_TARGET_SECONDS = 0.3
# Registered here, beside the stage, so the table judges it like the others.
TARGETS["startup"] = Target(
    f"< {STARTUP_TARGET_SECONDS} s",
    lambda r: r.seconds is not None and r.seconds < STARTUP_TARGET_SECONDS,
)


@dataclass(frozen=True)
class Bench:
    """One dataset size in its own folder, and the command that runs seqctl."""

    size: int
    root: Path
    command: tuple[str, ...]

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def db(self) -> Path:
        return self.project / "seqctl.db"

    @property
    def jsonl_db(self) -> Path:
        return self.project / "jsonl.db"

    def seqctl(self, *args: str, db: Path | None = None, now: str | None = None) -> Run:
        """Run seqctl in the project folder: global options first, as documented."""
        argv = [*self.command]
        if db is not None:
            argv += ["--db", str(db)]
        if now is not None:
            argv += ["--now", now]
        return run_measured([*argv, *args], self.project)


@dataclass(frozen=True)
class Stage:
    """A named stage and the stage it needs to have run before it (same database)."""

    name: str
    run: Callable[[Bench], Result]
    needs: str | None = None


def prepare(bench: Bench) -> None:
    """Scaffold a project with `seqctl init`, add the bench playbooks, write the data files."""
    bench.root.mkdir(parents=True, exist_ok=True)
    _check(bench, "init", run_measured([*bench.command, "init", str(bench.project)], bench.root))
    write_bench_playbooks(bench.project / "playbooks")
    write_csv(bench.root / "contacts.csv", contacts(bench.size))
    write_jsonl(bench.root / "contacts.jsonl", contacts(bench.size))
    write_keys(bench.root / "keys.txt", contacts(bench.size))


def startup(bench: Bench) -> Result:
    """`seqctl --help` and an idle cron tick on an empty database: median of fresh processes.

    `seconds` is the slower of the two medians (both must meet the target); each median is also
    reported on its own, as `help_seconds` and `tick_seconds`.
    """
    folder = bench.root / "startup"
    folder.mkdir(exist_ok=True)
    db = folder / "seqctl.db"  # its own database (and outbox): the other stages' stay untouched
    _check(bench, "startup", bench.seqctl("tick", db=db, now=TICK_AT))  # creates it, unmeasured
    helps = [run_measured([*bench.command, "--help"], bench.project) for _ in range(STARTUP_RUNS)]
    ticks = [bench.seqctl("tick", db=db, now=TICK_AT) for _ in range(STARTUP_RUNS)]
    for run in helps:
        _check(bench, "startup", run)
        _require("Usage" in run.stdout, "startup", run, "`seqctl --help` printed no usage")
    for run in ticks:
        _check(bench, "startup", run)
        # Under cron (no TTY) a tick with nothing due prints nothing, not even progress.
        _require(not (run.stdout or run.stderr), "startup", run, "an idle tick printed something")
    help_seconds = statistics.median(run.seconds for run in helps)
    tick_seconds = statistics.median(run.seconds for run in ticks)
    extra: dict[str, object] = {
        "help_seconds": round(help_seconds, 3),
        "tick_seconds": round(tick_seconds, 3),
    }
    peak = max(run.peak_rss_mb for run in [*helps, *ticks])
    return Result("startup", bench.size, 1, max(help_seconds, tick_seconds), peak, extra)


def lint_1000(bench: Bench) -> Result:
    folder = bench.root / "lint"
    write_lint_variants(bench.project / "playbooks", folder / "playbooks", LINT_COUNT)
    shutil.copytree(bench.project / "templates", folder / "templates", dirs_exist_ok=True)
    files = len(list((folder / "playbooks").glob("*.yaml")))
    run = run_measured([*bench.command, "lint", "playbooks"], folder)
    _check(bench, "lint-1000", run)
    _require(f"{files} files checked, no problems" in run.stdout, "lint-1000", run, "findings")
    return _result("lint-1000", bench, files, run)


def import_csv(bench: Bench) -> Result:
    return _import("import-csv", bench, bench.root / "contacts.csv", bench.db)


def import_jsonl(bench: Bench) -> Result:
    return _import("import-jsonl", bench, bench.root / "contacts.jsonl", bench.jsonl_db)


def _import(stage: str, bench: Bench, source: Path, db: Path) -> Result:
    run = bench.seqctl("contacts", "import", str(source), "--json", db=db, now=ENROLL_AT)
    report = _json_object(bench, stage, run)
    counts = (report.get("imported"), report.get("created"), report.get("refused"))
    _require(counts == (bench.size, bench.size, []), stage, run, f"expected {bench.size} new")
    return _result(stage, bench, bench.size, run)


def enroll(bench: Bench) -> Result:
    _publish_and_activate(bench)
    return _enroll("enroll", bench, "bench-auto", ENROLL_AT)


def enroll_approve(bench: Bench) -> Result:
    return _enroll("enroll-approve", bench, "bench-approve", ENROLL_APPROVE_AT)


def _publish_and_activate(bench: Bench) -> None:
    run = bench.seqctl("publish", "--json", "--by", "bench@acme.test", db=bench.db)
    published = {entry.get("sequence") for entry in _json_list(bench, "publish", run)}
    _require(published >= set(BENCH_SEQUENCES), "publish", run, "bench playbooks not published")
    for sequence in BENCH_SEQUENCES:
        _check(bench, "activate", bench.seqctl("activate", sequence, db=bench.db))


def _enroll(stage: str, bench: Bench, sequence: str, now: str) -> Result:
    keys = str(bench.root / "keys.txt")
    run = bench.seqctl("enroll", sequence, "--file", keys, "--json", db=bench.db, now=now)
    report = _json_object(bench, stage, run)
    counts = (report.get("enrolled"), report.get("already"), report.get("refused"))
    _require(counts == (bench.size, 0, []), stage, run, f"expected {bench.size} enrolled")
    return _result(stage, bench, bench.size, run)


def tick_due(bench: Bench) -> Result:
    report, run = _tick(bench, "tick-due", TICK_AT)
    expected = {"due": bench.size, "sent": bench.size, "approvals": 0, "failed": 0}
    _require_fields(report, expected, "tick-due", run)
    sent = _count_lines(bench.project / "outbox.jsonl")
    _require(sent == bench.size, "tick-due", run, f"outbox.jsonl has {sent} lines")
    return _result("tick-due", bench, bench.size, run)


def tick_idle(bench: Bench) -> Result:
    report, run = _tick(bench, "tick-idle", TICK_AT)
    _require_fields(report, {"due": 0, "sent": 0, "failed": 0}, "tick-idle", run)
    return _result("tick-idle", bench, 1, run)


def tick_approvals(bench: Bench) -> Result:
    report, run = _tick(bench, "tick-approvals", TICK_APPROVALS_AT)
    expected = {"due": bench.size, "approvals": bench.size, "sent": 0, "failed": 0}
    _require_fields(report, expected, "tick-approvals", run)
    return _result("tick-approvals", bench, bench.size, run)


def _tick(bench: Bench, stage: str, now: str) -> tuple[dict[str, Any], Run]:
    run = bench.seqctl("tick", "--json", db=bench.db, now=now)
    report = _json_object(bench, stage, run)
    _require("busy" not in report, stage, run, "another tick held the lease")
    return report, run


def db_size(bench: Bench) -> Result:
    enrollments = 2 * bench.size  # bench-auto and bench-approve, checked by the stages before
    files = [bench.db, bench.db.with_name(bench.db.name + "-wal")]
    total = sum(path.stat().st_size for path in files if path.exists())
    extra: dict[str, object] = {"bytes_per_enrollment": round(total / enrollments)}
    return Result("db-size", bench.size, enrollments, None, None, extra)


def approve_all(bench: Bench) -> Result:
    run = bench.seqctl("approve", "--all", "--by", "bench@acme.test", db=bench.db, now=APPROVE_AT)
    _check(bench, "approve-all", run)
    match = re.search(r"approved (\d+)", run.stdout)
    approved = int(match.group(1)) if match else None
    _require(approved == bench.size, "approve-all", run, f"expected {bench.size} approved")
    left = _json_list(bench, "approvals", bench.seqctl("approvals", "--json", db=bench.db))
    _require(left == [], "approve-all", run, f"{len(left)} messages still wait for approval")
    return _result("approve-all", bench, bench.size, run)


def status(bench: Bench) -> Result:
    run = bench.seqctl("status", "--json", db=bench.db, now=APPROVE_AT)
    report = _json_list(bench, "status", run)
    by_sequence = {entry["sequence"]: entry for entry in report}
    for sequence in BENCH_SEQUENCES:
        enrolled = sum(by_sequence.get(sequence, {}).get("enrollments", {}).values())
        _require(enrolled == bench.size, "status", run, f"{sequence}: {enrolled} enrollments")
    hello = by_sequence["bench-auto"]["steps"][0]
    _require(hello.get("sent") == bench.size, "status", run, "bench-auto: first step not sent")
    total = sum(sum(entry["enrollments"].values()) for entry in report)
    return _result("status", bench, total, run)


STAGES = (
    Stage("startup", startup),
    Stage("lint-1000", lint_1000),
    Stage("import-csv", import_csv),
    Stage("import-jsonl", import_jsonl),
    Stage("enroll", enroll, needs="import-csv"),
    Stage("tick-due", tick_due, needs="enroll"),
    Stage("tick-idle", tick_idle, needs="tick-due"),
    Stage("enroll-approve", enroll_approve, needs="tick-idle"),
    Stage("tick-approvals", tick_approvals, needs="enroll-approve"),
    Stage("db-size", db_size, needs="tick-approvals"),
    Stage("approve-all", approve_all, needs="tick-approvals"),
    Stage("status", status, needs="approve-all"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


def plan(selected: set[str]) -> list[Stage]:
    """The selected stages and everything they need, in running order."""
    by_name = {stage.name: stage for stage in STAGES}
    wanted: set[str] = set()
    for name in selected:
        current: str | None = name
        while current is not None and current not in wanted:
            wanted.add(current)
            current = by_name[current].needs
    return [stage for stage in STAGES if stage.name in wanted]


def _result(stage: str, bench: Bench, items: int, run: Run) -> Result:
    return Result(stage, bench.size, items, run.seconds, run.peak_rss_mb)


def _check(bench: Bench, stage: str, run: Run) -> None:
    _require(run.returncode == 0, stage, run, f"exit code {run.returncode} (size {bench.size})")


def _json_object(bench: Bench, stage: str, run: Run) -> dict[str, Any]:
    data = _json(bench, stage, run)
    _require(isinstance(data, dict), stage, run, "expected a JSON object")
    return cast(dict[str, Any], data)


def _json_list(bench: Bench, stage: str, run: Run) -> list[Any]:
    data = _json(bench, stage, run)
    _require(isinstance(data, list), stage, run, "expected a JSON list")
    return cast(list[Any], data)


def _json(bench: Bench, stage: str, run: Run) -> object:
    _check(bench, stage, run)
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError as exc:
        raise BenchFailure(f"{stage}: output is not JSON ({exc})\n{run.describe()}") from None


def _require(ok: bool, stage: str, run: Run, why: str) -> None:
    if not ok:
        raise BenchFailure(f"{stage}: {why}\n{run.describe()}")


def _require_fields(report: dict[str, Any], expected: dict[str, int], stage: str, run: Run) -> None:
    got = {name: report.get(name) for name in expected}
    _require(got == expected, stage, run, f"expected {expected}, got {got}")


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)
