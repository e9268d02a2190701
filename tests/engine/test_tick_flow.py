"""Sequences running, driven minute by minute with --now, as a team would run them from cron."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BOTH_STORES, Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import INTRO, auto_playbook

pytestmark = BOTH_STORES

CONTACTS = "key,email,first_name,timezone\nana,ana@example.com,Ana,UTC\nbob,bob@example.com,,UTC\n"
ANN = "key,email\nann,ann@example.com\n"


@pytest.fixture
def intro(launch: Launch) -> Run:
    return launch({"intro": INTRO}, CONTACTS, csv="contacts.csv")


def tick(run: Run, now: str) -> dict[str, int]:
    result = run(f"--now={now}", "tick", "--json")
    return dict(result.json)


def test_intro_cadence_minute_by_minute(intro: Run, project: Path) -> None:
    run = intro
    assert run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana").exit_code == 0
    first = tick(run, "2026-11-23T09:00:00Z")
    assert (first["due"], first["sent"]) == (1, 1)
    [mail] = outbox(project)
    assert (mail["to"], mail["subject"], mail["body"]) == (
        "ana@example.com",
        "Hi Ana",
        "Hello Ana, this is Ana.",
    )
    assert mail["idempotency_key"] == "1:1:hello"
    # Three hours later to the minute: the call becomes an action, not a minute before.
    assert tick(run, "2026-11-23T11:59:00Z")["due"] == 0
    assert tick(run, "2026-11-23T12:00:00Z")["actions"] == 1
    [action] = run("--now=2026-11-23T12:00:00Z", "actions", "--json").json
    assert (action["step"], action["type"], action["status"], action["due_at"]) == (
        "call",
        "call",
        "due",
        "2026-11-23T12:00:00Z",
    )
    assert action["instructions"] == "Call Ana about a meeting."
    # The call is done at 15:30; the brochure waits one day from then.
    assert run("--now=2026-11-23T15:30:00Z", "done", str(action["id"])).exit_code == 0
    assert tick(run, "2026-11-24T15:29:00Z")["due"] == 0
    last = tick(run, "2026-11-24T15:30:00Z")
    assert (last["sent"], last["completed"]) == (1, 1)
    [enrollment] = run("enrollments", "--json").json
    assert enrollment["state"] == "completed"
    kinds = [(e["step"], e["kind"]) for e in run("timeline", "ana", "--json").json]
    assert kinds == [
        (None, "enrolled"),
        ("hello", "sent"),
        ("call", "action"),
        ("call", "done"),
        ("brochure", "sent"),
        (None, "completed"),
    ]


def test_missing_variable_fails_and_sends_nothing(intro: Run, project: Path) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "bob")
    result = run("--now=2026-11-23T09:00:00Z", "tick", "--json")
    assert result.exit_code == 1
    assert result.json["failed"] == 1
    assert outbox(project) == []
    [enrollment] = run("enrollments", "--json").json
    assert enrollment["state"] == "failed"
    assert "contact.first_name" in enrollment["reason"]


def test_enroll_is_idempotent_and_refuses_unknown(intro: Run) -> None:
    run = intro
    first = run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana", "-c", "zed", "--json")
    assert first.exit_code == 1
    assert first.json["enrolled"] == 1
    assert first.json["refused"][0]["contact"] == "zed"
    again = run("--now=2026-11-23T09:05:00Z", "enroll", "intro", "-c", "ana", "--json")
    assert (again.json["enrolled"], again.json["already"]) == (0, 1)


def test_completed_contact_enrolls_again_from_step_one(intro: Run) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana")
    run("--now=2026-11-23T09:01:00Z", "remove", "intro", "-c", "ana")
    again = run("--now=2026-11-23T09:02:00Z", "enroll", "intro", "-c", "ana", "--json")
    assert again.json["enrolled"] == 1
    states = [(e["state"], e["step"]) for e in run("enrollments", "--json").json]
    assert states == [("exited", "hello"), ("active", "hello")]


def test_draft_and_paused_sequences_do_not_move(intro: Run, project: Path) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana")
    run("--now=2026-11-23T09:00:00Z", "pause", "intro")
    assert tick(run, "2026-11-23T10:00:00Z")["due"] == 0
    # Resumed two hours later: the first step was due at 09:00, now at 11:00.
    run("--now=2026-11-23T11:00:00Z", "resume", "intro")
    [enrollment] = run("enrollments", "--json").json
    assert enrollment["next_due_at"] == "2026-11-23T11:00:00Z"
    assert tick(run, "2026-11-23T11:00:00Z")["sent"] == 1


def test_pausing_one_enrollment_freezes_its_countdown(intro: Run) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana")
    tick(run, "2026-11-23T09:00:00Z")  # hello sent; call due at 12:00
    run("--now=2026-11-23T10:00:00Z", "pause", "intro", "-c", "ana")
    assert tick(run, "2026-11-23T12:00:00Z")["due"] == 0
    run("--now=2026-11-23T10:30:00Z", "resume", "intro", "-c", "ana")
    [enrollment] = run("enrollments", "--json").json
    assert (enrollment["state"], enrollment["next_due_at"]) == ("active", "2026-11-23T12:30:00Z")


def test_skipping_the_last_step_completes(launch: Launch) -> None:
    run = launch({"task": "sequence: task\nsteps:\n  - type: task\n    name: Send a card\n"}, ANN)
    run("--now=2026-11-23T08:00:00Z", "enroll", "task", "-c", "ann")
    tick(run, "2026-11-23T08:00:00Z")
    [action] = run("--now=2026-11-23T08:00:00Z", "actions", "--json").json
    assert action["title"] == "Send a card"
    result = run("--now=2026-11-23T09:00:00Z", "skip", str(action["id"]))
    assert "enrollment is completed" in result.stdout


def test_approval_required_holds_until_approved(launch: Launch, project: Path) -> None:
    held = (
        "sequence: held\nsteps:\n  - type: email\n    subject: Hi\n"
        "    body: Hello {{ contact.first_name | default('there') }}\n"
    )
    run = launch({"held": held}, ANN)
    run("--now=2026-11-23T08:00:00Z", "enroll", "held", "-c", "ann")
    assert tick(run, "2026-11-23T08:00:00Z")["approvals"] == 1
    assert outbox(project) == []
    [waiting] = run("approvals", "--json").json
    assert (waiting["to"], waiting["body"]) == ("ann@example.com", "Hello there")
    run("--now=2026-11-23T08:10:00Z", "approve", str(waiting["id"]), "--body", "Hello Ann!")
    report = tick(run, "2026-11-23T08:11:00Z")
    assert (report["sent"], report["completed"]) == (1, 1)
    assert [m["body"] for m in outbox(project)] == ["Hello Ann!"]


def test_tick_dry_run_writes_nothing(intro: Run, project: Path) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana")
    report = run("--now=2026-11-23T09:00:00Z", "tick", "--dry-run", "--json").json
    assert (report["due"], report["sent"]) == (1, 1)
    assert outbox(project) == []
    assert tick(run, "2026-11-23T09:00:00Z")["sent"] == 1


def test_tick_limit(intro: Run) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana")
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "bob")
    assert run("--now=2026-11-23T09:00:00Z", "tick", "--limit", "1", "--json").json["due"] == 1


def test_status_counts_states_and_steps(intro: Run) -> None:
    run = intro
    run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana", "-c", "bob")
    run("--now=2026-11-23T09:00:00Z", "tick")
    status = run("status", "intro", "--json").json
    assert status["enrollments"]["active"] == 1
    assert status["enrollments"]["failed"] == 1
    hello = status["steps"][0]
    assert (hello["id"], hello["sent"], hello["failed"]) == ("hello", 1, 1)


def test_enrollment_variables_reach_templates(launch: Launch, project: Path) -> None:
    plan = auto_playbook(
        "plan", "  - type: email\n    subject: Your {{ enrollment.plan }} plan\n    body: Hi\n"
    )
    run = launch({"plan": plan}, ANN)
    bad = run("enroll", "plan", "-c", "ann", "--var", "plan")
    assert (bad.exit_code, bad.stderr) == (2, "seqctl: --var 'plan': expected NAME=VALUE\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "plan", "-c", "ann", "--var", "plan=Pro")
    run("--now=2026-11-23T08:00:00Z", "tick")
    assert outbox(project)[0]["subject"] == "Your Pro plan"


def test_enroll_from_a_contact_file_imports_and_reports_bad_rows(
    run: Run, write: Callable[[str, str], Path]
) -> None:
    write("playbooks/task.yaml", "sequence: task\nsteps:\n  - type: task\n")
    run("--now=2026-11-23T08:00:00Z", "publish")
    write("new.csv", "key,email,first_name\nnew1,n1@example.com,Nia\nbad,not-an-email,X\n")
    result = run("--now=2026-11-23T08:00:00Z", "enroll", "task", "--file", "new.csv", "--json")
    assert result.exit_code == 1
    assert result.json == {
        "enrolled": 1,
        "already": 0,
        "refused": [{"contact": "new.csv:3", "reason": "invalid email 'not-an-email'"}],
    }
    assert run("contacts", "show", "new1", "--json").json["attributes"] == {"first_name": "Nia"}
    keys = run(
        "--now=2026-11-23T08:00:00Z",
        "enroll",
        "task",
        "--file",
        "-",
        "--json",
        input="new1\n\nnobody\n",
    )
    assert keys.json["already"] == 1
    assert keys.json["refused"][0]["contact"] == "nobody"
