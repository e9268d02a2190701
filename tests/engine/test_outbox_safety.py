"""The outbox: nothing sent twice after a crash, one tick at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.channels import ChannelSet, Delivery, FileChannel, Outgoing
from seqctl.engine.run.stopping import StopRequest
from seqctl.engine.run.tick import tick
from seqctl.store import open_store
from seqctl.timeutil import from_db
from tests.conftest import Launch, Run
from tests.engine.outbox import channels_with, outbox
from tests.playbooks import HELLO, auto_playbook

PLAYBOOK = auto_playbook(
    "auto",
    HELLO,
    """
  - id: again
    type: email
    wait: 1 day
    subject: Again
    body: Hello again
""",
)


@pytest.fixture
def queued(launch: Launch, project: Path) -> Path:
    """Two contacts enrolled; their first messages written to the outbox as 'queued'."""
    run = launch({"auto": PLAYBOOK}, "key,email\nann,ann@example.com\nbob,bob@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "auto", "-c", "ann", "-c", "bob")
    return project / "seqctl.db"


def keys(project: Path) -> list[str]:
    return [m["idempotency_key"] for m in outbox(project)]


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


class DiesAfterWriting(FileChannel):
    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        super()._append(messages)
        raise Killed


class DiesBeforeWriting(FileChannel):
    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        raise Killed


def crashing_tick(db: Path, project: Path, channel: type[FileChannel]) -> None:
    channels = channels_with(project, channel)
    with open_store(db) as store, pytest.raises(Killed):
        tick(store, channels, now=datetime(2026, 11, 23, 8, tzinfo=UTC))
    with open_store(db) as store:  # the lease of the dead tick is still there: let it expire
        store.db.execute("DELETE FROM leases")
        store.db.conn.commit()


@pytest.mark.parametrize("channel", [DiesAfterWriting, DiesBeforeWriting])
def test_a_killed_tick_loses_nothing_and_sends_nothing_twice(
    queued: Path, run: Run, project: Path, channel: type[FileChannel]
) -> None:
    crashing_tick(queued, project, channel)
    assert run("--now=2026-11-23T08:01:00Z", "tick", "--json").json["sent"] == 2
    assert keys(project) == ["1:1:hello", "2:1:hello"]
    enrollments = run("enrollments", "--json").json
    assert [(e["step"], e["next_due_at"]) for e in enrollments] == [
        ("again", "2026-11-24T08:01:00Z"),
        ("again", "2026-11-24T08:01:00Z"),
    ]
    messages = run("messages", "--json").json
    assert [(m["contact"], m["status"]) for m in messages] == [("ann", "sent"), ("bob", "sent")]


def test_a_second_tick_while_one_runs_says_so_and_exits_zero(queued: Path, run: Run) -> None:
    with open_store(queued) as store, store.transaction():
        store.take_lease(
            "tick",
            "other-host:42",
            from_db("2026-11-23T08:00:00Z"),
            from_db("2026-11-23T08:10:00Z"),
        )
    result = run("--now=2026-11-23T08:01:00Z", "tick")
    assert result.exit_code == 0
    assert result.stdout == "another tick is running (other-host:42); nothing to do\n"
    # The lease expires on its own: a tick that died does not block the next ones forever.
    assert run("--now=2026-11-23T08:11:00Z", "tick", "--json").json["sent"] == 2


def test_a_line_cut_short_by_a_killed_writer_stays_on_its_own(tmp_path: Path) -> None:
    from seqctl.channels import FileChannel, Outgoing, send_all

    outbox = tmp_path / "outbox.jsonl"
    outbox.write_text('{"id": 1, "idempotency_key": "1:1:hel')  # killed mid-line
    message = Outgoing(2, "2:1:hello", "s", 1, "hello", "c", "email", "a@b", "S", "B", "t")
    [delivery] = send_all(FileChannel(outbox), [message])
    assert delivery.ok
    lines = outbox.read_text().splitlines()
    assert lines[0] == '{"id": 1, "idempotency_key": "1:1:hel'
    assert json.loads(lines[1])["idempotency_key"] == "2:1:hello"
    assert FileChannel(outbox).delivered({"1:1:hello", "2:1:hello"}) == {"2:1:hello"}


def test_a_tick_whose_lease_was_taken_over_stops_before_the_next_batch(
    queued: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick that ran past its lease (another took over) writes and sends nothing more."""
    from seqctl.errors import SeqctlError
    from seqctl.store import SqliteStore

    original = SqliteStore.due
    calls = []

    def due_then_taken_over(self: SqliteStore, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:  # between the batches another tick takes the lease
            self.db.execute("UPDATE leases SET holder = 'other-host:42'")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteStore, "due", due_then_taken_over)
    channels = ChannelSet({}, project / "outbox.jsonl")
    with open_store(queued) as store, pytest.raises(SeqctlError, match="another tick took over"):
        tick(store, channels, now=datetime(2026, 11, 23, 8, tzinfo=UTC), batch_size=1)
    assert keys(project) == ["1:1:hello"]
    with open_store(queued) as store:
        statuses = store.db.execute("SELECT contact, status FROM messages").fetchall()
    assert statuses == [("ann", "sent")]  # bob's message was never written


REQUEST = StopRequest()


class AsksToStop(FileChannel):
    """Writes its batch, and meanwhile (as a signal would) the tick is asked to stop."""

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        delivered = super()._append(messages)
        REQUEST.request("SIGTERM")
        return delivered


def test_a_stop_request_ends_the_tick_after_the_batch_in_hand(
    queued: Path, run: Run, project: Path
) -> None:
    REQUEST.reason = None
    with open_store(queued) as store:
        report = tick(
            store,
            channels_with(project, AsksToStop),
            now=datetime(2026, 11, 23, 8, tzinfo=UTC),
            batch_size=1,
            stop=REQUEST,
        )
    assert (report.stopped, report.due, report.sent) == ("SIGTERM", 1, 1)
    assert report.as_json()["stopped"] == "SIGTERM"
    assert keys(project) == ["1:1:hello"]
    messages = run("messages", "--json").json
    assert [(m["contact"], m["status"]) for m in messages] == [("ann", "sent")]  # none in flight
    assert run("--now=2026-11-23T08:01:00Z", "tick", "--json").json["sent"] == 1
    assert keys(project) == ["1:1:hello", "2:1:hello"]
