"""Publishing playbooks as versions, as a team would from CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Run

WELCOME = """
sequence: welcome
name: Welcome
steps:
  - id: hello
    type: email
    subject: "Welcome, {{ contact.first_name | default('there') }}"
    body: Hi!
  - type: wait
    wait: 3 days
  - id: follow-up
    type: email
    subject: Still there?
    body: Just checking in.
"""
OTHER = """
sequence: other
steps:
  - type: call
    instructions: Call them.
"""
NOW = "--now=2026-11-23T12:00:00Z"


def test_publish_twice_creates_one_version(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    first = run(NOW, "publish", "--json", "--by", "ana")
    assert first.exit_code == 0, first.stderr
    assert [(p["sequence"], p["version"], p["changed"]) for p in first.json] == [
        ("welcome", 1, True)
    ]
    again = run(NOW, "publish", "--json")
    assert [(p["sequence"], p["version"], p["changed"]) for p in again.json] == [
        ("welcome", 1, False)
    ]


def test_changing_one_body_makes_version_two_of_that_sequence_only(
    run: Run, write: Callable[[str, str], Path]
) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    write("playbooks/other.yaml", OTHER)
    run(NOW, "publish")
    write("playbooks/welcome.yaml", WELCOME.replace("Just checking in.", "Any news?"))
    diff = run("diff")
    assert diff.stdout.splitlines() == [
        "other: unchanged (version 1)",
        "welcome: version 1 -> version 2",
        '  ~ step \'follow-up\' body: "Just checking in." -> "Any news?"',
    ]
    result = run(NOW, "publish", "--json")
    assert {p["sequence"]: (p["version"], p["changed"]) for p in result.json} == {
        "other": (1, False),
        "welcome": (2, True),
    }


def test_spelling_out_a_default_is_not_a_change(
    run: Run, write: Callable[[str, str], Path]
) -> None:
    write("playbooks/other.yaml", OTHER)
    run(NOW, "publish")
    write(
        "playbooks/other.yaml",
        OTHER.replace("steps:", "approval: required\ntimezone: UTC\nsteps:").replace(
            "  - type: call", "  - id: step-1\n    type: call"
        ),
    )
    assert run(NOW, "publish", "--json").json[0]["changed"] is False


def test_a_broken_file_publishes_nothing(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    write("playbooks/broken.yaml", "sequence: broken\nsteps:\n  - type: emial\n")
    result = run(NOW, "publish")
    assert result.exit_code == 1
    assert "playbooks/broken.yaml:3:11: error [schema]" in result.stderr
    assert "nothing published" in result.stderr
    assert "no sequences published yet" in run("sequences", "list").stdout


def test_dry_run_writes_nothing(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    assert "would publish version 1" in run(NOW, "publish", "--dry-run").stdout
    assert run("sequences", "list", "--json").json == []


def test_versions_record_who_when_and_where(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    run(NOW, "publish", "--by", "ana@acme.test")
    shown = run("sequences", "show", "welcome", "--json").json
    assert shown["status"] == "draft"
    assert shown["versions"] == [
        {
            "version": 1,
            "digest": shown["digest"],
            "published_at": "2026-11-23T12:00:00Z",
            "published_by": "ana@acme.test",
            "commit": None,
        }
    ]
    assert [s["id"] for s in shown["steps"]] == ["hello", "follow-up"]
    assert shown["steps"][1]["wait"] == "3 days"


def test_lifecycle_draft_active_paused(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    run(NOW, "publish")
    assert run("pause", "welcome").exit_code == 2
    assert run("activate", "welcome").stdout == "welcome: active\n"
    assert run("pause", "welcome").stdout == "welcome: paused\n"
    assert run("resume", "welcome").stdout == "welcome: resumed\n"
    listed = run("sequences", "list", "--json").json
    assert [(s["sequence"], s["status"], s["version"]) for s in listed] == [
        ("welcome", "active", 1)
    ]


def test_unknown_sequence_is_a_clear_error(run: Run) -> None:
    result = run("activate", "nope")
    assert result.exit_code == 2
    assert result.stderr == "seqctl: no sequence 'nope' (publish it first: seqctl publish)\n"


def test_show_an_older_version(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    run(NOW, "publish")
    write("playbooks/welcome.yaml", WELCOME.replace("Hi!", "Hello!"))
    run(NOW, "publish")
    assert run("sequences", "show", "welcome", "--version", "1", "--json").json["version"] == 1
    missing = run("sequences", "show", "welcome", "--version", "7")
    assert missing.exit_code == 2
    assert "versions: 1, 2" in missing.stderr


def test_git_commit_is_recorded(run: Run, write: Callable[[str, str], Path], project: Path) -> None:
    import subprocess

    write("playbooks/welcome.yaml", WELCOME)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "playbooks"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=project, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.strip()
    run(NOW, "publish")
    assert run("sequences", "show", "welcome", "--json").json["commit"] == head
