"""Visibility (private | team | company) and --owner / --as on sequences, enrollments, actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seqctl.engine.sequences.visibility import Viewer, admits
from tests.conftest import Launch, Run

NOW = "--now=2026-11-23T08:00:00Z"
TEAMS = {"sales": ["bob@acme.test"]}

PLAYBOOKS = {
    "private-one": """
        sequence: private-one
        owner: ana@acme.test
        visibility: private
        steps:
          - id: call
            type: call
    """,
    "team-one": """
        sequence: team-one
        owner: ana@acme.test
        visibility: team
        teams: [sales]
        steps:
          - id: call
            type: call
    """,
    "company-one": """
        sequence: company-one
        owner: dan@acme.test
        visibility: company
        steps:
          - id: call
            type: call
          - id: task
            type: task
            assignee: ana@acme.test
            wait: 2 days
    """,
}
ALL = ["company-one", "private-one", "team-one"]


@pytest.fixture
def seeded(launch: Launch, write: Callable[[str, str], Path]) -> Run:
    """Three published, active sequences, one contact enrolled in each, one tick run."""
    write("seqctl.yaml", "teams:\n  sales: [bob@acme.test]\n")
    run = launch(PLAYBOOKS, "key,email\na,a@example.com\n")
    for name in PLAYBOOKS:
        assert run(NOW, "enroll", name, "--contact", "a").exit_code == 0
    run(NOW, "tick")
    return run


def ids(run: Run, *args: str, key: str = "sequence") -> list[str]:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return sorted(row[key] for row in result.json)


def test_viewer_rules() -> None:
    private = {"owner": "ana@acme.test", "visibility": "private"}
    team = {"owner": "ana@acme.test", "visibility": "team", "teams": ["sales", "ops"]}
    company = {"owner": "dan@acme.test", "visibility": "company"}
    unset = {"owner": "dan@acme.test"}
    for definition in (private, team, company, unset):
        assert Viewer(None, TEAMS).can_see(definition)  # an admin, cron
    carl, bob, ana = (
        Viewer(u, TEAMS) for u in ("carl@acme.test", "bob@acme.test", "ANA@acme.test")
    )
    assert [carl.can_see(d) for d in (private, team, company, unset)] == [False, False, True, True]
    assert [bob.can_see(d) for d in (private, team, company)] == [False, True, True]
    assert [ana.can_see(d) for d in (private, team, company)] == [True, True, True]
    assert not Viewer("bob@acme.test", {}).can_see(team)  # a team unknown to seqctl.yaml
    # An action's assignee may see it, even in a sequence hidden from them.
    assert carl.can_see(private, assignee="carl@acme.test")
    assert admits(company, None, "ana@acme.test", assignee="ana@acme.test")
    assert not admits(company, None, "ana@acme.test")
    assert not admits(private, carl, "ana@acme.test")


def test_sequences_list_as_each_person(seeded: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    run = seeded
    assert ids(run, "sequences", "list") == ALL
    assert ids(run, "sequences", "list", "--as", "carl@acme.test") == ["company-one"]
    assert ids(run, "sequences", "list", "--as", "bob@acme.test") == ["company-one", "team-one"]
    assert ids(run, "sequences", "list", "--as", "ana@acme.test") == ALL
    assert ids(run, "sequences", "list", "--owner", "ana@acme.test") == ["private-one", "team-one"]
    text = run("sequences", "list", "--as", "carl@acme.test").stdout
    assert "company-one" in text and "private-one" not in text
    monkeypatch.setenv("SEQCTL_USER", "bob@acme.test")
    assert ids(run, "sequences", "list") == ["company-one", "team-one"]
    assert run("sequences", "show", "private-one").exit_code == 2


def test_sequences_show_hidden_is_not_found(seeded: Run) -> None:
    run = seeded
    hidden = run("sequences", "show", "private-one", "--as", "carl@acme.test")
    assert hidden.exit_code == 2
    assert "no sequence 'private-one'" in hidden.stderr
    assert run("sequences", "show", "private-one", "--as", "ana@acme.test").exit_code == 0
    assert run("sequences", "show", "team-one", "--as", "bob@acme.test").exit_code == 0
    assert run("sequences", "show", "private-one").exit_code == 0


def test_enrollments_filtered(seeded: Run) -> None:
    run = seeded
    assert ids(run, "enrollments") == ALL
    assert ids(run, "enrollments", "--owner", "ana@acme.test") == ["private-one", "team-one"]
    assert ids(run, "enrollments", "--as", "carl@acme.test") == ["company-one"]
    assert ids(run, "enrollments", "--as", "bob@acme.test") == ["company-one", "team-one"]
    assert ids(run, "enrollments", "company-one", "--owner", "ana@acme.test") == []
    assert run("enrollments", "team-one", "--as", "carl@acme.test").exit_code == 2


def test_actions_filtered_by_owner_and_assignee(seeded: Run) -> None:
    run = seeded
    assert ids(run, NOW, "actions") == ALL
    assert ids(run, NOW, "actions", "--owner", "ana@acme.test") == ["private-one", "team-one"]
    assert ids(run, NOW, "actions", "--owner", "dan@acme.test") == ["company-one"]
    assert ids(run, NOW, "actions", "--as", "carl@acme.test") == ["company-one"]
    assert ids(run, NOW, "actions", "--as", "bob@acme.test") == ["company-one", "team-one"]
    # Once the call is done, company-one's next step is a task assigned to ana: hers, not dan's.
    (call,) = [a for a in run(NOW, "actions", "--json").json if a["sequence"] == "company-one"]
    assert run("--now=2026-11-23T09:00:00Z", "done", str(call["id"])).exit_code == 0
    assert ids(run, NOW, "actions", "--owner", "dan@acme.test") == []
    upcoming = run(NOW, "actions", "--upcoming", "--owner", "ana@acme.test", "--json").json
    assert [(a["sequence"], a["step"]) for a in upcoming] == [("company-one", "task")]
    later = "--now=2026-11-26T08:00:00Z"
    run(later, "tick")
    assert ids(run, later, "actions", "--owner", "ana@acme.test", key="step") == [
        "call",
        "call",
        "task",
    ]
