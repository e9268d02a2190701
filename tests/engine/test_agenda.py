"""`seqctl agenda` forecasts the coming days; `seqctl missing` finds the data contacts lack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BOTH_STORES, Launch, Run

pytestmark = BOTH_STORES

INTRO = """
sequence: intro
owner: ana@acme.test
limits: {per_day: 1}
steps:
  - id: hello
    type: email
    wait: 1 hour
    subject: Hi
    body: Hello
  - id: call
    type: call
    wait: 1 day
  - id: brochure
    type: email
    wait: 1 day
    subject: Our brochure
    body: Here it is
"""
NURTURE = """
sequence: nurture
owner: bob@acme.test
steps:
  - id: research
    type: task
    name: Research the account
  - id: check-in
    type: email
    wait: 2 days
    subject: Checking in
    body: Any news?
"""
PEOPLE = (
    "key,email,timezone\nana,ana@example.com,UTC\nbob,bob@example.com,UTC\n"
    "cat,cat@example.com,UTC\ndan,dan@example.com,UTC\n"
)
NOW = "--now=2026-11-23T08:00:00Z"


@pytest.fixture
def planned(launch: Launch) -> Run:
    run = launch(
        {"intro": INTRO, "nurture": NURTURE}, PEOPLE, csv="people.csv", at="2026-11-20T08:00:00Z"
    )
    # cat's task became an action on Saturday and is still open: it counts on today.
    assert run("--now=2026-11-21T08:00:00Z", "enroll", "nurture", "-c", "cat").exit_code == 0
    assert run("--now=2026-11-21T08:00:00Z", "tick").exit_code == 0
    assert run(NOW, "enroll", "intro", "-c", "ana", "-c", "bob").exit_code == 0
    assert run(NOW, "enroll", "nurture", "-c", "dan").exit_code == 0
    return run


def test_agenda_counts_messages_and_actions_per_day_against_the_limit(planned: Run) -> None:
    result = planned(NOW, "agenda", "--days", "3", "--json")
    assert result.exit_code == 0
    intro = {"sequence": "intro", "owner": "ana@acme.test", "limit": 1}
    nurture = {"sequence": "nurture", "owner": "bob@acme.test", "limit": None}
    assert result.json == [
        # hello for ana and bob at 09:00: one over the daily limit of 1
        {"date": "2026-11-23", **intro, "messages": 2, "actions": 0, "over_limit": 1},
        # cat's open action and dan's task, due now
        {"date": "2026-11-23", **nurture, "messages": 0, "actions": 2, "over_limit": 0},
        # the calls, a day after hello
        {"date": "2026-11-24", **intro, "messages": 0, "actions": 2, "over_limit": 0},
        # the brochures, a day after the calls; dan's check-in, two days after his task
        {"date": "2026-11-25", **intro, "messages": 2, "actions": 0, "over_limit": 1},
        {"date": "2026-11-25", **nurture, "messages": 1, "actions": 0, "over_limit": 0},
    ]
    text = planned(NOW, "agenda", "--days", "3").stdout
    assert "over the daily limit of 1: 1 will be deferred" in text


def test_agenda_window_and_filters(planned: Run) -> None:
    one_day = planned(NOW, "agenda", "--days", "1", "--json").json
    assert {row["date"] for row in one_day} == {"2026-11-23"}
    only_bob = planned(NOW, "agenda", "--owner", "bob@acme.test", "--json").json
    assert {row["sequence"] for row in only_bob} == {"nurture"}
    only_intro = planned(NOW, "agenda", "--days", "3", "--sequence", "intro", "--json").json
    assert [(row["date"], row["messages"], row["actions"]) for row in only_intro] == [
        ("2026-11-23", 2, 0),
        ("2026-11-24", 0, 2),
        ("2026-11-25", 2, 0),
    ]
    planned(NOW, "pause", "nurture")
    paused = planned(NOW, "agenda", "--json").json
    assert {row["sequence"] for row in paused} == {"intro"}


OFFER = """
sequence: offer
steps:
  - id: hello
    type: email
    subject: Hello
    body: "Hi {{ contact.first_name | default('there') }}"
  - id: pitch
    type: email
    wait: 1 day
    subject: "For {{ contact.company }}"
    body: "Dear {{ contact.first_name }}, this is for {{ contact.company }}."
"""


@pytest.fixture
def offer(launch: Launch) -> Run:
    run = launch(
        {"offer": OFFER},
        "key,email,first_name,company\nana,ana@example.com,Ana,Acme\nbob,bob@example.com,,Bolt\n",
        csv="people.csv",
    )
    assert run(NOW, "enroll", "offer", "-c", "ana", "-c", "bob").exit_code == 0
    return run


def test_missing_lists_what_a_later_step_needs_and_imports_back(
    offer: Run, write: Callable[[str, str], Path], project: Path
) -> None:
    run = offer
    result = run(NOW, "missing", "offer")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "key,first_name\nbob,\n", "")
    assert run(NOW, "missing", "offer", "--out", "fill.csv").exit_code == 1
    assert (project / "fill.csv").read_text() == "key,first_name\nbob,\n"
    write("fill.csv", "key,first_name\nbob,Bob\n")
    assert run("contacts", "import", "fill.csv").exit_code == 0
    done = run(NOW, "missing", "offer")
    assert (done.exit_code, done.stdout) == (0, "key\n")
    assert run("contacts", "show", "bob", "--json").json["attributes"] == {
        "first_name": "Bob",
        "company": "Bolt",
    }


def test_missing_collects_every_value_and_reports_enrollment_variables_apart(
    launch: Launch,
) -> None:
    plan = """
        sequence: plan
        steps:
          - id: offer
            type: email
            subject: "{{ contact.first_name }}, your {{ enrollment.plan }} plan"
            body: "{{ contact.last_name }} at {{ contact.company | default('your company') }}"
        """
    run = launch(
        {"plan": plan},
        "key,email,last_name\ncy,cy@example.com,Ng\n",
        csv="people.csv",
        activate=False,
    )
    run(NOW, "enroll", "plan", "-c", "cy")
    result = run(NOW, "missing", "plan")
    assert result.exit_code == 1
    assert result.stdout == "key,first_name\ncy,\n"
    assert result.stderr == "seqctl: cy: step 'offer' needs enrollment.plan, which has no value\n"


def test_missing_unknown_sequence_is_a_usage_error(run: Run) -> None:
    result = run("missing", "nope")
    assert result.exit_code == 2
    assert "no sequence 'nope'" in result.stderr
