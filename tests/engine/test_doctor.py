"""`seqctl doctor`: the first failing check says why a contact is not getting the next step."""

from __future__ import annotations

import pytest

from tests.conftest import Launch, Result, Run

WELCOME = """
sequence: welcome
timezone: America/New_York
send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
steps:
  - id: hello
    type: email
    subject: "Welcome, {{ contact.first_name }}"
    body: Hello
  - id: follow-up
    type: email
    wait: 3 days
    subject: Any news?
    body: Just checking
"""
CONTACTS = """key,email,first_name
ana,ana@example.com,Ana
wes,wes@example.com,Wes
rita,rita@example.com,Rita
fay,fay@example.com,
hal,hal@example.com,Hal
"""
LATER = "--now=2026-11-24T16:30:00Z"  # Tuesday 11:30 in New York


@pytest.fixture
def started(launch: Launch) -> Run:
    """Tuesday 10:00 in New York: four enrolled, a tick drafts their first emails."""
    run = launch({"welcome": WELCOME}, CONTACTS, csv="contacts.csv")
    enrolled = run(
        "--now=2026-11-24T15:00:00Z", "enroll", "welcome", *_contacts("ana", "wes", "rita", "fay")
    )
    assert enrolled.exit_code == 0
    run("--now=2026-11-24T15:00:00Z", "tick")
    return run


def _contacts(*keys: str) -> list[str]:
    return [arg for key in keys for arg in ("--contact", key)]


def doctor(run: Run, contact: str, now: str = LATER) -> Result:
    return run(now, "doctor", "welcome", "--contact", contact)


def first_failing(result: Result) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith("FAIL"))


def message_of(run: Run, contact: str) -> int:
    [item] = [a for a in run("approvals", "--json").json if a["contact"] == contact]
    return int(item["id"])


def test_a_contact_held_by_the_send_window(started: Run) -> None:
    run = started
    # Tuesday 22:00 in New York: the first email waits for Wednesday 09:00.
    run("--now=2026-11-25T03:00:00Z", "enroll", "welcome", "--contact", "hal")
    result = doctor(run, "hal", "--now=2026-11-25T04:00:00Z")
    assert result.exit_code == 1
    assert first_failing(result) == (
        "FAIL next step: step 'hello' is due at 2026-11-25T14:00:00Z: ready at"
        " 2026-11-25T03:00:00Z, moved by the send window 09:00-18:00 (America/New_York):"
        " 22:00 is outside it"
    )


def test_a_message_waiting_for_approval(started: Run) -> None:
    result = doctor(started, "wes")
    message = message_of(started, "wes")
    assert result.exit_code == 1
    assert first_failing(result) == (
        f"FAIL approval: message #{message} (step 'hello', email to wes@example.com) waits for"
        f" approval since 2026-11-24T15:00:00Z: seqctl approve {message}"
    )


def test_a_contact_who_replied(started: Run) -> None:
    run = started
    run("--now=2026-11-24T16:00:00Z", "event", "reply", "--contact", "rita")
    result = doctor(run, "rita")
    assert result.exit_code == 1
    assert first_failing(result) == (
        "FAIL enrolled: exited: replied on 2026-11-24T16:00:00Z (version 1, step 'hello')"
    )
    assert "FAIL events: replied at 2026-11-24T16:00:00Z" in result.stdout.splitlines()


def test_a_render_that_failed_names_the_missing_variable(started: Run) -> None:
    result = doctor(started, "fay")
    assert result.exit_code == 1
    assert first_failing(result) == (
        "FAIL failed: step 'hello' failed: missing variable 'contact.first_name'"
        " (no value and no default) (template line 1); fix it, then seqctl retry welcome"
        " --contact fay"
    )


def test_an_unknown_contact(started: Run) -> None:
    result = doctor(started, "nobody")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "ok   published: version 1 published 2026-11-23T08:00:00Z",
        "ok   active: the sequence is active",
        "FAIL contact: no contact 'nobody': seqctl contacts import FILE",
    ]


def test_a_healthy_contact_due_later(started: Run) -> None:
    run = started
    run("--now=2026-11-24T15:01:00Z", "approve", str(message_of(run, "ana")))
    run("--now=2026-11-24T15:01:00Z", "tick")
    result = doctor(run, "ana")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines() == [
        "ok   published: version 1 published 2026-11-23T08:00:00Z",
        "ok   active: the sequence is active",
        "ok   contact: ana (ana@example.com)",
        "ok   enrolled: active (version 1, step 'follow-up'), enrolled 2026-11-24T15:00:00Z",
        "ok   suppression: not on the suppression list",
        "ok   events: no reply, bounce or unsubscribe since enrolled",
        "ok   approval: no message waiting for approval",
        "ok   action: no task waiting for a person",
        "ok   failed: no failed step",
        "ok   deferred: no message held back by a daily limit",
        "ok   content: step 'follow-up' renders for this contact",
        "ok   address: email to ana@example.com",
        "ok   next step: step 'follow-up' is due at 2026-11-27T15:01:00Z:"
        " the wait of 3 days from 2026-11-24T15:01:00Z",
    ]
    as_json = run(LATER, "doctor", "welcome", "--contact", "ana", "--json")
    assert as_json.exit_code == 0
    assert as_json.json[-1] == {
        "check": "next step",
        "ok": True,
        "detail": "step 'follow-up' is due at 2026-11-27T15:01:00Z:"
        " the wait of 3 days from 2026-11-24T15:01:00Z",
    }


def test_a_step_due_long_ago_asks_whether_cron_runs(started: Run) -> None:
    run = started
    run("--now=2026-11-24T15:01:00Z", "approve", str(message_of(run, "ana")))
    run("--now=2026-11-24T15:01:00Z", "tick")
    result = doctor(run, "ana", "--now=2026-11-28T12:00:00Z")
    assert result.exit_code == 1
    assert first_failing(result) == (
        "FAIL due now: step 'follow-up' was due at 2026-11-27T15:01:00Z and has not been sent:"
        " is cron running seqctl tick? (the last tick that did something ran at"
        " 2026-11-24T15:01:00Z)"
    )
