"""One dataset size in its own folder: the project, the data files, the clock, the results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from checks import check
from measure import Run, run_measured
from report import Result
from workload import contacts, write_bench_playbooks, write_csv, write_jsonl, write_keys

# A Monday: bench-auto's first email opens by 19:00Z in every zone (window 08:00-20:00 local).
ENROLL_AT = "2026-11-23T12:00:00Z"
TICK_AT = "2026-11-24T12:00:00Z"  # everything due; the follow-ups wait two days
ENROLL_APPROVE_AT = "2026-11-24T12:05:00Z"
TICK_APPROVALS_AT = "2026-11-24T12:10:00Z"
IDLE_TICKS_AT = ("2026-11-24T12:11:00Z", "2026-11-24T12:12:00Z", "2026-11-24T12:13:00Z")
APPROVE_AT = "2026-11-24T12:15:00Z"
EVENTS_AT = "2026-11-24T20:00:00Z"  # the events happened between TICK_AT and now
BENCH_SEQUENCES = ("bench-auto", "bench-approve")


@dataclass(frozen=True)
class Bench:
    """One dataset size in its own folder, the command that runs seqctl, the results so far."""

    size: int
    root: Path
    command: tuple[str, ...]
    results: dict[str, Result] = field(default_factory=dict)

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


def prepare(bench: Bench) -> None:
    """Scaffold a project with `seqctl init`, add the bench playbooks, write the data files."""
    bench.root.mkdir(parents=True, exist_ok=True)
    check("init", run_measured([*bench.command, "init", str(bench.project)], bench.root))
    write_bench_playbooks(bench.project / "playbooks")
    write_csv(bench.root / "contacts.csv", contacts(bench.size))
    write_jsonl(bench.root / "contacts.jsonl", contacts(bench.size))
    write_keys(bench.root / "keys.txt", contacts(bench.size))


def measured(stage: str, bench: Bench, items: int, run: Run, **extra: object) -> Result:
    """The result of one measured command; one that ran workers says how many and their memory."""
    if run.processes > 1:
        extra["processes"] = run.processes
        extra["processes_peak_mb"] = round(run.processes_peak_mb, 1)
    return Result(stage, bench.size, items, run.seconds, run.peak_rss_mb, dict(extra))
