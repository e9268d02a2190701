"""`seqctl tick --every PERIOD`: a tick loop for containers and hosts without cron, and
`--log-format json` lines for log collectors."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Launch, Run
from tests.playbooks import INTRO

NOW = "--now=2026-11-23T09:00:00Z"


def lines_until(proc: subprocess.Popen[str], wanted: int, timeout: float = 20) -> list[str]:
    """Read stdout lines until `wanted` of them came (waiting on the pipe, not a clock)."""
    assert proc.stdout is not None
    found: list[str] = []
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while len(found) < wanted and selector.select(max(deadline - time.monotonic(), 0)):
            line = proc.stdout.readline()
            if not line:
                break
            found.append(line)
    return found


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "seqctl", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def enrolled(launch: Launch) -> Run:
    contacts = "key,email,first_name\nana,ana@x.test,Ana\nbob,bob@x.test,Bob\n"
    run = launch({"intro": INTRO}, contacts)
    assert run(NOW, "enroll", "intro", "--contact", "ana", "--contact", "bob").exit_code == 0
    return run


def test_every_ticks_until_sigterm_then_stops_between_ticks(enrolled: Run, project: Path) -> None:
    proc = start(project, NOW, "tick", "--every", "1s", "--log-format", "json")
    try:
        lines = lines_until(proc, 3)  # the start, then two ticks
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()

    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["start", "tick", "tick"]
    assert records[0]["every"] == 1.0
    assert records[1]["sent"] == 2 and records[2]["sent"] == 0  # the second found nothing due
    assert all(r["ts"].endswith("Z") and r["level"] == "info" for r in records)
    assert proc.returncode == 143
    said = [json.loads(line) for line in err.splitlines()]
    assert said[-1]["event"] == "stop" and "between two ticks" in said[-1]["message"]
    outbox = (project / "outbox.jsonl").read_text("utf-8").splitlines()
    assert len(outbox) == 2  # each message once


def test_text_logs_stay_quiet_when_there_is_nothing_to_do(run: Run) -> None:
    quiet = run(NOW, "tick")
    logged = run(NOW, "tick", "--log-format", "json")

    assert quiet.stdout == ""
    record: dict[str, Any] = json.loads(logged.stdout)
    assert (record["event"], record["due"], record["now"]) == ("tick", 0, "2026-11-23T09:00:00Z")


def test_errors_are_json_lines_too(run: Run, project: Path) -> None:
    (project / "seqctl.yaml").write_text("channels: {email: {kind: pigeon}}\n", "utf-8")

    result = run(NOW, "tick", "--log-format", "json")

    assert result.exit_code == 2
    record = json.loads(result.stderr)
    assert record["level"] == "error"
    assert record["message"].startswith("seqctl.yaml:1:26: error [schema] 'pigeon' is not one of")


@pytest.mark.parametrize("period", ["0s", "1 fortnight", "-5m", "1.5m"])
def test_a_bad_period_is_refused(run: Run, period: str) -> None:
    result = run(NOW, "tick", "--every", period)

    assert result.exit_code == 2
    assert result.stderr == f"seqctl: --every {period!r}: a period such as 30s, 1m, 5m or 1h\n"
