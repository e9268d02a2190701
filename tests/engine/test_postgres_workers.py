"""Several `seqctl tick` processes on one PostgreSQL database at once, as on several machines:
they share the work, nothing is sent twice, and a worker killed with SIGKILL in the middle
of a batch leaves nothing lost, repeating at most what it had in flight."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.channels.latency import Provider, http_server
from tests.conftest import Launch
from tests.playbooks import auto_playbook

pytestmark = pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)

CONTACTS = 600
CONNECTIONS = 4
CLAIM_SECONDS = 3.0  # a dead worker's claims run out this fast here (120 s by default)
PLAYBOOK = auto_playbook(
    "far",
    "  - id: hello\n    type: sms\n    body: Hello {{ contact.key }}\n"
    "  - id: later\n    type: wait\n    wait: 1d\n"
    "  - id: again\n    type: sms\n    body: Again {{ contact.key }}\n",
)


def tick(
    project: Path, now: str, *args: str, claims: float | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    env["SEQCTL_DB"] = os.environ["SEQCTL_DB"]
    if claims is not None:  # how soon a dead worker's claims run out
        env["SEQCTL_CLAIM_SECONDS"] = str(claims)
    return subprocess.Popen(
        [sys.executable, "-m", "seqctl", f"--now={now}", "tick", "--json", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def far(launch: Launch, project: Path) -> Callable[..., Path]:
    def make(port: int, *, rounds: int = 1) -> Path:
        rows = [f"c{i},+35191{i:07d}\n" for i in range(CONTACTS)]
        run = launch({"far": PLAYBOOK}, "key,phone\n" + "".join(rows))
        channel = f"{{kind: webhook, url: 'http://127.0.0.1:{port}/sms', connections: 4}}"
        (project / "seqctl.yaml").write_text(f"channels:\n  sms: {channel}\n")
        size = CONTACTS // rounds
        for part in range(rounds):  # enrolled in `rounds` groups, an hour apart
            (project / f"part{part}.csv").write_text(
                "key,phone\n" + "".join(rows[part * size : (part + 1) * size])
            )
            enrolled = run(
                f"--now=2026-11-23T{8 + part:02d}:00:00Z",
                "enroll",
                "far",
                "--file",
                f"part{part}.csv",
                "--json",
            )
            assert enrolled.json["enrolled"] == size
        return project

    return make


def together(project: Path, now: str, *args: str) -> list[dict[str, int]]:
    """Three ticks started at once; their reports."""
    workers = [tick(project, now, *args) for _ in range(3)]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
        reports.append(json.loads(out))
    return reports


def statuses(project: Path) -> dict[str, int]:
    listed = subprocess.run(
        [sys.executable, "-m", "seqctl", "messages", "--json", "--limit", "100000"],
        cwd=project,
        capture_output=True,
        check=True,
    )
    counts: dict[str, int] = {}
    for message in json.loads(listed.stdout):
        counts[message["status"]] = counts.get(message["status"], 0) + 1
    return counts


def test_ticks_started_together_share_the_work_and_send_each_message_once(
    far: Callable[..., Path],
) -> None:
    provider = Provider(latency=0.002)
    with http_server(provider) as port:
        project = far(port)
        # Each takes at most a third: all three must have worked, on different contacts.
        reports = together(project, "2026-11-23T08:00:00Z", "--limit", str(CONTACTS // 3))
        assert [r["sent"] for r in reports] == [CONTACTS // 3] * 3
        # As many as they can: however they split it, each message once.
        reports = together(project, "2026-11-24T08:00:00Z")
        assert sum(r["sent"] for r in reports) == CONTACTS
    assert len(provider.received) == 2 * CONTACTS
    assert provider.repeats == 0, f"{provider.repeats} messages went twice"
    assert statuses(project) == {"sent": 2 * CONTACTS}


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_its_messages_in_flight(
    far: Callable[..., Path],
) -> None:
    chance = random.Random(7)
    provider = Provider(latency=0.01)
    kills = 0
    with http_server(provider) as port:
        project = far(port, rounds=4)
        for part in range(4):  # a group of contacts falls due each hour
            now = f"2026-11-23T{8 + part:02d}:00:00Z"
            before = provider.repeats
            victim = tick(project, now, claims=CLAIM_SECONDS)
            other = tick(project, now, claims=CLAIM_SECONDS)
            total = sum(provider.received.values())
            while victim.poll() is None and sum(provider.received.values()) == total:
                time.sleep(0.002)
            time.sleep(chance.uniform(0.0, 0.08))
            if victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                kills += 1
            victim.wait()
            _, err = other.communicate(timeout=120)
            assert other.returncode == 0, err.decode()
            time.sleep(CLAIM_SECONDS + 0.2)  # the dead worker's claims run out
            final = tick(project, now, claims=CLAIM_SECONDS)
            _, err = final.communicate(timeout=120)
            assert final.returncode == 0, err.decode()
            # What the kill left in flight went again: at most one per connection.
            assert provider.repeats - before <= CONNECTIONS
    assert kills >= 2
    assert len(provider.received) == CONTACTS, "a message was lost"
    assert statuses(project) == {"sent": CONTACTS}


def test_one_tick_with_several_worker_processes_sends_each_message_once(
    far: Callable[..., Path],
) -> None:
    provider = Provider(latency=0.001)
    with http_server(provider) as port:
        project = far(port)
        worker = tick(project, "2026-11-23T08:00:00Z", "--workers", "3")
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    assert json.loads(out)["sent"] == CONTACTS
    assert len(provider.received) == CONTACTS
    assert provider.repeats == 0
    assert statuses(project) == {"sent": CONTACTS}
