"""auto_approve rules send routine steps alone, up to a daily cap; the rest wait for a person."""

from __future__ import annotations

import pytest

from tests.conftest import BOTH_STORES, Launch

pytestmark = BOTH_STORES

ROUTINE = """
sequence: routine
owner: ana@acme.test
consent: {by: ana@acme.test, at: "2026-11-01"}
auto_approve: [{step: hello, max_per_day: 2}]
steps:
  - id: hello
    type: email
    subject: Hi
    body: Hello
  - id: personal
    type: email
    wait: 1 day
    subject: A personal note
    body: Hello again
"""
THREE = "key,email\na,a@example.com\nb,b@example.com\nc,c@example.com\n"


def test_rule_preview_then_tick(launch: Launch) -> None:
    run = launch({"routine": ROUTINE}, THREE)
    run("--now=2026-11-23T08:00:00Z", "enroll", "routine", "--file", "c.csv")
    preview = run("--now=2026-11-23T08:00:00Z", "approvals", "--preview", "--json").json
    assert preview == [
        {
            "sequence": "routine",
            "step": "hello",
            "max_per_day": 2,
            "used_today": 0,
            "due": 3,
            "would_approve": 2,
            "would_hold": 1,
        }
    ]
    report = run("--now=2026-11-23T08:00:00Z", "tick", "--json").json
    assert (report["sent"], report["approvals"]) == (2, 1)
    # The next step has no rule: it waits for a person, however routine the first was.
    report = run("--now=2026-11-24T08:00:00Z", "tick", "--json").json
    assert (report["sent"], report["approvals"]) == (0, 2)
    text = run("--now=2026-11-24T08:00:00Z", "approvals", "--preview").stdout
    assert text.splitlines()[0].split() == [
        "SEQUENCE",
        "STEP",
        "CAP",
        "USED",
        "(24H)",
        "DUE",
        "NOW",
        "APPROVE",
        "HOLD",
    ]


def test_approve_all_in_bulk(launch: Launch) -> None:
    run = launch({"routine": ROUTINE.replace("max_per_day: 2", "max_per_day: 1")}, THREE)
    run("--now=2026-11-23T08:00:00Z", "enroll", "routine", "--file", "c.csv")
    assert run("--now=2026-11-23T08:00:00Z", "tick", "--json").json["approvals"] == 2
    assert run("approve", "--all", "--sequence", "other").exit_code == 2  # no such sequence
    result = run("--now=2026-11-23T08:05:00Z", "approve", "--all", "--sequence", "routine")
    assert result.stdout == "approved 2 messages\n"
    assert {e["state"] for e in run("enrollments", "--json").json} == {"active"}
    assert run("--now=2026-11-23T08:06:00Z", "tick", "--json").json["sent"] == 2
    kinds = [t["kind"] for t in run("timeline", "b", "--json").json]
    assert kinds[-3:] == ["approval", "approved", "sent"]


@pytest.mark.parametrize(
    ("rule", "state", "step"),
    [
        ("", "active", "personal"),  # the default: the enrollment moves on
        ("on: {reject: exit}\n", "exited", "routine-hello"),
        ("on: {reject: pause}\n", "paused", "personal"),
    ],
)
def test_reject_moves_on_or_stops_as_the_playbook_says(
    launch: Launch, rule: str, state: str, step: str
) -> None:
    playbook = ROUTINE.replace("auto_approve: [{step: hello, max_per_day: 2}]\n", rule)
    playbook = playbook.replace("id: hello", "id: routine-hello")
    run = launch({"routine": playbook}, "key,email\na,a@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "routine", "-c", "a")
    run("--now=2026-11-23T08:00:00Z", "tick")
    [held] = run("approvals", "--json").json
    result = run("--now=2026-11-23T09:00:00Z", "reject", str(held["id"]), "--reason", "too pushy")
    assert result.stdout == f"message {held['id']}: rejected; enrollment is {state}\n"
    [enrollment] = run("enrollments", "--json").json
    assert (enrollment["state"], enrollment["step"]) == (state, step)
    assert [m["status"] for m in run("messages", "--json").json] == ["rejected"]
