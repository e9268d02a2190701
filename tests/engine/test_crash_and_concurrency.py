"""Real `seqctl tick` processes: killed with SIGKILL at random points, or started together."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Launch
from tests.playbooks import auto_playbook

PLAYBOOK = auto_playbook(
    "bulk",
    """
  - id: hello
    type: email
    subject: "Hi {{ contact.first_name | default('there') }}"
    body: Hello
  - id: again
    type: email
    subject: Again
    body: Hello again
    wait: 2 hours
""",
)
CONTACTS = 5000
NOW = "2026-11-23T08:00:00Z"


@pytest.fixture
def bulk(launch: Launch, project: Path) -> Path:
    rows = "".join(f"c{i},c{i}@example.com,Name{i}\n" for i in range(CONTACTS))
    run = launch({"bulk": PLAYBOOK}, "key,email,first_name\n" + rows, at=NOW)
    assert run(f"--now={NOW}", "enroll", "bulk", "--file", "c.csv", "--json").json["enrolled"] == (
        CONTACTS
    )
    return project


def seqctl(project: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "seqctl", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def outbox_keys(project: Path) -> Counter[str]:
    path = project / "outbox.jsonl"
    keys: Counter[str] = Counter()
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            keys[json.loads(line)["idempotency_key"]] += 1
        except json.JSONDecodeError:
            pass  # a line cut in half by SIGKILL was never delivered
    return keys


def test_ticks_killed_at_random_points_lose_nothing_and_repeat_nothing(bulk: Path) -> None:
    chance = random.Random(20261123)
    kills = 0
    # A killed tick leaves its lease behind; it expires after 10 minutes, so each run is 11
    # minutes after the one before.
    minute = 0
    for _ in range(6):
        process = seqctl(bulk, f"--now=2026-11-23T08:{minute:02d}:00Z", "tick")
        time.sleep(chance.uniform(0.15, 0.6))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        minute += 11  # past the dead tick's lease
    final = seqctl(bulk, "--now=2026-11-23T09:30:00Z", "tick", "--json")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    keys = outbox_keys(bulk)
    assert kills >= 1
    assert max(keys.values()) == 1, "a message was delivered twice"
    assert sum(1 for k in keys if k.endswith(":hello")) == CONTACTS, "a message was lost"


def test_ticks_started_together_never_both_send(bulk: Path) -> None:
    processes = [seqctl(bulk, f"--now={NOW}", "tick", "--json") for _ in range(3)]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        reports.append(json.loads(out))
    assert sum(r["sent"] for r in reports) == CONTACTS
    assert sum(1 for r in reports if "busy" in r) >= 1
    keys = outbox_keys(bulk)
    assert len(keys) == CONTACTS and max(keys.values()) == 1


def test_a_tick_stopped_by_sigterm_records_all_it_sent(bulk: Path) -> None:
    """systemd stopping the unit, or `kill`: the batch in hand is finished, nothing is in flight."""
    tick = seqctl(bulk, f"--now={NOW}", "tick", "--json")
    outbox = bulk / "outbox.jsonl"
    deadline = time.monotonic() + 120
    while tick.poll() is None and not (outbox.exists() and outbox.stat().st_size):
        assert time.monotonic() < deadline, "the tick wrote nothing"
        time.sleep(0.002)
    tick.send_signal(signal.SIGTERM)
    out, err = tick.communicate(timeout=120)
    assert tick.returncode == 128 + signal.SIGTERM, err
    assert b"stopped (SIGTERM) between two batches" in err
    report = json.loads(out)
    assert report["stopped"] == "SIGTERM" and 0 < report["sent"] < CONTACTS
    sent = outbox_keys(bulk)
    with sqlite3.connect(bulk / "seqctl.db") as db:
        statuses = Counter(status for (status,) in db.execute("SELECT status FROM messages"))
        recorded = {key for (key,) in db.execute("SELECT idempotency_key FROM messages")}
    assert statuses == {"sent": report["sent"]}  # nothing left `sending`
    assert set(sent) == recorded and set(sent.values()) == {1}

    rest = seqctl(bulk, "--now=2026-11-23T08:01:00Z", "tick", "--json")
    out, err = rest.communicate(timeout=120)
    assert rest.returncode == 0, err
    assert json.loads(out)["sent"] == CONTACTS - report["sent"]
    sent = outbox_keys(bulk)
    assert len(sent) == CONTACTS and set(sent.values()) == {1}
