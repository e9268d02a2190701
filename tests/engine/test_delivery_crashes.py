"""Real `seqctl tick` processes sending to servers that answer like real ones far away (every
reply late), killed with SIGKILL at random moments and run to the end: every message arrives,
and a kill repeats at most the messages in flight on the connections open at that moment."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.channels.latency import Provider, http_server, smtp_server
from tests.conftest import Launch
from tests.playbooks import auto_playbook

CONTACTS = 400
CONNECTIONS = 4
KILLS = 12
# Seconds before each reply: a message takes about 15 ms on a connection (SMTP has three).
SMTP_LATENCY, HTTP_LATENCY = 0.005, 0.015
PLAYBOOK = auto_playbook(
    "far",
    "  - id: hello\n    type: {type}\n    subject: Hi\n    body: Hello {{ contact.key }}\n",
    settings="sender: {name: Ana, email: ana@acme.test}\n",
)


def seqctl(project: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "seqctl", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_ticks_then_finish(project: Path, provider: Provider, seed: int) -> tuple[int, int]:
    """Ticks killed at random moments while they send, then one run to the end.

    Returns (kills that landed, most repeats one kill caused)."""
    chance = random.Random(seed)
    kills, worst, minute = 0, 0, 0
    while kills < KILLS and len(provider.received) < CONTACTS:
        before = provider.repeats
        # A killed tick leaves its lease behind for 10 minutes: each run is 11 minutes later.
        process = seqctl(
            project, f"--now=2026-11-23T{8 + minute // 60:02d}:{minute % 60:02d}:00Z", "tick"
        )
        minute += 11
        started = time.monotonic()
        total = sum(provider.received.values())
        while process.poll() is None and sum(provider.received.values()) == total:
            time.sleep(0.002)  # this run has begun to send (start-up is not what is tested)
        time.sleep(chance.uniform(0.0, 0.15))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        assert time.monotonic() - started < 30
        # The next run's recovery repeats what this kill left in flight: counted then.
        worst = max(worst, provider.repeats - before)
    final = seqctl(project, "--now=2026-11-23T20:00:00Z", "tick", "--json")
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err.decode()
    return kills, max(worst, 0)


def resent(project: Path) -> int:
    with sqlite3.connect(project / "seqctl.db") as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status"))
        assert statuses == {"sent": CONTACTS}, statuses
        return int(db.execute("SELECT SUM(resent) FROM messages").fetchone()[0])


@pytest.fixture
def far(launch: Launch, project: Path) -> Callable[[str, str], Path]:
    def make(message_type: str, channel: str) -> Path:
        rows = "".join(f"c{i},c{i}@example.com\n" for i in range(CONTACTS))
        playbook = PLAYBOOK.replace("{type}", message_type)
        run = launch({"far": playbook}, "key,email,phone\n" + rows.replace("\n", ",+3519100\n"))
        (project / "seqctl.yaml").write_text(f"channels:\n  {message_type}: {channel}\n")
        enrolled = run("--now=2026-11-23T08:00:00Z", "enroll", "far", "--file", "c.csv", "--json")
        assert enrolled.json["enrolled"] == CONTACTS
        return project

    return make


def test_smtp_ticks_killed_mid_send_repeat_at_most_one_message_per_connection(
    far: Callable[[str, str], Path],
) -> None:
    provider = Provider(latency=SMTP_LATENCY)
    with smtp_server(provider) as port:
        project = far(
            "email",
            f"{{kind: smtp, host: 127.0.0.1, port: {port}, connections: {CONNECTIONS}}}",
        )
        kills, worst = kill_ticks_then_finish(project, provider, seed=13)
    assert kills >= KILLS // 2
    assert len(provider.received) == CONTACTS, "a message was lost"
    assert worst <= CONNECTIONS, f"one kill repeated {worst} messages"
    assert provider.repeats <= kills * CONNECTIONS
    assert resent(project) >= provider.repeats  # `messages` shows every repeat


def test_webhook_ticks_killed_mid_send_repeat_at_most_one_message_per_connection(
    far: Callable[[str, str], Path],
) -> None:
    provider = Provider(latency=HTTP_LATENCY)
    with http_server(provider) as port:
        project = far(
            "sms",
            f"{{kind: webhook, url: 'http://127.0.0.1:{port}/sms', connections: {CONNECTIONS}}}",
        )
        kills, worst = kill_ticks_then_finish(project, provider, seed=31)
    assert kills >= KILLS // 2
    assert len(provider.received) == CONTACTS, "a message was lost"
    assert worst <= CONNECTIONS, f"one kill repeated {worst} messages"
    assert provider.repeats <= kills * CONNECTIONS
    total = resent(project)
    assert total >= provider.repeats
    messages = json.loads(
        subprocess.run(
            [sys.executable, "-m", "seqctl", "messages", "--json"],
            cwd=project,
            capture_output=True,
            check=True,
        ).stdout
    )
    assert sum(m["resent"] for m in messages) == total  # `messages --json` says so too
