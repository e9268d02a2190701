"""Real ticks sending two chained steps through two channels (webhook, then SMTP), in one
process and in shards, SIGKILLed at random moments and run to the end: every outcome the
journals kept is recorded once (one attempt a message, one `sent` a step), every enrollment
completes, no journal is left, and a kill repeats at most one message per connection."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.channels.latency import Provider, http_server, smtp_server
from tests.conftest import Launch
from tests.playbooks import auto_playbook

CONTACTS = 600
CONNECTIONS = 4
KILLS = 8
PLAYBOOK = auto_playbook(
    "two",
    "  - id: first\n    type: sms\n    body: One {{ contact.key }}\n"
    "  - id: second\n    type: email\n    subject: Hi\n    body: Two {{ contact.key }}\n",
    settings="sender: {name: Ana, email: ana@acme.test}\n",
)
START = datetime(2026, 11, 23, 8, tzinfo=UTC)


def tick(project: Path, at: datetime, workers: str) -> subprocess.Popen[bytes]:
    """A tick in a process group of its own: its shards are killed with it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "seqctl", f"--now={at:%Y-%m-%dT%H:%M:%SZ}", "tick"]
        + ["--workers", workers],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@pytest.mark.parametrize("workers,seed", [("1", 1), ("2", 2)])
def test_killed_ticks_record_each_outcome_once(
    launch: Launch, project: Path, workers: str, seed: int
) -> None:
    provider = Provider(latency=0.003)
    chance = random.Random(seed)
    with http_server(provider) as port, smtp_server(provider) as smtp_port:
        rows = "".join(f"c{i},+3519100{i:05d},c{i}@example.com\n" for i in range(CONTACTS))
        run = launch({"two": PLAYBOOK}, "key,phone,email\n" + rows)
        (project / "seqctl.yaml").write_text(
            "channels:\n"
            f"  sms: {{kind: webhook, url: 'http://127.0.0.1:{port}/sms', "
            f"connections: {CONNECTIONS}}}\n"
            f"  email: {{kind: smtp, host: 127.0.0.1, port: {smtp_port}, "
            f"connections: {CONNECTIONS}}}\n"
        )
        assert run("--now=2026-11-23T08:00:00Z", "enroll", "two", "--file", "c.csv").exit_code == 0
        kills, worst, minute = 0, 0, 0
        while kills < KILLS and len(provider.received) < 2 * CONTACTS:
            before = provider.repeats
            total = sum(provider.received.values())
            process = tick(project, START + timedelta(minutes=minute), workers)
            minute += 11  # a killed tick's lease lasts ten minutes
            while process.poll() is None and sum(provider.received.values()) == total:
                time.sleep(0.002)  # it has begun to send
            time.sleep(chance.uniform(0.0, 0.3))
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                kills += 1
            process.wait()
            worst = max(worst, provider.repeats - before)
        final = tick(project, START + timedelta(days=2), workers)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
    with sqlite3.connect(project / "seqctl.db") as db:
        wrong = db.execute(
            "SELECT id, status, attempts FROM messages WHERE status != 'sent' OR attempts != 1"
        ).fetchall()
        twice = db.execute(
            "SELECT enrollment, step FROM history WHERE kind = 'sent'"
            " GROUP BY enrollment, step HAVING COUNT(*) > 1"
        ).fetchall()
        per_enrollment = db.execute(
            "SELECT enrollment FROM messages GROUP BY enrollment HAVING COUNT(*) != 2"
        ).fetchall()
        states = dict(db.execute("SELECT state, COUNT(*) FROM enrollments GROUP BY state"))
    assert kills > 0
    assert len(provider.received) == 2 * CONTACTS
    assert (wrong[:5], twice[:5], per_enrollment[:5]) == ([], [], [])
    assert states == {"completed": CONTACTS}
    assert not (project / "seqctl.db.outcomes").exists()
    # Two channels, each with its connections, in each process.
    assert worst <= 2 * CONNECTIONS * int(workers)
