"""Consent for automatic sending names the owner or the sender, and a real date already come."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.playbook.lint import lint_paths
from tests.conftest import Run, Write

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
STEPS = "steps:\n  - type: email\n    subject: Hi\n    body: Hello\n"


def findings(tmp_path: Path, head: str, *, now: datetime = NOW) -> list[tuple[int, int, str]]:
    path = tmp_path / "playbooks" / "auto.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(head).lstrip("\n") + STEPS, encoding="utf-8")
    return [(f.line, f.column, f.rule) for f in lint_paths([path], now=now).findings]


CASES = {
    "by the owner": (
        """
        sequence: auto
        owner: ana@acme.test
        approval: auto
        consent: {by: ana@acme.test, at: "2026-11-01"}
        """,
        [],
    ),
    "by the sender, in other case": (
        """
        sequence: auto
        approval: auto
        sender: {name: Bo, email: bo@acme.test}
        consent: {by: BO@Acme.test, at: "2026-11-23"}
        """,
        [],
    ),
    "by someone else": (
        """
        sequence: auto
        owner: ana@acme.test
        sender: {email: bo@acme.test}
        approval: auto
        consent: {by: eve@acme.test, at: "2026-11-01"}
        """,
        [(5, 15, "consent-by")],
    ),
    "nobody owns the sequence": (
        """
        sequence: auto
        auto_approve: [{step: step-1}]
        consent:
          by: ana@acme.test
          at: "2026-11-01"
        """,
        [(4, 7, "consent-by")],
    ),
    "in the future": (
        """
        sequence: auto
        owner: ana@acme.test
        approval: auto
        consent: {by: ana@acme.test, at: "2026-12-01"}
        """,
        [(4, 34, "consent-date")],
    ),
    "not a real date": (
        """
        sequence: auto
        owner: ana@acme.test
        approval: auto
        consent: {by: ana@acme.test, at: "2026-02-30"}
        """,
        [(4, 34, "consent-date")],
    ),
    "both wrong": (
        """
        sequence: auto
        owner: ana@acme.test
        approval: auto
        consent: {by: eve@acme.test, at: "2027-01-01"}
        """,
        [(4, 15, "consent-by"), (4, 34, "consent-date")],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_consent_is_checked_at_its_place(tmp_path: Path, case: str) -> None:
    source, expected = CASES[case]
    assert findings(tmp_path, source) == expected


def test_the_messages_say_who_may_consent_and_what_today_is(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "sequence: a\nowner: ana@acme.test\nsender: {email: bo@acme.test}\napproval: auto\n"
        'consent: {by: eve@acme.test, at: "2026-12-01"}\n' + STEPS,
        encoding="utf-8",
    )
    messages = [f.message for f in lint_paths([path], now=NOW).findings]
    assert messages == [
        "consent is given by 'eve@acme.test', who neither owns nor sends this sequence: "
        "it must come from 'ana@acme.test' or 'bo@acme.test'",
        "consent date 2026-12-01 is in the future (today is 2026-11-24): consent is on "
        "record only once it was given",
    ]


def test_today_is_the_newest_date_anywhere(tmp_path: Path) -> None:
    """At 13:00 UTC it is already tomorrow in Kiribati: consent dated tomorrow is not early."""
    head = 'sequence: a\nowner: a@x.test\napproval: auto\nconsent: {by: a@x.test, at: "%s"}\n'
    assert findings(tmp_path, head % "2026-11-24") == []
    assert findings(tmp_path, head % "2026-11-25") == [(4, 29, "consent-date")]
    early = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 23:00 on the 23rd in Kiribati
    assert findings(tmp_path, head % "2026-11-24", now=early) == [(4, 29, "consent-date")]


def test_lint_and_publish_use_the_runs_clock(run: Run, write: Write) -> None:
    """A consent dated 1 December is early on 23 November and fine from 1 December on."""
    write(
        "playbooks/auto.yaml",
        """
        sequence: auto
        owner: ana@acme.test
        approval: auto
        consent: {by: ana@acme.test, at: "2026-12-01"}
        steps:
          - {type: email, subject: Hi, body: Hello}
        """,
    )
    early = run("--now=2026-11-23T13:00:00Z", "lint")
    assert early.exit_code == 1
    assert "playbooks/auto.yaml:4:34: error [consent-date] consent date 2026-12-01 is in " in (
        early.stdout
    )
    refused = run("--now=2026-11-23T13:00:00Z", "publish")
    assert refused.exit_code == 1
    assert run("--now=2026-12-01T08:00:00Z", "lint").exit_code == 0
    assert run("--now=2026-12-01T08:00:00Z", "publish").exit_code == 0


def test_consent_from_a_colleague_stops_publishing(run: Run, write: Write) -> None:
    write(
        "playbooks/auto.yaml",
        """
        sequence: auto
        owner: ana@acme.test
        auto_approve: [{step: hello}]
        consent: {by: bruno@acme.test, at: "2026-11-01"}
        steps:
          - {id: hello, type: email, subject: Hi, body: Hello}
        """,
    )
    result = run("--now=2026-11-23T13:00:00Z", "publish")
    assert result.exit_code == 1
    assert (
        "playbooks/auto.yaml:4:15: error [consent-by] consent is given by 'bruno@acme.test', "
        "who neither owns nor sends this sequence: it must come from 'ana@acme.test'"
    ) in result.stderr
