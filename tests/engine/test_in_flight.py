"""A tick makes its next batch while the messages of the one before are on their way: the
connections of a channel never wait for a batch to be made, and every outcome is still kept
(in the database, or in the journal beside it) before its connection starts the next
message."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.channels import ChannelSet, Delivery, Journal, Outgoing, Progress
from seqctl.channels.lanes import LaneFlow, Lanes
from seqctl.engine.run.tick import tick
from seqctl.store import open_store
from seqctl.store.sqlite.base import SqliteStore
from tests.channels.latency import Provider, http_server, smtp_server
from tests.conftest import Launch
from tests.playbooks import auto_playbook

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)
SMS = auto_playbook("texts", "  - id: hello\n    type: sms\n    body: Hello {{ contact.key }}\n")


def contacts(count: int) -> str:
    return "key,phone\n" + "".join(f"c{i},+35191000{i:04d}\n" for i in range(count))


class Gated:
    """An SMS gateway that answers the first batch's messages only once the tick has handed
    over the next batch: a tick that waited for the first batch to be answered before making
    the next would never get its answers (each fails after a few seconds instead)."""

    name = "sms"
    knows_delivered = False

    def __init__(self) -> None:
        self.lanes = Lanes("sms", 2, lambda: _GatedLane(self))
        self.batches: list[list[int]] = []
        self.next_batch = threading.Event()
        self.written: Callable[[int], str | None] = lambda message_id: None
        self.unrecorded: list[str] = []  # a message started before the last outcome was written

    def flow(
        self, halt: Callable[[], bool] | None = None, journal: Journal | None = None
    ) -> LaneFlow:
        gated = self

        class Counted(LaneFlow):
            def put(self, messages: Sequence[Outgoing]) -> None:
                gated.batches.append([m.id for m in messages])
                if len(gated.batches) > 1:
                    gated.next_batch.set()
                super().put(messages)

        return Counted(self.lanes, halt, journal)

    def send(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        return self.lanes.run(messages, halt)

    def delivered(self, keys: set[str]) -> set[str]:
        return set()

    def close(self) -> None:
        self.lanes.close()


class _GatedLane:
    def __init__(self, gateway: Gated) -> None:
        self.gateway = gateway
        self.last: int | None = None

    def open(self) -> str | None:
        return None

    def held(self, message: Outgoing) -> Delivery | None:
        return None

    def send(self, message: Outgoing) -> Delivery:
        status = self.gateway.written(message.id)
        if status != "sending":
            self.gateway.unrecorded.append(f"message {message.id} was {status} when sent")
        if self.last is not None and self.gateway.written(self.last) != "done":
            self.gateway.unrecorded.append(f"message {self.last} not recorded before the next")
        self.last = message.id
        first = self.gateway.batches[0]
        if message.id in first and not self.gateway.next_batch.wait(5):
            return Delivery(message.id, error="the next batch was never made", temporary=True)
        return Delivery(message.id, provider_id=f"sms-{message.id}")

    def close(self) -> None:
        return None


@pytest.fixture(params=["journal", "database"])
def kept_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the connections keep what they report: the journal beside the database file (and
    go on), or the database itself (and wait for the tick's thread to write it)."""
    if request.param == "database":
        monkeypatch.setattr(SqliteStore, "journals", lambda self: None)
    return str(request.param)


def journaled(project: Path) -> dict[int, str]:
    """What the journals beside the database hold: `sending` or `done`, by message."""
    found: dict[int, str] = {}
    for path in sorted((project / "seqctl.db.outcomes").glob("*.journal")):
        for line in path.read_text().splitlines()[1:]:
            entry = json.loads(line)
            for item in entry["done"]:
                found[item[0]] = "done"
            for message_id in entry["started"]:
                found[message_id] = "sending"
    return found


def gated_tick(project: Path) -> tuple[Gated, int, int]:
    """A tick in batches of 3 through the gateway: (it, sent, failed)."""
    gateway = Gated()
    reader = sqlite3.connect(project / "seqctl.db", check_same_thread=False)
    lock = threading.Lock()

    def written(message_id: int) -> str | None:
        """`sending` once it is kept as started, `done` once its outcome is kept."""
        with lock:
            row = reader.execute("SELECT status FROM messages WHERE id = ?", [message_id])
            found = row.fetchone()
        status = None if found is None else str(found[0])
        if status not in (None, "queued", "sending"):
            return "done"
        return journaled(project).get(message_id, status)

    gateway.written = written
    channels = ChannelSet({"sms": {"kind": "webhook", "url": "http://127.0.0.1:9/"}}, project)
    channels._open["sms"] = gateway
    with open_store(project / "seqctl.db") as store:
        report = tick(store, channels, now=NOW, batch_size=3)
    channels.close()
    reader.close()
    return gateway, report.sent, report.failed


def test_the_next_batch_is_made_while_the_one_before_is_on_its_way(
    launch: Launch, project: Path, kept_in: str
) -> None:
    run = launch({"texts": SMS}, contacts(9))
    assert run("--now=2026-11-23T08:00:00Z", "enroll", "texts", "--file", "c.csv").exit_code == 0
    gateway, sent, failed = gated_tick(project)
    assert (sent, failed) == (9, 0)
    assert [len(batch) for batch in gateway.batches] == [3, 3, 3]
    assert gateway.unrecorded == []  # each marked `sending` first, each recorded before the next


def test_the_outbox_is_read_batch_after_batch_while_the_one_before_goes_out(
    launch: Launch, project: Path, kept_in: str
) -> None:
    held = "sequence: held\nowner: ana@acme.test\nsteps:\n" + SMS.split("steps:\n")[1]
    run = launch({"held": held}, contacts(9))
    assert run("--now=2026-11-23T07:00:00Z", "enroll", "held", "--file", "c.csv").exit_code == 0
    assert run("--now=2026-11-23T07:00:00Z", "tick", "--json").json["approvals"] == 9
    approved = run("--now=2026-11-23T07:30:00Z", "approve", "--all", "--sequence", "held")
    assert approved.stdout == "approved 9 messages\n"
    gateway, sent, failed = gated_tick(project)  # the approved messages wait in the outbox
    assert (sent, failed) == (9, 0)
    assert [len(batch) for batch in gateway.batches] == [3, 3, 3]
    assert gateway.unrecorded == []


TWO_AT_ONCE = auto_playbook(
    "twice",
    "  - id: hello\n    type: sms\n    body: Hello {{ contact.key }}\n",
    "  - id: again\n    type: sms\n    body: Hello again\n",
)


def test_a_step_due_the_moment_a_message_is_sent_goes_in_the_same_tick(
    launch: Launch, project: Path
) -> None:
    run = launch({"twice": TWO_AT_ONCE}, contacts(7))
    assert run("--now=2026-11-23T08:00:00Z", "enroll", "twice", "--file", "c.csv").exit_code == 0
    provider = Provider(latency=0.01)
    with http_server(provider) as port:
        spec = {"kind": "webhook", "url": f"http://127.0.0.1:{port}/sms", "connections": 2}
        channels = ChannelSet({"sms": spec}, project)
        with open_store(project / "seqctl.db") as store:
            report = tick(store, channels, now=NOW, batch_size=3)
        channels.close()
    assert (report.sent, report.completed, report.failed) == (14, 7, 0)
    assert len(provider.received) == 14 and provider.repeats == 0


MAILS = auto_playbook(
    "mails",
    "  - id: hello\n    type: email\n    subject: Hi\n    body: Hello\n",
    settings="sender: {name: Ana, email: ana@acme.test}\n",
)


def test_two_channels_out_at_once_are_both_recorded_as_they_answer(
    launch: Launch, project: Path
) -> None:
    rows = "".join(f"c{i},c{i}@example.com,+35191000{i:04d}\n" for i in range(8))
    run = launch({"texts": SMS, "mails": MAILS}, "key,email,phone\n" + rows)
    for sequence in ("texts", "mails"):
        enrolled = run("--now=2026-11-23T08:00:00Z", "enroll", sequence, "--file", "c.csv")
        assert enrolled.exit_code == 0
    texts, mails = Provider(latency=0.01), Provider(latency=0.003)
    with http_server(texts) as http_port, smtp_server(mails) as smtp_port:
        spec = {
            "sms": {"kind": "webhook", "url": f"http://127.0.0.1:{http_port}/sms"},
            "email": {"kind": "smtp", "host": "127.0.0.1", "port": smtp_port},
        }
        channels = ChannelSet(spec, project)
        with open_store(project / "seqctl.db") as store:
            report = tick(store, channels, now=NOW, batch_size=5)
        channels.close()
    assert (report.sent, report.failed) == (16, 0)
    assert (len(texts.received), len(mails.received)) == (8, 8)
    assert texts.repeats == mails.repeats == 0
