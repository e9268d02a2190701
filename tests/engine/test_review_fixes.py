"""Delivery edge cases: revisited steps, pauses during the outbox, failures, replies mid-send."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seqctl.channels import Delivery, FileChannel, Outgoing
from seqctl.engine.incoming.events import parse_event, record
from seqctl.engine.run.tick import tick
from seqctl.store import open_store
from tests.conftest import Launch, Run
from tests.engine.outbox import channels_with, outbox
from tests.playbooks import auto_playbook

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def setup(launch: Launch, playbook: str, contacts: str = "key,email\nann,ann@example.com\n") -> Run:
    """The sequence `p` running, with every contact in the CSV `contacts` enrolled."""
    run = launch({"p": playbook}, contacts)
    run("--now=2026-11-23T08:00:00Z", "enroll", "p", "--file", "c.csv")
    return run


def test_a_step_visited_again_sends_again(launch: Launch, project: Path) -> None:
    run = setup(
        launch,
        auto_playbook(
            "p",
            """
  - id: nudge
    type: email
    subject: Nudge
    body: Hello
  - id: check
    type: branch
    wait: 1 day
    if: "contact.vip"
    then: nudge
    else: done
  - id: done
    type: task
""",
        ),
        "key,email,vip\nann,ann@example.com,yes\n",
    )
    run("--now=2026-11-23T08:00:00Z", "tick")
    run("--now=2026-11-24T08:01:00Z", "tick")
    keys = [m["idempotency_key"] for m in outbox(project)]
    assert keys == ["1:1:nudge", "1:1:nudge@2026-11-24T08:01:00Z"]
    [enrollment] = run("enrollments", "--json").json
    assert (enrollment["step"], enrollment["next_due_at"]) == ("check", "2026-11-25T08:01:00Z")


def test_a_paused_enrollment_holds_its_approved_message(launch: Launch, project: Path) -> None:
    run = setup(
        launch,
        "sequence: p\nsteps:\n  - id: hello\n    type: email\n    subject: Hi\n"
        "    body: Hi\n  - id: again\n    type: email\n    wait: 1 day\n    subject: Again\n"
        "    body: Again\n",
    )
    run("--now=2026-11-23T08:00:00Z", "tick")
    run("--now=2026-11-23T08:05:00Z", "approve", "--all")
    run("--now=2026-11-23T08:06:00Z", "pause", "p", "--contact", "ann")
    assert run("--now=2026-11-23T08:07:00Z", "tick", "--json").json["sent"] == 0
    assert outbox(project) == []
    run("--now=2026-11-23T09:00:00Z", "resume", "p", "--contact", "ann")
    assert run("--now=2026-11-23T09:01:00Z", "tick", "--json").json["sent"] == 1
    [enrollment] = run("enrollments", "--json").json
    assert (enrollment["state"], enrollment["step"]) == ("active", "again")


class Broken(FileChannel):
    down = True

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        if Broken.down:
            return [Delivery(m.id, error="disk full", temporary=True) for m in messages]
        return super()._append(messages)


def test_a_temporary_failure_is_retried_once_and_the_enrollment_moves_on(
    launch: Launch, project: Path
) -> None:
    run = setup(
        launch,
        "sequence: p\nowner: a\nconsent: {by: a, at: '2026-11-01'}\n"
        "auto_approve: [{step: hello, max_per_day: 1}]\n"
        "steps:\n  - id: hello\n    type: email\n    subject: Hi\n    body: Hi\n"
        "  - type: task\n    wait: 1 hour\n",
    )
    channels = channels_with(project, Broken)
    with open_store(project / "seqctl.db") as store:
        Broken.down = True
        report = tick(store, channels, now=datetime(2026, 11, 23, 8, tzinfo=UTC))
        assert (report.due, report.approvals) == (1, 0)
        Broken.down = False
        assert tick(store, channels, now=datetime(2026, 11, 23, 9, tzinfo=UTC)).sent == 1
    [enrollment] = run("enrollments", "--json").json
    assert enrollment["step"] == "step-2"
    assert run("approvals", "--json").json == []


class ReplyDuringSend(FileChannel):
    """The contact replies while their message is on its way."""

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        with open_store(self.path.parent / "seqctl.db") as other:
            event = parse_event(
                {"type": "reply", "contact": "ann"}, now=datetime(2026, 11, 23, 8, tzinfo=UTC)
            )
            record(other, [("test", event)], now=datetime(2026, 11, 23, 8, tzinfo=UTC))
        return super()._append(messages)


def test_a_reply_during_the_send_wins(launch: Launch, project: Path) -> None:
    run = setup(
        launch,
        auto_playbook(
            "p",
            "  - id: hello\n    type: email\n    subject: Hi\n    body: Hi\n"
            "  - id: again\n    type: email\n    wait: 1 day\n"
            "    subject: Again\n    body: Again\n",
        ),
    )
    channels = channels_with(project, ReplyDuringSend)
    with open_store(project / "seqctl.db") as store:
        tick(store, channels, now=datetime(2026, 11, 23, 8, tzinfo=UTC))
    [enrollment] = run("enrollments", "--json").json
    assert (enrollment["state"], enrollment["reason"]) == ("exited", "replied")
    run("--now=2026-11-25T08:00:00Z", "tick")
    assert [m["step"] for m in outbox(project)] == ["hello"]


def test_a_reply_while_the_batch_is_rendered_wins(
    launch: Launch, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The due rows are read without the write lock; what changed them since is left alone."""
    from seqctl.store import SqliteStore

    run = setup(
        launch,
        'sequence: p\nowner: a\nconsent: {by: a, at: "2026-11-01"}\nsteps:\n'
        "  - id: hello\n    type: email\n    subject: Hi\n    body: Hello\n"
        "  - id: call\n    type: call\n    wait: 1 day\n",
        "key,email\nann,ann@example.com\nbob,bob@example.com\n",
    )
    original = SqliteStore.due

    def due_then_reply(self: SqliteStore, now: str, limit: int, *rest: Any) -> object:
        rows = original(self, now, limit, *rest)
        if rows:  # ann replies (another process) while the batch is being worked out
            with open_store(project / "seqctl.db") as other:
                reply = parse_event({"type": "reply", "contact": "ann"}, now=NOW)
                record(other, [("line 1", reply)], now=NOW)
        return rows

    monkeypatch.setattr(SqliteStore, "due", due_then_reply)
    done = run("--now=2026-11-23T09:00:00Z", "tick", "--json").json
    monkeypatch.setattr(SqliteStore, "due", original)

    assert done["due"] == 1 and done["approvals"] == 1  # bob's message waits for approval
    with open_store(project / "seqctl.db") as store:
        messages = store.db.execute("SELECT contact, status FROM messages").fetchall()
        ann = store.db.execute(
            "SELECT state, reason FROM enrollments WHERE contact = 'ann'"
        ).fetchone()
        kinds = [row.kind for row in store.history(contact="ann")]
    assert messages == [("bob", "pending_approval")]
    assert ann == ("exited", "replied")
    assert "approval" not in kinds
    assert run("--now=2026-11-23T09:05:00Z", "approve", "--all").exit_code == 0
    run("--now=2026-11-23T09:06:00Z", "tick")
    assert [m["contact"] for m in outbox(project)] == ["bob"]
