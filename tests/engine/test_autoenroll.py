"""Contacts enrolled automatically: `enroll_when` on import, and a default intro sequence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import BOTH_STORES, Run

pytestmark = BOTH_STORES

INTERESTED = """
sequence: interested
enroll_when: "contact.status == 'Interested'"
steps:
  - type: task
    name: Call them
"""
INTRO = "sequence: intro\nsteps:\n  - type: call\n"


def test_import_enrolls_exactly_the_matching_contacts(
    run: Run, write: Callable[[str, str], Path]
) -> None:
    write("playbooks/interested.yaml", INTERESTED)
    statuses = ["Interested", "New", "Lost", ""]
    rows = "".join(f"c{i},c{i}@example.com,{statuses[i % 4]}\n" for i in range(10_000))
    write("c.csv", "key,email,status\n" + rows)
    run("--now=2026-11-23T08:00:00Z", "publish")
    run("activate", "interested")
    result = run("--now=2026-11-23T08:00:00Z", "contacts", "import", "c.csv", "--json")
    assert result.json["enrolled"] == {"interested": 2500}
    assert run("status", "interested", "--json").json["enrollments"]["active"] == 2500
    # Updating a contact to match enrolls it too; importing again enrolls nobody twice.
    write("more.csv", "key,status\nc1,Interested\nc0,Interested\n")
    again = run("--now=2026-11-23T09:00:00Z", "contacts", "import", "more.csv", "--json")
    assert again.json["enrolled"] == {"interested": 1}


def test_draft_sequences_do_not_enroll(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/interested.yaml", INTERESTED)
    write("c.csv", "key,email,status\na,a@example.com,Interested\n")
    run("--now=2026-11-23T08:00:00Z", "publish")
    assert run("contacts", "import", "c.csv", "--json").json["enrolled"] == {}


def test_default_sequence_for_new_contacts(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/intro.yaml", INTRO)
    write("seqctl.yaml", "default_sequence: intro\n")
    run("--now=2026-11-23T08:00:00Z", "publish")
    write("c.csv", "key,email\na,a@example.com\n")
    result = run("--now=2026-11-23T08:00:00Z", "contacts", "import", "c.csv")
    assert "enrolled 1 automatically in intro" in result.stdout
    write("c.csv", "key,email\na,a@example.com\nb,b@example.com\n")
    again = run("--now=2026-11-23T09:00:00Z", "contacts", "import", "c.csv", "--json")
    assert again.json["enrolled"] == {"intro": 1}  # only b is new


def test_unknown_default_sequence_is_a_config_error(
    run: Run, write: Callable[[str, str], Path]
) -> None:
    write("seqctl.yaml", "default_sequence: nowhere\n")
    write("c.csv", "key,email\na,a@example.com\n")
    result = run("contacts", "import", "c.csv")
    assert result.exit_code == 2
    assert "default_sequence 'nowhere'" in result.stderr
