"""The benchmark harness runs end to end on a tiny dataset, so it cannot rot unnoticed."""

from __future__ import annotations

import os
import shutil

from tests.bench_scripts import run_bench

STAGES = (
    "startup",
    "lint-1000",
    "import-csv",
    "import-jsonl",
    "enroll",
    "floor",
    "tick-due",
    "tick-idle",
    "enroll-approve",
    "tick-approvals",
    "db-size",
    "approve-all",
    "events-import",
    "status",
    "report",
)
# The inbox stage needs Dovecot (bench/dovecot.py); without it the bench says why and goes on.
HAS_DOVECOT = shutil.which("dovecot", path=os.environ.get("PATH", "") + ":/usr/sbin") is not None


def test_bench_runs_every_stage_on_a_small_dataset() -> None:
    lines, log = run_bench("run.py", "--sizes", "200", timeout=300)
    by_stage = {line["stage"]: line for line in lines}

    assert [line["stage"] for line in lines] == list(STAGES) + (
        ["inbox-sync"] if HAS_DOVECOT else []
    )
    assert all(line["size"] == 200 and line["items"] > 0 for line in lines)
    measured = [line for line in lines if line["stage"] != "db-size"]
    assert all(line["seconds"] > 0 and line["peak_rss_mb"] > 0 for line in measured)
    assert by_stage["lint-1000"]["items"] == 1000
    assert by_stage["tick-due"]["items"] == by_stage["floor"]["items"] == 200
    assert by_stage["tick-due"]["floor_ratio"] > 0
    assert by_stage["startup"]["tick_after_startup_ms"] is not None
    assert by_stage["db-size"]["bytes_per_enrollment"] > 0
    assert by_stage["db-size"]["bytes_per_history_row"] > 0
    assert by_stage["db-size"]["idle_ticks_growth_bytes"] >= 0
    assert set(by_stage["events-import"]["types"]) == {"open", "click", "reply", "bounce"}
    assert by_stage["report"]["html_bytes"] > 0
    if HAS_DOVECOT:
        inbox = by_stage["inbox-sync"]
        assert inbox["items"] == 200 and inbox["events"] > 0 and inbox["idle_seconds"] > 0
    else:
        assert "inbox-sync: skipped: " in log
    assert "| tick-due | 200 |" in log
    assert "of floor)" in log
