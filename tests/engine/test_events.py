"""A sequence stops talking when a person answers: events and their rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BOTH_STORES, Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import HELLO, auto_playbook

pytestmark = BOTH_STORES

FOLLOW_UP = auto_playbook(
    "follow",
    HELLO,
    """
  - id: nudge
    type: email
    wait: 2 days
    subject: Any news?
    body: Just checking
  - id: call
    type: call
    wait: 1 day
""",
    settings="timezone: America/New_York\n"
    "on: {meeting_booked: {action: exit, set: {status: Engaged}}, bounce: BOUNCE}\n"
    "reenroll: REENROLL\n",
)
OTHER = auto_playbook(
    "other",
    """
  - type: email
    subject: Other
    body: Other
    wait: 3 days
""",
)


@pytest.fixture
def started(launch: Launch) -> Run:
    return setup(launch)


def setup(launch: Launch, *, bounce: str = "exit", reenroll: str = "always") -> Run:
    """ann on both sequences, bob on follow only; their first emails sent on a Monday."""
    follow = FOLLOW_UP.replace("BOUNCE", bounce).replace("REENROLL", reenroll)
    run = launch(
        {"follow": follow, "other": OTHER},
        "key,email,status\nann,ann@example.com,New\nbob,bob@example.com,New\n",
    )
    run("--now=2026-11-23T14:00:00Z", "enroll", "follow", "-c", "ann", "-c", "bob")
    run("--now=2026-11-23T14:00:00Z", "enroll", "other", "-c", "ann")
    run("--now=2026-11-23T14:00:00Z", "tick")
    return run


def state(run: Run, contact: str, sequence: str = "follow") -> tuple[str, str | None]:
    [row] = [
        e
        for e in run("enrollments", sequence, "--contact", contact, "--json").json
        if e["state"] not in ("completed", "exited")
    ] or [run("enrollments", sequence, "--contact", contact, "--json").json[-1]]
    return row["state"], row["reason"]


def test_a_reply_mid_sequence_stops_the_next_email(started: Run, project: Path) -> None:
    run = started
    result = run(
        "--now=2026-11-24T10:00:00Z",
        "event",
        "reply",
        "--contact",
        "ann",
        "--sequence",
        "follow",
        "--json",
    )
    assert result.json["exited"] == 1
    assert state(run, "ann") == ("exited", "replied")
    assert state(run, "ann", "other")[0] == "active"  # a reply to one sequence ends only that one
    run("--now=2026-11-25T14:00:00Z", "tick")
    nudges = [m for m in outbox(project) if m["subject"] == "Any news?"]
    assert [m["contact"] for m in nudges] == ["bob"]
    timeline = run("timeline", "ann", "--json").json
    assert ("follow", "reply") in [(t["sequence"], t["kind"]) for t in timeline]
    assert run("status", "follow", "--json").json["enrollments"]["exited"] == 1


def test_out_of_office_pauses_and_resumes_on_the_return_day(started: Run) -> None:
    run = started
    run(
        "--now=2026-11-24T10:00:00Z",
        "event",
        "out_of_office",
        "--contact",
        "bob",
        "--data",
        "return_date=2026-11-30",
    )
    assert state(run, "bob") == ("paused", "out of office")
    run("--now=2026-11-25T14:00:00Z", "tick")
    assert state(run, "bob") == ("paused", "out of office")
    run("--now=2026-11-30T05:00:00Z", "tick")  # midnight in New York: back
    [row] = run("enrollments", "follow", "--contact", "bob", "--json").json
    # Paused 2026-11-24 10:00Z, back 2026-11-30 05:00Z: the nudge due 11-25 14:00Z moves later by
    # that time, to 2026-12-01 09:00Z.
    assert (row["state"], row["next_due_at"]) == ("active", "2026-12-01T09:00:00Z")


def test_an_unsubscribe_stops_every_sequence_and_later_enrolls(started: Run) -> None:
    run = started
    run("--now=2026-11-24T10:00:00Z", "event", "unsubscribe", "--contact", "ann")
    assert state(run, "ann") == ("exited", "unsubscribed")
    assert state(run, "ann", "other") == ("exited", "unsubscribed")
    again = run("--now=2026-11-25T10:00:00Z", "enroll", "other", "-c", "ann", "--json")
    assert again.exit_code == 1
    assert again.json["refused"][0]["reason"] == "suppressed: ann@example.com (unsubscribed)"


def test_a_bounce_with_continue_ends_at_the_next_email_to_that_address(
    launch: Launch, project: Path
) -> None:
    run = setup(launch, bounce="continue")
    run("--now=2026-11-24T10:00:00Z", "event", "bounce", "--contact", "bob", "--data", "kind=hard")
    assert state(run, "bob") == ("active", None)  # the playbook says: continue
    run("--now=2026-11-25T14:00:00Z", "tick")  # the nudge would go to the bounced address
    assert state(run, "bob") == ("exited", "suppressed")
    assert [m["step"] for m in outbox(project) if m["contact"] == "bob"] == ["hello"]
    last = run("timeline", "bob", "--json").json[-1]
    assert (last["kind"], last["step"], last["detail"]) == (
        "exited",
        "nudge",
        "bob@example.com is suppressed (hard bounce)",
    )
    assert run("suppressions", "--json").json[0]["value"] == "bob@example.com"


def test_events_imported_twice_change_nothing(
    started: Run, write: Callable[[str, str], Path]
) -> None:
    run = started
    write(
        "events.jsonl",
        '{"id": "e1", "type": "meeting_booked", "contact": "ann", "sequence": "follow"}\n'
        '{"id": "e2", "type": "open", "contact": "bob"}\n'
        "not json\n"
        '{"id": "e3", "type": "reply", "contact": "zed"}\n',
    )
    first = run("--now=2026-11-24T10:00:00Z", "events", "import", "events.jsonl", "--json")
    assert first.exit_code == 1
    assert (first.json["recorded"], first.json["exited"]) == (2, 1)
    assert [r["row"] for r in first.json["refused"]] == ["events.jsonl:3", "events.jsonl:4"]
    assert first.json["refused"][1]["reason"] == "unknown contact 'zed'"
    second = run("--now=2026-11-24T11:00:00Z", "events", "import", "events.jsonl", "--json")
    assert (second.json["recorded"], second.json["duplicates"]) == (0, 2)
    # The rule's `set:` updated the contact.
    assert run("contacts", "show", "ann", "--json").json["attributes"]["status"] == "Engaged"


def test_reenroll_never(launch: Launch) -> None:
    run = setup(launch, reenroll="never")
    run("--now=2026-11-24T10:00:00Z", "remove", "follow", "-c", "bob")
    again = run("--now=2026-11-24T11:00:00Z", "enroll", "follow", "-c", "bob", "--json").json
    assert again["refused"] == [
        {"contact": "bob", "reason": "already went through this sequence (exited; reenroll: never)"}
    ]


def test_exclusive_sequences(launch: Launch) -> None:
    exclusive = "sequence: {}\nexclusive: true\nsteps:\n  - type: task\n"
    run = launch(
        {"a": exclusive.format("a"), "b": exclusive.format("b")},
        "key,email\nann,ann@example.com\n",
        activate=False,
    )
    assert run("enroll", "a", "-c", "ann").exit_code == 0
    refused = run("enroll", "b", "-c", "ann", "--json").json["refused"]
    assert refused == [{"contact": "ann", "reason": "active in exclusive sequence 'a'"}]


BRANCHING = auto_playbook(
    "branching",
    HELLO,
    """
  - id: check
    type: branch
    wait: 2 days
    if: "opened('hello', days=7)"
    then: warm
    else: cold
  - id: warm
    type: email
    subject: Glad you read it
    body: Warm
    next: end
  - id: cold
    type: email
    subject: In case you missed it
    body: Cold
""",
)


def test_a_branch_on_opened_sends_the_right_follow_up(launch: Launch, project: Path) -> None:
    run = launch({"branching": BRANCHING}, "key,email\nann,ann@example.com\nbob,bob@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "branching", "-c", "ann", "-c", "bob")
    run("--now=2026-11-23T08:00:00Z", "tick")
    run("--now=2026-11-23T09:00:00Z", "event", "open", "--contact", "ann")
    run("--now=2026-11-25T08:00:00Z", "tick")
    follow_ups = sorted((m["contact"], m["step"]) for m in outbox(project) if m["step"] != "hello")
    assert follow_ups == [("ann", "warm"), ("bob", "cold")]
    assert {e["contact"]: e["state"] for e in run("enrollments", "--json").json} == {
        "ann": "completed",
        "bob": "completed",
    }


def test_a_soft_bounce_is_only_recorded(started: Run) -> None:
    run = started
    run("--now=2026-11-24T10:00:00Z", "event", "bounce", "--contact", "bob", "--data", "kind=soft")
    assert state(run, "bob") == ("active", None)
    assert run("suppressions", "--json").json == []


def test_timeline_shows_events_after_the_sequence_ended(started: Run) -> None:
    run = started
    run("--now=2026-11-24T10:00:00Z", "remove", "follow", "-c", "ann")
    run("--now=2026-11-24T10:00:00Z", "remove", "other", "-c", "ann")
    run("--now=2026-11-25T10:00:00Z", "event", "bounce", "--contact", "ann", "--data", "kind=hard")
    last = run("timeline", "ann", "--json").json[-1]
    assert (last["at"], last["kind"], last["detail"]) == (
        "2026-11-25T10:00:00Z",
        "bounce",
        "kind=hard",
    )


def test_the_timeline_names_the_step_an_event_answers(started: Run) -> None:
    run = started
    run("--now=2026-11-24T10:00:00Z", "event", "open", "--contact", "bob")  # still running
    run("--now=2026-11-24T11:00:00Z", "event", "reply", "--contact", "bob")  # it ends there
    rows = [(r["sequence"], r["step"], r["kind"]) for r in run("timeline", "bob", "--json").json]

    assert rows[-2:] == [("follow", "hello", "open"), ("follow", "hello", "reply")]
    assert run("status", "follow", "--json").json["steps"][0]["opened"] == 1  # counted once
    # An event of no sequence (a message from someone never written to) shows '-' in its place.
    assert run("contacts", "import", "-", input="key,email\ncy,cy@example.com\n").exit_code == 0
    run("--now=2026-11-25T09:00:00Z", "event", "inbound", "--contact", "cy")
    assert run("timeline", "cy").stdout.splitlines()[-1] == "2026-11-25T09:00:00Z  -  inbound"


def test_a_bad_event_in_an_import_is_refused_alone(
    started: Run, write: Callable[[str, str], Path]
) -> None:
    """Events are imported hundreds to a transaction; one that fails takes only itself back."""
    run = started
    write(
        "events.jsonl",
        '{"type": "unsubscribe", "contact": "ann"}\n'
        '{"type": "out_of_office", "contact": "bob", "data": {"return_date": "next week"}}\n'
        '{"type": "reply", "contact": "bob"}\n',
    )

    done = run("--now=2026-11-24T10:00:00Z", "events", "import", "events.jsonl", "--json")

    assert done.exit_code == 1
    assert done.json["recorded"] == 2  # the unsubscribe and the reply
    assert done.json["exited"] == 3  # ann from both her sequences, bob from one
    [refused] = done.json["refused"]
    assert refused["row"].endswith("2") and "next week" in refused["reason"]
    assert state(run, "ann")[0] == "exited" and state(run, "bob") == ("exited", "replied")
    assert [s["value"] for s in run("suppressions", "--json").json] == ["ann@example.com"]


def test_an_out_of_office_never_hides_a_failure_nor_a_persons_pause(launch: Launch) -> None:
    failing = auto_playbook(
        "failing", "  - id: hi\n    type: email\n    subject: Hi\n    body: '{{ contact.nick }}'\n"
    )
    held = "sequence: held\nsteps:\n  - id: offer\n    type: email\n    subject: Hi\n    body: Hi\n"
    run = launch(
        {"failing": failing, "follow": OTHER.replace("other", "follow"), "held": held},
        "key,email\nann,ann@example.com\nbob,bob@example.com\n",
    )
    for sequence, contact in (("failing", "ann"), ("follow", "bob"), ("held", "ann")):
        run("--now=2026-11-23T14:00:00Z", "enroll", sequence, "-c", contact)
    run("--now=2026-11-23T14:00:00Z", "tick")
    run("--now=2026-11-23T15:00:00Z", "pause", "follow", "-c", "bob")
    failed = state(run, "ann", "failing")
    assert failed[0] == "failed" and "nick" in str(failed[1])
    assert state(run, "ann", "held") == ("waiting", "message for step 'offer' awaits approval")

    for contact in ("ann", "bob"):
        run("--now=2026-11-24T10:00:00Z", "event", "out_of_office", "-c", contact,
            "--data", "return_date=2026-11-26")  # fmt: skip
    assert state(run, "ann", "failing") == failed  # still failed, with its reason
    assert state(run, "bob", "follow") == ("paused", "paused by a person")
    assert state(run, "ann", "held") == ("paused", "out of office")

    run("--now=2026-11-26T12:00:00Z", "tick")  # the return date has come
    assert state(run, "ann", "failing") == failed
    assert state(run, "bob", "follow") == ("paused", "paused by a person")  # a person resumes it
    # Back from holiday, the message still waits for its approval: waiting, not active.
    assert state(run, "ann", "held") == ("waiting", "message for step 'offer' awaits approval")
    assert "out_of_office" in [t["kind"] for t in run("timeline", "ann", "--json").json]
