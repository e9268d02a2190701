"""Daily caps are first in, first out: a message a cap held back goes out before newer
messages of any sequence sharing the cap, oldest first, whatever order the sequences come in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BOTH_STORES, Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import auto_playbook

pytestmark = BOTH_STORES

SENDER = "sender: {name: Ana, email: ana@acme.test}\n"


def playbook(sequence: str, settings: str = "") -> str:
    return auto_playbook(
        sequence,
        f"  - id: hello\n    type: email\n    subject: Hi\n    body: From {sequence}\n",
        settings=SENDER + settings,
    )


PEOPLE = "key,email\n" + "".join(f"p{i},p{i}@example.com\n" for i in range(1, 10))
DAY1 = "--now=2026-11-23T08:00:00Z"
DAY2 = "--now=2026-11-24T08:00:00Z"
DAY3 = "--now=2026-11-25T08:00:00Z"


@pytest.fixture
def shared(launch: Launch, write: Callable[[str, str], Path]) -> Run:
    """Two sequences sending from one mailbox whose cap is 2 a day. The one that goes first
    (zeta) sorts last by name: the order comes from time, not names."""
    write("seqctl.yaml", 'senders: {"ana@acme.test": {per_day: 2}}\n')
    return launch({"zeta": playbook("zeta"), "alpha": playbook("alpha")}, PEOPLE)


def sent_to(project: Path) -> list[tuple[str, str]]:
    return [(m["sequence"], m["contact"]) for m in outbox(project)]


def test_deferred_messages_go_before_newly_due_ones_of_another_sequence(
    shared: Run, project: Path
) -> None:
    run = shared
    enrolled = run(DAY1, "enroll", "zeta", "-c", "p1", "-c", "p2", "-c", "p3", "-c", "p4")
    assert enrolled.exit_code == 0
    first = run(DAY1, "tick", "--json").json
    assert (first["sent"], first["deferred"]) == (2, 2)
    # Day 2: new people in the other sequence, due the moment the cap frees two slots.
    assert run(DAY2, "enroll", "alpha", "-c", "p5", "-c", "p6").exit_code == 0
    second = run(DAY2, "tick", "--json").json
    assert (second["sent"], second["deferred"]) == (2, 2)
    assert sent_to(project) == [
        ("zeta", "p1"),
        ("zeta", "p2"),
        ("zeta", "p3"),  # held since day 1: first
        ("zeta", "p4"),
    ]
    waiting = run("messages", "--status", "queued", "--json").json
    assert [(m["sequence"], m["contact"], m["next_attempt_at"]) for m in waiting] == [
        ("alpha", "p5", "2026-11-25T08:00:00Z"),
        ("alpha", "p6", "2026-11-25T08:00:00Z"),
    ]
    assert {m["error"] for m in waiting} == {"daily limit of 2 for mailbox ana@acme.test reached"}
    third = run(DAY3, "tick", "--json").json
    assert third["sent"] == 2
    assert sent_to(project)[4:] == [("alpha", "p5"), ("alpha", "p6")]


def test_the_oldest_deferral_goes_first_across_sequences(shared: Run, project: Path) -> None:
    run = shared
    run(DAY1, "enroll", "zeta", "-c", "p1", "-c", "p2", "-c", "p3")
    run(DAY1, "tick")  # p1, p2 sent; p3 held
    run("--now=2026-11-23T09:00:00Z", "enroll", "alpha", "-c", "p4", "-c", "p5")
    held = run("--now=2026-11-23T09:00:00Z", "tick", "--json").json
    assert (held["sent"], held["deferred"]) == (0, 2)
    run("--now=2026-11-23T12:00:00Z", "enroll", "zeta", "-c", "p6")
    run("--now=2026-11-23T12:00:00Z", "tick")  # held behind the others
    # Day 2, two slots: zeta's p3 (held at 08:00) and alpha's p4 (held at 09:00), in that
    # order, though alpha's p5 and zeta's p6 are just as due; a newly due p7 waits too.
    run(DAY2, "enroll", "alpha", "-c", "p7")
    assert run(DAY2, "tick", "--json").json["sent"] == 2
    assert sent_to(project)[2:] == [("zeta", "p3"), ("alpha", "p4")]
    run(DAY3, "tick")
    assert sent_to(project)[4:] == [("alpha", "p5"), ("zeta", "p6")]
    run("--now=2026-11-26T08:00:00Z", "tick")
    assert sent_to(project)[6:] == [("alpha", "p7")]


def test_a_sequence_cap_serves_its_own_deferred_messages_first(
    launch: Launch, project: Path
) -> None:
    run = launch({"solo": playbook("solo", "limits: {per_day: 2}\n")}, PEOPLE)
    run(DAY1, "enroll", "solo", "-c", "p1", "-c", "p2", "-c", "p3")
    run(DAY1, "tick")
    run(DAY2, "enroll", "solo", "-c", "p4", "-c", "p5")
    report = run(DAY2, "tick", "--json").json
    assert (report["sent"], report["deferred"]) == (2, 1)  # p3, then the one slot left: p4
    assert [c for _, c in sent_to(project)] == ["p1", "p2", "p3", "p4"]
    reasons = {e["contact"]: e["reason"] for e in run("enrollments", "--json").json}
    assert reasons["p5"] == "message deferred: daily limit of 2 for sequence 'solo' reached"


def test_a_later_tick_the_same_day_keeps_the_order(shared: Run, project: Path) -> None:
    run = shared
    run(DAY1, "enroll", "zeta", "-c", "p1", "-c", "p2", "-c", "p3")
    run(DAY1, "tick")
    # A tick before the slots free changes nothing, and a newly due message is held behind.
    run("--now=2026-11-24T07:59:00Z", "enroll", "alpha", "-c", "p4")
    early = run("--now=2026-11-24T07:59:00Z", "tick", "--json").json
    assert (early["sent"], early["deferred"]) == (0, 1)
    run(DAY2, "tick")
    assert sent_to(project)[2:] == [("zeta", "p3"), ("alpha", "p4")]
