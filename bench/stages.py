"""The benchmark stages: each runs the real `seqctl` in a fresh process and checks what it said."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from checks import check, count_lines, json_list, json_object, require, require_fields
from database import bodies_of
from engagement import write_events
from inbox import inbox_sync
from measure import Run, run_measured
from report import Result
from workload import contacts, write_lint_variants
from workspace import (
    APPROVE_AT,
    BENCH_SEQUENCES,
    ENROLL_APPROVE_AT,
    ENROLL_AT,
    EVENTS_AT,
    TICK_APPROVALS_AT,
    TICK_AT,
    Bench,
    measured,
)
from yardsticks import db_size, floor, floor_sample, startup

LINT_COUNT = 1000
REPORT_MIN_BYTES = 4096  # an HTML report with two sequences' funnels is well over this


@dataclass(frozen=True)
class Stage:
    """A named stage and the stage it needs to have run before it (same database)."""

    name: str
    run: Callable[[Bench], Result | None]  # None: the stage cannot run here (it says why)
    needs: str | None = None


def lint_1000(bench: Bench) -> Result:
    folder = bench.root / "lint"
    write_lint_variants(bench.project / "playbooks", folder / "playbooks", LINT_COUNT)
    shutil.copytree(bench.project / "templates", folder / "templates", dirs_exist_ok=True)
    files = len(list((folder / "playbooks").glob("*.yaml")))
    run = run_measured([*bench.command, "lint", "playbooks"], folder)
    check("lint-1000", run)
    require(f"{files} files checked, no problems" in run.stdout, "lint-1000", run, "findings")
    return measured("lint-1000", bench, files, run)


def import_csv(bench: Bench) -> Result:
    return _import("import-csv", bench, "contacts.csv", bench.db)


def import_jsonl(bench: Bench) -> Result:
    return _import("import-jsonl", bench, "contacts.jsonl", bench.jsonl_db)


def _import(stage: str, bench: Bench, source: str, db: Path) -> Result:
    path = str(bench.root / source)
    if not db.exists():
        check("db init", bench.seqctl("db", "init", db=db))
    run = bench.seqctl("contacts", "import", path, "--json", db=db, now=ENROLL_AT)
    report = json_object(stage, run)
    counts = (report.get("imported"), report.get("created"), report.get("refused"))
    require(counts == (bench.size, bench.size, []), stage, run, f"expected {bench.size} new")
    return measured(stage, bench, bench.size, run)


def enroll(bench: Bench) -> Result:
    _publish_and_activate(bench)
    return _enroll("enroll", bench, "bench-auto", ENROLL_AT)


def enroll_approve(bench: Bench) -> Result:
    return _enroll("enroll-approve", bench, "bench-approve", ENROLL_APPROVE_AT)


def _publish_and_activate(bench: Bench) -> None:
    run = bench.seqctl("publish", "--json", "--by", "bench@acme.test", db=bench.db)
    published = {entry.get("sequence") for entry in json_list("publish", run)}
    require(published >= set(BENCH_SEQUENCES), "publish", run, "bench playbooks not published")
    for sequence in BENCH_SEQUENCES:
        check("activate", bench.seqctl("activate", sequence, db=bench.db))


def _enroll(stage: str, bench: Bench, sequence: str, now: str) -> Result:
    keys = str(bench.root / "keys.txt")
    run = bench.seqctl("enroll", sequence, "--file", keys, "--json", db=bench.db, now=now)
    report = json_object(stage, run)
    counts = (report.get("enrolled"), report.get("already"), report.get("refused"))
    require(counts == (bench.size, 0, []), stage, run, f"expected {bench.size} enrolled")
    return measured(stage, bench, bench.size, run)


def tick_due(bench: Bench) -> Result:
    """Every first email due; compared with the floor that ran on a copy of the same data."""
    report, run = _tick(bench, "tick-due", TICK_AT)
    expected = {"due": bench.size, "sent": bench.size, "approvals": 0, "failed": 0}
    require_fields(report, expected, "tick-due", run)
    sent = count_lines(bench.project / "outbox.jsonl")
    require(sent == bench.size, "tick-due", run, f"outbox.jsonl has {sent} lines")
    _same_bodies_as_floor(bench, run)
    return measured("tick-due", bench, bench.size, run, **_against_floor(bench, run))


def _against_floor(bench: Bench, run: Run) -> dict[str, float]:
    """The floor's rate on the same data, and the tick's as a share of it."""
    floor_result = bench.results.get("floor")
    if floor_result is None or not (floor_result.per_second and run.seconds):
        return {}
    per_second = bench.size / run.seconds
    return {
        "floor_per_second": round(floor_result.per_second, 1),
        "floor_ratio": round(per_second / floor_result.per_second, 2),
    }


def _same_bodies_as_floor(bench: Bench, run: Run) -> None:
    """The floor rendered the very text seqctl sent: the comparison is of the same work."""
    sample = floor_sample(bench)
    if not sample:
        return
    sent = bodies_of(bench.db, "hello", sorted(sample))
    differ = sorted(key for key, body in sample.items() if sent.get(key) != body)
    require(not differ, "tick-due", run, f"the floor rendered other bodies: enrollments {differ}")


def tick_idle(bench: Bench) -> Result:
    report, run = _tick(bench, "tick-idle", TICK_AT)
    require_fields(report, {"due": 0, "sent": 0, "failed": 0}, "tick-idle", run)
    return measured("tick-idle", bench, 1, run)


def tick_approvals(bench: Bench) -> Result:
    report, run = _tick(bench, "tick-approvals", TICK_APPROVALS_AT)
    expected = {"due": bench.size, "approvals": bench.size, "sent": 0, "failed": 0}
    require_fields(report, expected, "tick-approvals", run)
    return measured("tick-approvals", bench, bench.size, run)


def _tick(bench: Bench, stage: str, now: str) -> tuple[dict[str, Any], Run]:
    run = bench.seqctl("tick", "--json", db=bench.db, now=now)
    report = json_object(stage, run)
    require("busy" not in report, stage, run, "another tick held the lease")
    return report, run


def approve_all(bench: Bench) -> Result:
    run = bench.seqctl("approve", "--all", "--by", "bench@acme.test", db=bench.db, now=APPROVE_AT)
    check("approve-all", run)
    match = re.search(r"approved (\d+)", run.stdout)
    approved = int(match.group(1)) if match else None
    require(approved == bench.size, "approve-all", run, f"expected {bench.size} approved")
    left = json_list("approvals", bench.seqctl("approvals", "--json", db=bench.db))
    require(left == [], "approve-all", run, f"{len(left)} messages still wait for approval")
    return measured("approve-all", bench, bench.size, run)


def events_import(bench: Bench) -> Result:
    """Opens, clicks, replies and bounces to bench-auto's first email, from a JSON Lines file.

    Replies name bench-auto, so each ends that enrollment only; a hard bounce ends every live
    enrollment of the contact (both sequences); opens, clicks and soft bounces end nothing.
    """
    path = bench.root / "events.jsonl"
    keys = (person.key for person in contacts(bench.size))
    sent_at = datetime.fromisoformat(TICK_AT.replace("Z", "+00:00"))
    written = write_events(path, keys, sequence="bench-auto", sent_at=sent_at, hours=8)
    run = bench.seqctl("events", "import", str(path), "--json", db=bench.db, now=EVENTS_AT)
    expected = {
        "recorded": written.unique,
        "duplicates": written.repeated,
        "exited": written.by_type["reply"] + written.hard_bounces * len(BENCH_SEQUENCES),
        "paused": 0,
        "refused": [],
    }
    require_fields(json_object("events-import", run), expected, "events-import", run)
    types = dict(sorted(written.by_type.items()))
    return measured("events-import", bench, written.lines, run, types=types)


def status(bench: Bench) -> Result:
    run = bench.seqctl("status", "--json", db=bench.db, now=EVENTS_AT)
    report = json_list("status", run)
    by_sequence = {entry["sequence"]: entry for entry in report}
    for sequence in BENCH_SEQUENCES:
        enrolled = sum(by_sequence.get(sequence, {}).get("enrollments", {}).values())
        require(enrolled == bench.size, "status", run, f"{sequence}: {enrolled} enrollments")
    hello = by_sequence["bench-auto"]["steps"][0]
    require(hello.get("sent") == bench.size, "status", run, "bench-auto: first step not sent")
    total = sum(sum(entry["enrollments"].values()) for entry in report)
    return measured("status", bench, total, run)


def report_html(bench: Bench) -> Result:
    """`seqctl report`: the whole database as one HTML page."""
    out = bench.root / "report.html"
    run = bench.seqctl("report", "--out", str(out), db=bench.db, now=EVENTS_AT)
    check("report", run)
    page = out.read_text(encoding="utf-8") if out.exists() else ""
    require(len(page) >= REPORT_MIN_BYTES, "report", run, f"report.html has {len(page)} bytes")
    missing = [name for name in BENCH_SEQUENCES if name not in page]
    require(not missing, "report", run, f"report.html does not mention {missing}")
    enrollments = len(BENCH_SEQUENCES) * bench.size
    return measured("report", bench, enrollments, run, html_bytes=len(page.encode()))


STAGES = (
    Stage("startup", startup),
    Stage("lint-1000", lint_1000),
    Stage("import-csv", import_csv),
    Stage("import-jsonl", import_jsonl),
    Stage("enroll", enroll, needs="import-csv"),
    Stage("floor", floor, needs="enroll"),
    Stage("tick-due", tick_due, needs="floor"),
    Stage("tick-idle", tick_idle, needs="tick-due"),
    Stage("enroll-approve", enroll_approve, needs="tick-idle"),
    Stage("tick-approvals", tick_approvals, needs="enroll-approve"),
    Stage("db-size", db_size, needs="tick-approvals"),
    Stage("approve-all", approve_all, needs="tick-approvals"),
    Stage("events-import", events_import, needs="approve-all"),
    Stage("status", status, needs="events-import"),
    Stage("report", report_html, needs="events-import"),
    Stage("inbox-sync", inbox_sync, needs="events-import"),
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
