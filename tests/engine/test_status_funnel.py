"""`seqctl status`: the funnel per step, what reached it and what came of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import BOTH_STORES, Launch, Run
from tests.playbooks import auto_playbook

pytestmark = BOTH_STORES

FUNNEL = auto_playbook(
    "funnel",
    """
  - id: hello
    type: email
    subject: "Hi {{ contact.first_name }}"
    body: Hello
  - id: call
    type: call
    wait: 2 days
""",
)
CONTACTS = """key,email,first_name
ann,ann@example.com,Ann
bob,bob@example.com,Bob
cy,cy@example.com,
dan,dan@example.com,Dan
"""
ZERO_RATES = dict.fromkeys(
    ("sent", "opened", "clicked", "replied", "bounced", "done", "skipped", "failed"), 0.0
)


@pytest.fixture
def funnel(launch: Launch) -> Run:
    """Ann and Bob are sent step one and Cy's fails to render; Ann opens it, Bob replies.

    Dan is enrolled last, after the tick: he has not reached a step.
    """
    run = launch({"funnel": FUNNEL}, CONTACTS)
    run("--now=2026-11-23T09:00:00Z", "enroll", "funnel", "-c", "ann", "-c", "bob", "-c", "cy")
    run("--now=2026-11-23T09:00:00Z", "tick")
    assert run("--now=2026-11-23T11:00:00Z", "event", "open", "--contact", "ann").exit_code == 0
    reply = run("--now=2026-11-23T12:00:00Z", "event", "reply", "--contact", "bob")
    assert reply.exit_code == 0
    run("--now=2026-11-23T13:00:00Z", "enroll", "funnel", "-c", "dan")
    return run


def step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    [found] = [s for s in data["steps"] if s["id"] == step_id]
    return found


def test_the_funnel_counts_and_rates_of_each_step(funnel: Run) -> None:
    data = funnel("status", "funnel", "--json").json
    assert data["reached"] == 4
    assert data["enrollments"] == {
        "active": 2,
        "waiting": 0,
        "paused": 0,
        "completed": 0,
        "exited": 1,
        "failed": 1,
    }
    hello = step(data, "hello")
    assert {k: v for k, v in hello.items() if k != "rates"} == {
        "id": "hello",
        "type": "email",
        "reached": 3,
        "sent": 2,
        "opened": 1,
        "clicked": 0,
        "replied": 1,
        "bounced": 0,
        "done": 0,
        "skipped": 0,
        "failed": 1,
        "action": 0,
        "approval": 0,
        "rejected": 0,
        "pending": 0,
    }
    assert hello["rates"] == {
        **ZERO_RATES,
        "sent": 0.667,
        "opened": 0.5,
        "replied": 0.5,
        "failed": 0.333,
    }
    call = step(data, "call")
    assert (call["reached"], call["sent"], call["rates"]) == (0, 0, ZERO_RATES)


def test_since_counts_only_later_history_and_events(funnel: Run) -> None:
    # After the tick and the open: only Bob's reply and Dan's enrollment are that late.
    data = funnel("status", "funnel", "--since", "2026-11-23T11:30:00Z", "--json").json
    assert data["since"] == "2026-11-23T11:30:00Z"
    assert data["reached"] == 1
    hello = step(data, "hello")
    counted = ("reached", "sent", "failed", "opened", "replied")
    assert {k: hello[k] for k in counted} == {
        "reached": 0,
        "sent": 0,
        "failed": 0,
        "opened": 0,
        "replied": 1,
    }
    assert hello["rates"] == ZERO_RATES  # nothing was sent since: no rate of nothing
    # The counts by state are those of now, whatever --since says.
    assert data["enrollments"]["failed"] == 1
    # Exactly at the open: it counts.
    at_open = funnel("status", "funnel", "--since", "2026-11-23T11:00:00Z", "--json").json
    assert step(at_open, "hello")["opened"] == 1


def test_since_must_be_a_time(funnel: Run) -> None:
    result = funnel("status", "funnel", "--since", "last week")
    assert result.exit_code == 2
    assert "invalid --since 'last week'" in result.stderr


def test_the_text_funnel(funnel: Run) -> None:
    lines = funnel("status", "funnel").stdout.splitlines()
    assert lines == [
        "funnel (active, version 1): 2 active, 1 exited, 1 failed",
        "STEP   TYPE   REACHED  SENT     OPENED   CLICKED  REPLIED  BOUNCED  DONE  SKIPPED"
        "  REJECTED  FAILED  PENDING",
        "hello  email  3        2 (67%)  1 (50%)  0 (0%)   1 (50%)  0 (0%)   0     0"
        "        0         1       0",
        "call   call   0        0        0        0        0        0        0     0"
        "        0         0       0",
    ]


def test_status_of_all_sequences_shows_each_funnel(funnel: Run) -> None:
    everything = funnel("status", "--since", "2026-11-23T00:00:00Z", "--json").json
    assert [(s["sequence"], step(s, "hello")["sent"]) for s in everything] == [("funnel", 2)]
    assert funnel("status").stdout.startswith("funnel (active, version 1)")
