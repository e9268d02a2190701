"""One visibility rule, applied by every command that shows or changes a sequence: with --as or
SEQCTL_USER, a private sequence of someone else is "not found", exactly as one that does not
exist, and nothing of it shows in lists, timelines, agendas or reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Launch, Run

NOW = "--now=2026-11-23T13:00:00Z"
SECRET = """
sequence: secret
owner: ana@acme.test
visibility: private
steps:
  - id: hello
    type: email
    subject: Hi
    body: Private offer
  - id: call
    type: call
    wait: 1 hour
"""
OPEN = """
sequence: open
owner: dan@acme.test
steps:
  - id: hello
    type: email
    subject: Hi
    body: Public offer
  - id: call
    type: call
    wait: 1 hour
"""
EVE = "eve@acme.test"
MISSING = "seqctl: no sequence '{}' (seqctl sequences list shows the published ones)\n"


@pytest.fixture
def seeded(launch: Launch, write: Callable[[str, str], Path]) -> Run:
    """Ana's private sequence and Dan's company one, each with contact `x` waiting for an OK,
    and, an hour later, a call for `y`."""
    run = launch({"secret": SECRET, "open": OPEN}, "key,email\nx,x@x.test\ny,y@x.test\n")
    for sequence in ("secret", "open"):
        assert run(NOW, "enroll", sequence, "-c", "y").exit_code == 0
    assert run(NOW, "tick").exit_code == 0
    assert run(NOW, "approve", "--all").exit_code == 0  # as an admin: y's messages go out
    assert run(NOW, "tick").exit_code == 0
    for sequence in ("secret", "open"):
        assert run(NOW, "enroll", sequence, "-c", "x").exit_code == 0
    assert run(NOW, "tick").exit_code == 0
    assert run("--now=2026-11-23T14:30:00Z", "tick").exit_code == 0  # y's calls fall due
    return run


def as_eve(run: Run, *args: str) -> tuple[int, str, str]:
    result = run(*args, "--as", EVE)
    return result.exit_code, result.stdout, result.stderr


def test_a_private_sequence_is_not_found_as_one_that_does_not_exist(seeded: Run) -> None:
    run = seeded
    for command in (
        ("sequences", "show", "{}"),
        ("status", "{}"),
        ("enrollments", "{}"),
        ("graph", "{}"),
        ("preview", "{}", "-c", "x"),
        ("missing", "{}"),
        ("agenda", "--sequence", "{}"),
        ("approvals", "--sequence", "{}"),
        ("messages", "--sequence", "{}"),
        ("retry", "{}"),
        ("activate", "{}"),
        ("pause", "{}"),
        ("resume", "{}"),
        ("pause", "{}", "-c", "x"),
        ("remove", "{}", "-c", "x"),
        ("enroll", "{}", "-c", "x"),
        ("migrate", "{}", "--to", "1"),
        ("approve", "--all", "--sequence", "{}"),
        ("archive", "{}"),
        ("unarchive", "{}"),
    ):
        hidden = as_eve(run, NOW, *[part.format("secret") for part in command])
        absent = as_eve(run, NOW, *[part.format("nowhere") for part in command])
        assert hidden == (2, "", MISSING.format("secret")), command
        assert absent == (2, "", MISSING.format("nowhere")), command
    # doctor answers with a failed check, the same one for both
    hidden = as_eve(run, NOW, "doctor", "secret", "-c", "x")
    absent = as_eve(run, NOW, "doctor", "nowhere", "-c", "x")
    assert hidden[0] == absent[0] == 1
    assert hidden[1].replace("secret", "?") == absent[1].replace("nowhere", "?")


def test_messages_and_actions_by_id_are_not_found_either(seeded: Run) -> None:
    run = seeded
    waiting = {m["sequence"]: m["id"] for m in run("approvals", "--json").json}
    calls = {
        a["sequence"]: a["id"]
        for a in run("--now=2026-11-23T14:30:00Z", "actions", "--due", "--json").json
    }
    for verb, ids, noun, hint in (
        ("approve", waiting, "message", "seqctl approvals lists those waiting"),
        ("reject", waiting, "message", "seqctl approvals lists those waiting"),
        ("done", calls, "action", "seqctl actions lists them"),
        ("skip", calls, "action", "seqctl actions lists them"),
    ):
        hidden = as_eve(run, NOW, verb, str(ids["secret"]))
        assert hidden == (2, "", f"seqctl: no {noun} {ids['secret']} ({hint})\n"), verb
        assert as_eve(run, NOW, verb, "9999") == (2, "", f"seqctl: no {noun} 9999 ({hint})\n")
    assert as_eve(run, NOW, "approve", str(waiting["open"]))[0] == 0  # Dan's: Eve may


def test_lists_show_only_what_the_user_may_see(seeded: Run) -> None:
    run = seeded
    later = "--now=2026-11-23T14:30:00Z"

    def sequences_in(*args: str) -> set[str]:
        result = run(*args, "--as", EVE, "--json")
        assert result.exit_code == 0, result.stderr
        data = result.json
        rows = data if isinstance(data, list) else [data]
        return {str(row.get("sequence")) for row in rows}

    assert sequences_in(NOW, "approvals") == {"open"}
    assert sequences_in(NOW, "messages") == {"open"}
    assert sequences_in(later, "actions") == {"open"}
    assert sequences_in(NOW, "enrollments") == {"open"}
    assert sequences_in(NOW, "timeline", "y") == {"open"}
    assert sequences_in(NOW, "agenda", "--days", "2") == {"open"}
    assert sequences_in(NOW, "status") == {"open"}
    assert sequences_in(NOW, "approvals", "--preview") <= {"open"}
    # The same commands for an admin (no --as) show both.
    assert {row["sequence"] for row in run(NOW, "messages", "--json").json} == {"open", "secret"}
    # Ana owns the private one: she sees it.
    mine = run(NOW, "timeline", "y", "--as", "ana@acme.test", "--json").json
    assert {row["sequence"] for row in mine} == {"open", "secret"}


def test_the_report_leaves_out_what_the_user_may_not_see(seeded: Run, project: Path) -> None:
    assert seeded(NOW, "report", "--out", "eve.html", "--as", EVE).exit_code == 0
    page = (project / "eve.html").read_text(encoding="utf-8")
    assert "secret" not in page
    assert seeded(NOW, "report", "--out", "all.html").exit_code == 0
    assert "secret" in (project / "all.html").read_text(encoding="utf-8")


def test_seqctl_user_applies_without_as(seeded: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQCTL_USER", EVE)
    result = seeded(NOW, "pause", "secret")
    assert (result.exit_code, result.stderr) == (2, MISSING.format("secret"))
    waiting = seeded(NOW, "approvals", "--json")
    assert {m["sequence"] for m in waiting.json} == {"open"}


def test_events_naming_a_hidden_sequence_are_refused_as_unknown(seeded: Run) -> None:
    hidden = seeded(NOW, "event", "reply", "-c", "x", "--sequence", "secret", "--as", EVE)
    absent = seeded(NOW, "event", "reply", "-c", "x", "--sequence", "nowhere", "--as", EVE)
    assert hidden.exit_code == absent.exit_code == 1
    assert hidden.stderr.replace("secret", "?") == absent.stderr.replace("nowhere", "?")
    # A fact about the contact, without a sequence, still applies everywhere: a reply ends
    # both of x's enrollments, the private one included (an unsubscribe must stop them all).
    applied = seeded(NOW, "event", "reply", "-c", "x", "--as", EVE, "--json")
    assert applied.json["exited"] == 2


def test_approve_all_releases_only_what_the_user_may_see(seeded: Run) -> None:
    result = seeded(NOW, "approve", "--all", "--as", EVE)
    assert (result.exit_code, result.stdout) == (0, "approved 1 message\n")
    still = seeded(NOW, "approvals", "--json").json
    assert [m["sequence"] for m in still] == ["secret"]
