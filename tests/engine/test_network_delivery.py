"""A tick delivering over the network: outages measured in time and said on stderr, a hung
server that does not hold up the tick, a graceful stop mid-send, and shards."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.channels import ChannelSet
from seqctl.engine.run import shards
from seqctl.engine.run.tick import tick
from seqctl.store import open_store
from tests.channels.conftest import free_port
from tests.channels.latency import Provider, http_server, silent_server
from tests.conftest import Launch, Run
from tests.playbooks import auto_playbook

SMS = auto_playbook("texts", "  - id: hello\n    type: sms\n    body: Hello {{ contact.key }}\n")
EMAIL = auto_playbook(
    "mails",
    "  - id: hello\n    type: email\n    subject: Hi\n    body: Hello\n",
    settings="sender: {name: Ana, email: ana@acme.test}\n",
)


def contacts(count: int) -> str:
    return "key,email,phone\n" + "".join(
        f"c{i},c{i}@example.com,+35191000{i:04d}\n" for i in range(count)
    )


@pytest.fixture
def texts(launch: Launch, write: Callable[[str, str], Path]) -> Callable[[int, str], Run]:
    def make(count: int, channel: str) -> Run:
        run = launch({"texts": SMS}, contacts(count))
        write("seqctl.yaml", f"channels:\n  sms: {channel}\n")
        assert (
            run("--now=2026-11-23T08:00:00Z", "enroll", "texts", "--file", "c.csv").exit_code == 0
        )
        return run

    return make


def test_a_webhook_down_for_twenty_minutes_loses_nothing_and_says_so_every_tick(
    texts: Callable[[int, str], Run],
) -> None:
    port = free_port()
    run = texts(3, f"{{kind: webhook, url: 'http://127.0.0.1:{port}/sms'}}")
    first = run("--now=2026-11-23T08:00:00Z", "tick")
    assert first.exit_code == 0  # nothing failed for good: the messages wait
    assert first.stderr == (
        f"seqctl: channel sms is failing: cannot connect to http://127.0.0.1:{port}: "
        "[Errno 111] Connection refused; 3 messages wait, next try at 2026-11-23T08:00:48Z\n"
    )
    waiting = run("messages", "--json").json
    assert {(m["status"], m["attempts"]) for m in waiting} == {("queued", 0)}  # held: no attempt
    for minute in range(1, 20):  # cron, every minute, while it is down
        tick_ = run(f"--now=2026-11-23T08:{minute:02d}:00Z", "tick")
        assert tick_.exit_code == 0
        assert tick_.stderr.startswith("seqctl: channel sms is failing: cannot connect to")
        assert "3 messages wait, next try at 2026-11-23T08:" in tick_.stderr
    provider = Provider()
    with http_server(provider, port=port):
        report = run("--now=2026-11-23T08:40:00Z", "tick", "--json")
    assert (report.json["sent"], report.json["failed"], report.stderr) == (3, 0, "")
    assert len(provider.received) == 3
    assert "failing" not in report.json


def test_retry_after_six_hundred_seconds_waits_ten_minutes(
    texts: Callable[[int, str], Run],
) -> None:
    provider = Provider(mode="busy", retry_after=600)
    with http_server(provider) as port:
        run = texts(2, f"{{kind: webhook, url: 'http://127.0.0.1:{port}/sms', connections: 1}}")
        report = run("--now=2026-11-23T08:00:00Z", "tick", "--json")
        assert report.json["failing"] == [
            {
                "channel": "sms",
                "waiting": 2,
                "next_try": min(m["next_attempt_at"] for m in run("messages", "--json").json),
                "error": "HTTP 429: slow down",
            }
        ]
        assert provider.requests == 1
        assert {
            m["next_attempt_at"] >= "2026-11-23T08:10:00Z" for m in run("messages", "--json").json
        } == {True}
        run("--now=2026-11-23T08:05:00Z", "tick")
        assert provider.requests == 1  # not before the ten minutes
        provider.mode = "ok"
        assert run("--now=2026-11-23T08:15:00Z", "tick", "--json").json["sent"] == 2


def test_a_hung_smtp_server_costs_one_timeout_per_tick_not_one_per_batch(
    launch: Launch, project: Path
) -> None:
    run = launch({"mails": EMAIL}, contacts(12))
    assert run("--now=2026-11-23T08:00:00Z", "enroll", "mails", "--file", "c.csv").exit_code == 0
    with silent_server() as port:
        spec = {"kind": "smtp", "host": "127.0.0.1", "port": port, "connect_timeout": 0.3}
        channels = ChannelSet({"email": spec}, project / "outbox.jsonl")
        with open_store(project / "seqctl.db") as store:
            started = time.monotonic()
            report = tick(store, channels, now=datetime(2026, 11, 23, 8, tzinfo=UTC), batch_size=3)
            seconds = time.monotonic() - started
        channels.close()
    assert (report.due, report.sent, report.failed) == (12, 0, 0)
    assert seconds < 2.5  # four batches, one connect timeout for all
    [trouble] = report.failing
    assert (trouble.channel, trouble.waiting) == ("email", 12)
    assert "cannot connect to 127.0.0.1" in str(trouble.error)


def test_sigterm_mid_send_stops_with_nothing_in_flight(
    texts: Callable[[int, str], Run], project: Path
) -> None:
    provider = Provider(latency=0.01)
    with http_server(provider) as port:
        texts(400, f"{{kind: webhook, url: 'http://127.0.0.1:{port}/sms', connections: 4}}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
        command = [sys.executable, "-m", "seqctl", "--now=2026-11-23T08:00:00Z", "tick"]
        process = subprocess.Popen(command, cwd=project, env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(provider.received) < 20:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 128 + signal.SIGTERM, err
        with sqlite3.connect(project / "seqctl.db") as db:
            statuses = dict(db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status"))
        assert "sending" not in statuses  # every message started was recorded
        assert statuses["sent"] == len(provider.received) < 400
        rest = subprocess.run(
            [sys.executable, "-m", "seqctl", "--now=2026-11-23T08:01:00Z", "tick"],
            cwd=project,
            env=env,
            capture_output=True,
        )
        assert rest.returncode == 0, rest.stderr
    assert len(provider.received) == 400 and provider.repeats == 0


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shard even a small tick, on two cores whatever the machine has."""
    monkeypatch.setattr(shards, "PARALLEL_FROM", 1)
    monkeypatch.setattr(shards, "_cores", lambda: 2)


def test_a_sharded_tick_sends_webhooks_once_each_after_recovering_one_in_flight(
    texts: Callable[[int, str], Run], project: Path, parallel: None
) -> None:
    provider = Provider(latency=0.002)
    with http_server(provider) as port:
        url = f"http://127.0.0.1:{port}/sms"
        run = texts(60, f"{{kind: webhook, url: '{url}'}}")
        # A first tick sent one message and died with another in flight.
        channels = ChannelSet({"sms": {"kind": "webhook", "url": url}}, project / "x.jsonl")
        with open_store(project / "seqctl.db") as store:
            report = tick(store, channels, now=datetime(2026, 11, 23, 8, tzinfo=UTC), limit=2)
            channels.close()
            store.db.execute(
                "UPDATE messages SET status = 'sending' WHERE id = (SELECT MAX(id) FROM messages)"
            )
            store.db.execute("DELETE FROM leases")
        assert report.sent == 2
        result = run("--now=2026-11-23T08:01:00Z", "tick", "--json")
        assert (result.json["sent"], result.json["resent"]) == (59, 1)
    assert len(provider.received) == 60 and provider.repeats == 1
    messages = run("messages", "--json").json
    assert {m["status"] for m in messages} == {"sent"}
    assert [m["resent"] for m in messages].count(1) == 1
    assert "sent again after an unknown outcome (1x)" in run("messages").stdout


def test_shards_whose_tick_was_killed_stop_between_messages_and_lose_nothing(
    texts: Callable[[int, str], Run], project: Path
) -> None:
    """SIGKILL to the tick alone (the OOM killer picks one process): its shards do not go on
    sending for a tick nobody is running any more, holding its lease."""
    provider = Provider(latency=0.01)
    with http_server(provider) as port:
        run = texts(400, f"{{kind: webhook, url: 'http://127.0.0.1:{port}/sms', connections: 2}}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
        parent = subprocess.Popen(
            [sys.executable, "-m", "seqctl", "--now=2026-11-23T08:00:00Z", "tick"]
            + ["--workers", "2"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not provider.received and time.monotonic() < deadline:
            time.sleep(0.005)  # the shards send
        shards = _children(parent.pid)
        assert len(shards) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in shards) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(_alive(pid) for pid in shards)
        stopped_at = len(provider.received)
        assert stopped_at < 400  # they stopped, not finished
        result = run("--now=2026-11-23T08:11:00Z", "tick", "--json")  # the lease ran out
        assert result.exit_code == 0
    assert len(provider.received) == 400
    assert provider.repeats == 0  # each shard recorded what it sent before it stopped


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie left for init to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
