"""A big tick on several cores: the same outcome as one process, caps kept in one process."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seqctl.channels import ChannelSet
from seqctl.engine.run import shards
from seqctl.engine.run.stopping import StopRequest
from seqctl.engine.run.tick import Run as TickRun
from seqctl.engine.run.tick import tick
from seqctl.errors import SeqctlError
from seqctl.store import open_store
from seqctl.timeutil import from_db
from tests.conftest import Run

PLAYBOOK = """\
sequence: news
owner: a
approval: auto
consent: {by: a, at: "2026-11-01"}
steps:
  - id: hello
    type: email
    subject: "Hi {{ contact.first_name | default('there') }}"
    body: Hello from us.
  - id: later
    type: email
    wait: 2 days
    subject: Again
    body: Still here.
"""
COUNT = 60


@pytest.fixture
def enrolled(run: Run, write: Callable[[str, str], Path], project: Path) -> Path:
    write("playbooks/news.yaml", PLAYBOOK)
    rows = "".join(f"c{i},c{i}@example.com,Name{i}\n" for i in range(COUNT))
    write("c.csv", "key,email,first_name\n" + rows)
    assert run("--now=2026-11-23T08:00:00Z", "publish").exit_code == 0
    assert run("activate", "news").exit_code == 0
    assert run("contacts", "import", "c.csv").exit_code == 0
    assert run("--now=2026-11-23T08:00:00Z", "enroll", "news", "--file", "c.csv").exit_code == 0
    return project / "seqctl.db"


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shard even a small tick, on two cores whatever the machine has."""
    monkeypatch.setattr(shards, "PARALLEL_FROM", 1)
    monkeypatch.setattr(shards, "_cores", lambda: 2)


def test_a_sharded_tick_sends_each_message_once(
    run: Run, enrolled: Path, project: Path, parallel: None
) -> None:
    with open_store(enrolled) as store:
        assert shards.workers(store, from_db("2026-11-23T09:00:00Z"), None, {}) == 2

    result = run("--now=2026-11-23T09:00:00Z", "tick", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json["due"] == COUNT and result.json["sent"] == COUNT
    lines = [json.loads(line) for line in (project / "outbox.jsonl").read_text().splitlines()]
    assert sorted(line["contact"] for line in lines) == sorted(f"c{i}" for i in range(COUNT))
    assert {line["subject"] for line in lines} == {f"Hi Name{i}" for i in range(COUNT)}
    db = sqlite3.connect(enrolled)
    assert db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall() == [
        ("sent", COUNT)
    ]
    assert db.execute(
        "SELECT state, step, next_due_at, COUNT(*) FROM enrollments GROUP BY 1, 2, 3"
    ).fetchall() == [("active", 1, "2026-11-25T09:00:00Z", COUNT)]
    assert db.execute("SELECT COUNT(*) FROM history WHERE kind = 'sent'").fetchone() == (COUNT,)
    # The parent's connection works again after the fork: the next tick has nothing to do.
    assert run("--now=2026-11-23T09:01:00Z", "tick", "--json").json["due"] == 0


def test_a_failing_shard_stops_the_tick_with_its_error(
    run: Run, enrolled: Path, project: Path, parallel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = TickRun.advance_shard

    def flaky(self: TickRun, store: object, shard: tuple[int, int], progress: object) -> object:
        if shard[0] == 1:
            raise SeqctlError("the outbox disk is full")
        return original(self, store, shard, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(TickRun, "advance_shard", flaky)

    result = run("--now=2026-11-23T09:00:00Z", "tick")

    assert result.exit_code != 0
    assert "the outbox disk is full" in result.stderr
    # Shard 0 did its share; shard 1's stays due for the next tick, which finishes the job.
    monkeypatch.setattr(TickRun, "advance_shard", original)
    done = run("--now=2026-11-23T09:01:00Z", "tick", "--json").json
    assert 0 < done["due"] < COUNT
    keys = [json.loads(line)["idempotency_key"] for line in (project / "outbox.jsonl").open()]
    assert len(keys) == len(set(keys)) == COUNT


def test_daily_caps_keep_the_tick_in_one_process(
    run: Run, write: Callable[[str, str], Path], enrolled: Path, parallel: None
) -> None:
    stamp = from_db("2026-11-23T09:00:00Z")
    with open_store(enrolled) as store:
        assert shards.workers(store, stamp, None, {}) == 2
        assert shards.workers(store, stamp, 10, {}) == 1  # --limit: one process, in order
        assert shards.workers(store, stamp, None, {"ana@acme.test": {"per_day": 100}}) == 1
    # A cap in any version of an active sequence keeps the tick in one process.
    write("playbooks/news.yaml", PLAYBOOK + "limits: {per_day: 50}\n")
    assert run("--now=2026-11-23T08:30:00Z", "publish").exit_code == 0
    with open_store(enrolled) as store:
        assert shards.workers(store, stamp, None, {}) == 1


def test_a_small_tick_or_one_core_stays_in_one_process(
    enrolled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamp = from_db("2026-11-23T09:00:00Z")
    with open_store(enrolled) as store:
        assert shards.workers(store, stamp, None, {}) == 1  # 60 due, far below the threshold
        monkeypatch.setattr(shards, "PARALLEL_FROM", 1)
        monkeypatch.setattr(shards, "_cores", lambda: 1)
        assert shards.workers(store, stamp, None, {}) == 1


def test_a_worker_killed_holding_the_write_lock_stops_the_tick_quickly(
    run: Run, enrolled: Path, project: Path, parallel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The others would wait for a lock nobody will release: the tick stops them and says so."""
    import os
    import signal

    original = TickRun.advance_shard

    def dies(self: TickRun, store: Any, shard: tuple[int, int], progress: object) -> object:
        if shard[0] == 1:
            store.writers.acquire()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, store, shard, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(TickRun, "advance_shard", dies)
    started = time.monotonic()
    result = run("--now=2026-11-23T09:00:00Z", "tick")
    assert time.monotonic() - started < 20  # not 30 s a transaction
    assert result.exit_code != 0
    assert "tick worker 2 stopped unexpectedly (exit code -9)" in result.stderr

    monkeypatch.setattr(TickRun, "advance_shard", original)
    assert run("--now=2026-11-23T09:01:00Z", "tick").exit_code == 0  # the next one finishes
    keys = [json.loads(line)["idempotency_key"] for line in (project / "outbox.jsonl").open()]
    assert len(keys) == len(set(keys)) == COUNT


def test_a_stop_request_reaches_every_shard(
    enrolled: Path, project: Path, parallel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal to the parent alone (`kill PID`): the shards stop between batches as well."""
    original = TickRun.advance_shard

    def waits_for_the_request(
        self: TickRun, store: Any, shard: tuple[int, int], progress: Callable[[int], None]
    ) -> dict[str, int]:
        progress(0)  # the parent is asked to stop when it hears from a shard
        deadline = time.monotonic() + 30
        while self.stop() is None:  # until the parent passes the request on
            if time.monotonic() > deadline:
                raise SeqctlError("the stop request never reached the shard")
            time.sleep(0.001)
        return original(self, store, shard, progress)

    monkeypatch.setattr(TickRun, "advance_shard", waits_for_the_request)
    stop = StopRequest()
    with open_store(enrolled) as store:
        report = tick(
            store,
            ChannelSet({}, project / "outbox.jsonl"),
            now=datetime(2026, 11, 23, 9, tzinfo=UTC),
            progress=lambda count: stop.request("SIGTERM"),
            stop=stop,
        )
    assert (report.stopped, report.due, report.sent) == ("SIGTERM", 0, 0)

    monkeypatch.setattr(TickRun, "advance_shard", original)
    with open_store(enrolled) as store:
        done = tick(
            store,
            ChannelSet({}, project / "outbox.jsonl"),
            now=datetime(2026, 11, 23, 9, tzinfo=UTC),
        )
    assert (done.stopped, done.sent) == (None, COUNT)
