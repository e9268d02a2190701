"""Daily caps defer, never drop; temporary failures back off; `retry` gives failures a new go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.channels import Delivery, FileChannel, Outgoing
from seqctl.engine.outbox.delivery import retry_delay
from seqctl.engine.run.tick import tick
from seqctl.store import open_store
from tests.conftest import Launch, Run
from tests.engine.outbox import channels_with
from tests.playbooks import auto_playbook

CAPPED = auto_playbook(
    "capped",
    "  - type: email\n    subject: Hi\n    body: Hello\n",
    settings="limits: {per_day: 2}\nsender: {name: Ana, email: ana@acme.test}\n",
)


@pytest.fixture
def five(launch: Launch) -> Run:
    rows = "".join(f"c{i},c{i}@example.com\n" for i in range(5))
    run = launch({"capped": CAPPED}, "key,email\n" + rows)
    run("--now=2026-11-23T08:00:00Z", "enroll", "capped", "--file", "c.csv")
    return run


def test_sequence_cap_spills_to_the_next_day(five: Run) -> None:
    run = five
    first = run("--now=2026-11-23T08:00:00Z", "tick", "--json").json
    assert (first["sent"], first["deferred"]) == (2, 3)
    assert run("--now=2026-11-23T20:00:00Z", "tick", "--json").json["sent"] == 0
    queued = run("messages", "--status", "queued", "--json").json
    assert len(queued) == 3
    assert queued[0]["error"] == "daily limit of 2 for sequence 'capped' reached"
    # 24 hours after the first sends, two slots free up: two more go, one waits again.
    second = run("--now=2026-11-24T08:00:00Z", "tick", "--json").json
    assert (second["sent"], second["deferred"]) == (2, 1)
    third = run("--now=2026-11-25T08:00:00Z", "tick", "--json").json
    assert third["sent"] == 1
    assert len(run("messages", "--status", "sent", "--json").json) == 5


def test_mailbox_cap_from_the_config(five: Run, write: Callable[[str, str], Path]) -> None:
    write("seqctl.yaml", 'senders: {"ana@acme.test": {per_day: 1}}\n')
    report = five("--now=2026-11-23T08:00:00Z", "tick", "--json").json
    assert (report["sent"], report["deferred"]) == (1, 4)
    [waiting, *_] = five("messages", "--status", "queued", "--json").json
    assert waiting["error"] == "daily limit of 1 for mailbox ana@acme.test reached"


class Flaky(FileChannel):
    """Fails with a temporary error until told to recover."""

    healthy = False

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        if not Flaky.healthy:
            return [Delivery(m.id, error="connection refused", temporary=True) for m in messages]
        return super()._append(messages)


def flaky_tick(db: Path, project: Path, when: datetime) -> dict[str, object]:
    channels = channels_with(project, Flaky)
    with open_store(db) as store:
        return tick(store, channels, now=when).as_json()


def test_temporary_failures_back_off_then_fail_then_retry(five: Run, project: Path) -> None:
    db = project / "seqctl.db"
    Flaky.healthy = False
    at = datetime(2026, 11, 23, 8, tzinfo=UTC)
    assert flaky_tick(db, project, at)["sent"] == 0
    [message, *_] = five("messages", "--json").json
    assert (message["status"], message["attempts"], message["error"]) == (
        "queued",
        1,
        "connection refused",
    )
    # Not retried before its backoff has passed.
    assert flaky_tick(db, project, at.replace(second=30))["sent"] == 0
    assert five("messages", "--json").json[0]["attempts"] == 1
    # Retried for 6 hours (the default retry_for) after the first failure, however many
    # attempts that takes; then it fails for good.
    for hour in range(9, 14):
        flaky_tick(db, project, at.replace(hour=hour))
    assert five("messages", "--status", "failed", "--json").json == []
    flaky_tick(db, project, at.replace(hour=14))
    failed = five("messages", "--status", "failed", "--json").json
    assert len(failed) == 2  # the other three were held by the daily cap meanwhile
    assert failed[0]["error"] == "connection refused (gave up after 7 attempts over 6 hours)"
    assert {e["state"] for e in five("enrollments", "--json").json} >= {"failed"}
    Flaky.healthy = True
    retried = five("--now=2026-11-23T15:00:00Z", "retry", "--json").json
    assert retried == {"messages": 2, "steps": 0}
    assert flaky_tick(db, project, at.replace(hour=15))["sent"] == 2


class Unreachable(FileChannel):
    """A server its breaker leaves alone: every message held, none ever on the wire."""

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        return [
            Delivery(m.id, error="connection refused", temporary=True, held=True) for m in messages
        ]


def test_a_server_never_reached_gives_up_saying_so_with_no_attempt_counted(
    five: Run, project: Path
) -> None:
    at = datetime(2026, 11, 23, 8, tzinfo=UTC)
    channels = channels_with(project, Unreachable)
    for hour in (8, 10, 12, 14, 15):
        with open_store(project / "seqctl.db") as store:
            tick(store, channels, now=at.replace(hour=hour))

    failed = five("messages", "--status", "failed", "--json").json
    assert failed and all(m["attempts"] == 0 for m in failed)
    assert (
        failed[0]["error"]
        == "connection refused (gave up: the server could not be reached in 6 hours)"
    )


def test_backoff_grows_and_is_spread() -> None:
    delays = [retry_delay(n, "1:1:hello").total_seconds() for n in range(1, 6)]
    assert delays == sorted(delays)
    assert 48 <= delays[0] <= 72
    assert retry_delay(1, "1:1:hello") != retry_delay(1, "2:1:hello")
    assert retry_delay(30, "x").total_seconds() <= 3600 * 1.2


def test_retry_reruns_a_step_that_failed_to_render(
    launch: Launch, write: Callable[[str, str], Path], project: Path
) -> None:
    named = CAPPED.replace("capped", "named").replace(
        "body: Hello", "body: Hello {{ contact.first_name }}"
    )
    run = launch({"named": named}, "key,email\nann,ann@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "named", "-c", "ann")
    assert run("--now=2026-11-23T08:00:00Z", "tick", "--json").json["failed"] == 1
    write("c.csv", "key,first_name\nann,Ann\n")
    run("contacts", "import", "c.csv")
    assert run("--now=2026-11-23T09:00:00Z", "retry", "named", "--json").json == {
        "messages": 0,
        "steps": 1,
    }
    assert run("--now=2026-11-23T09:00:00Z", "tick", "--json").json["sent"] == 1
    assert "Hello Ann" in (project / "outbox.jsonl").read_text()
