"""`seqctl remove` for many contacts at once, and for one contact from every sequence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BOTH_STORES, Launch, Run
from tests.playbooks import auto_playbook

pytestmark = BOTH_STORES

STEPS = """
  - id: hello
    type: email
    subject: Hi
    body: Hello
  - id: call
    type: call
    wait: 1 day
"""
T0 = "--now=2026-11-23T14:00:00Z"
LATER = "--now=2026-11-25T14:00:00Z"


@pytest.fixture
def run(launch: Launch) -> Run:
    people = "".join(f"c{i},c{i}@example.com\n" for i in range(6))
    run = launch(
        {"news": auto_playbook("news", STEPS), "promo": auto_playbook("promo", STEPS)},
        "key,email\n" + people,
    )
    run(T0, "enroll", "news", *[f"--contact=c{i}" for i in range(5)])
    run(T0, "enroll", "promo", "-c", "c0", "-c", "c1")
    run(T0, "tick")
    run("--now=2026-11-24T14:00:00Z", "tick")  # the calls are due: actions for people
    return run


def running(run: Run, sequence: str) -> list[str]:
    listed = run("enrollments", sequence, "--json").json
    return sorted(e["contact"] for e in listed if e["state"] not in ("exited", "completed"))


def test_remove_keys_from_a_file_with_counts(run: Run, write: Callable[[str, str], Path]) -> None:
    write("gone.txt", "c0\nc1\n\nc5\nnobody\nc1\n")
    done = run(LATER, "remove", "news", "--file", "gone.txt", "--reason", "list cleanup")
    assert done.exit_code == 1  # an unknown key is worth a look
    assert done.stdout == "removed 2 from news; 1 not enrolled, 1 unknown\n"
    assert done.stderr == "nobody: unknown contact\n"
    assert running(run, "news") == ["c2", "c3", "c4"]
    assert running(run, "promo") == ["c0", "c1"]  # other sequences are left alone
    [row] = run("enrollments", "news", "-c", "c0", "--json").json
    assert (row["state"], row["reason"]) == ("exited", "list cleanup")
    actions = run(LATER, "actions", "--json").json
    assert sorted(a["contact"] for a in actions if a["sequence"] == "news") == ["c2", "c3", "c4"]


def test_remove_a_csv_from_standard_input_as_json(run: Run) -> None:
    csv = "email,key,name\nc2@example.com,c2,Cee\nc3@example.com,c3,Dee\nbad-email,x,\n"
    done = run(LATER, "remove", "news", "--file", "-", "--json", input=csv)
    assert done.exit_code == 1
    assert done.json == {
        "removed": 2,
        "not_enrolled": 0,
        "unknown": [],
        "refused": [{"row": "-:4", "reason": "invalid email 'bad-email'"}],
        "sequences": {"news": 2},
    }
    jsonl = '{"key": "c4"}\n{"key": "c3"}\n'
    again = run(LATER, "remove", "news", "-f", "-", "--json", input=jsonl).json
    assert (again["removed"], again["not_enrolled"]) == (1, 1)
    assert running(run, "news") == ["c0", "c1"]


def test_remove_one_contact_from_every_sequence(run: Run) -> None:
    done = run(LATER, "remove", "--all-sequences", "-c", "c1", "--reason", "left the company")
    assert (done.exit_code, done.stdout) == (0, "removed 2 from 2 sequences; 0 not enrolled\n")
    assert "c1" not in running(run, "news") + running(run, "promo")
    assert run(LATER, "remove", "--all-sequences", "-c", "c5").stdout == (
        "removed 0 from 0 sequences; 1 not enrolled\n"
    )
    both = run(LATER, "remove", "news", "--all-sequences", "-c", "c1")
    assert (both.exit_code, both.stderr) == (
        2,
        "seqctl: name a sequence, or give --all-sequences (not both)\n",
    )
    # One contact, one sequence: as before, a clear error when it is not enrolled.
    single = run(LATER, "remove", "news", "-c", "c5")
    assert (single.exit_code, single.stderr) == (
        2,
        "seqctl: contact 'c5' is not enrolled in 'news'\n",
    )


def test_a_bad_byte_in_a_file_of_keys_is_refused_by_its_line(run: Run, project: Path) -> None:
    (project / "gone.txt").write_bytes(b"c0\nc\xff1\nc2\n")

    done = run(LATER, "remove", "news", "--file", "gone.txt")

    assert done.exit_code == 1  # the good lines are removed, the bad one is said
    assert done.stderr.startswith("gone.txt:2: ")
    assert "UTF-8" in done.stderr
    assert running(run, "news") == ["c1", "c3", "c4"]
