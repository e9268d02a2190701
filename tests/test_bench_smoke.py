"""The benchmark harness runs end to end on a tiny dataset, so it cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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


def test_bench_runs_every_stage_on_a_small_dataset() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "200"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    by_stage = {line["stage"]: line for line in lines}

    assert [line["stage"] for line in lines] == list(STAGES)
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
    assert "| tick-due | 200 |" in done.stderr
    assert "of floor)" in done.stderr
