"""Who a change is recorded as: one rule for every command with --by."""

from __future__ import annotations

import pytest

from tests.conftest import Run, Write

PLAYBOOK = "sequence: news\nsteps:\n  - id: hello\n    type: email\n    subject: Hi\n    body: Hi\n"


def _changes(run: Run) -> dict[str, str | None]:
    """Who published the sequence, and who suppressed an address."""
    assert run("publish").exit_code == 0
    assert run("suppress", "ann@example.com", "--reason", "asked").exit_code == 0
    [entry] = run("suppressions", "--json").json
    shown = run("sequences", "show", "news").stdout
    published = shown.split(" by ", 1)[1].split()[0]
    return {"publish": published, "suppress": entry["by"]}


def test_seqctl_user_is_who_does_it_when_by_is_not_given(
    run: Run, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("playbooks/news.yaml", PLAYBOOK)
    monkeypatch.setenv("USER", "ana")
    monkeypatch.setenv("SEQCTL_USER", "lee@acme.test")

    assert _changes(run) == {"publish": "lee@acme.test", "suppress": "lee@acme.test"}


def test_the_login_name_is_who_does_it_without_seqctl_user(
    run: Run, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("playbooks/news.yaml", PLAYBOOK)
    monkeypatch.setenv("USER", "ana")

    assert _changes(run) == {"publish": "ana", "suppress": "ana"}


def test_by_wins_over_both(run: Run, write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    write("playbooks/news.yaml", PLAYBOOK)
    monkeypatch.setenv("USER", "ana")
    monkeypatch.setenv("SEQCTL_USER", "lee@acme.test")

    assert run("publish", "--by", "kim").exit_code == 0
    assert run("suppress", "ann@example.com", "--by", "kim").exit_code == 0
    assert run("suppressions", "--json").json[0]["by"] == "kim"
    assert " by kim" in run("sequences", "show", "news").stdout
