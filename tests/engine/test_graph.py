"""`seqctl graph`: a sequence as a Mermaid or DOT diagram people can paste into docs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from seqctl.engine.sequences.graph import dot, mermaid
from seqctl.playbook.model import SequenceDef, normalise
from tests.conftest import Run

PLAYBOOK = """
sequence: intro
name: Intro
steps:
  - id: hello
    type: email
    subject: Hi
    body: Hello
  - type: wait
    wait: 3 days
  - id: check
    type: branch
    if: opened('hello')
    then: ring
    else: nudge
  - id: ring
    type: call
    instructions: Call them.
    next: end
  - id: nudge
    type: email
    day: 5
    subject: Hi again
    body: Again
"""


def model(source: str = PLAYBOOK, **changes: Any) -> SequenceDef:
    return normalise({**yaml.safe_load(source), **changes})


def test_mermaid_shows_waits_branches_manual_steps_end_and_exits() -> None:
    assert mermaid(model(), title="Intro") == (
        "---\n"
        'title: "Intro"\n'
        "---\n"
        "flowchart TD\n"
        '    start(["enrolled"])\n'
        '    s1["hello: email"]\n'
        "    s2{\"check: branch<br>opened('hello')\"}\n"
        '    s3["ring: call (manual)"]\n'
        '    s4["nudge: email"]\n'
        '    done(["completed"])\n'
        '    exited(["exited"])\n'
        "    start --> s1\n"
        '    s1 -->|"3 days"| s2\n'
        '    s2 -->|"yes"| s3\n'
        '    s2 -->|"no, day 5"| s4\n'
        "    s3 --> done\n"
        "    s4 --> done\n"
        '    start -.->|"reply, bounce, unsubscribe, complaint, meeting_booked"| exited\n'
    )


def test_else_defaults_to_the_next_step_and_on_rules_change_the_exits() -> None:
    source = PLAYBOOK.replace("    else: nudge\n", "")
    text = mermaid(model(source, on={"reply": "pause", "inbound": "exit"}))
    assert not text.startswith("---")
    assert '    s2 -->|"no"| s3\n' in text
    exits = "bounce, unsubscribe, complaint, meeting_booked, inbound"
    assert f'    start -.->|"{exits}"| exited\n' in text


def test_dot_is_one_balanced_digraph_with_a_diamond_for_the_branch() -> None:
    text = dot(model(), title="Intro")
    assert text.startswith('digraph "intro" {\n') and text.endswith("}\n")
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert "    s2 [label=\"check: branch\\nopened('hello')\", shape=diamond];\n" in text
    assert '    s1 -> s2 [label="3 days"];\n' in text
    assert "    s3 -> done;\n" in text
    exits = "reply, bounce, unsubscribe, complaint, meeting_booked"
    assert f'    start -> exited [label="{exits}", ' in text


def test_quotes_and_special_characters_in_labels_are_escaped() -> None:
    tricky = model(PLAYBOOK.replace("opened('hello')", "'contact.title == \"CEO\" # <b>'"))
    assert (
        '    s2{"check: branch<br>contact.title == #quot;CEO#quot; #35; #lt;b#gt;"}\n'
        in mermaid(tricky, title='Say "hi"')
    )
    assert 'title: "Say \\"hi\\""\n' in mermaid(tricky, title='Say "hi"')
    text = dot(tricky, title='C:\\ "x"')
    assert '    s2 [label="check: branch\\ncontact.title == \\"CEO\\" # <b>", ' in text
    assert '    label="C:\\\\ \\"x\\"";\n' in text


def test_graph_of_a_playbook_file_and_of_a_published_version(
    run: Run, write: Callable[[str, str], Path]
) -> None:
    write("playbooks/x.yaml", PLAYBOOK)
    from_file = run("graph", "playbooks/x.yaml", "--format", "dot")
    assert from_file.exit_code == 0, from_file.stderr
    assert from_file.stdout == dot(model(), title="Intro")

    assert run("--now=2026-11-23T12:00:00Z", "publish").exit_code == 0
    write("playbooks/x.yaml", PLAYBOOK.replace("wait: 3 days", "wait: 4 days"))
    assert run("--now=2026-11-23T13:00:00Z", "publish").exit_code == 0
    newest = run("graph", "intro")
    assert newest.exit_code == 0, newest.stderr
    assert '    s1 -->|"4 days"| s2\n' in newest.stdout
    first = run("graph", "intro", "--version", "1")
    assert first.stdout == mermaid(model(), title="Intro")


def test_an_unknown_sequence_is_an_input_error(run: Run) -> None:
    result = run("graph", "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr
    assert run("graph", "nope", "--version", "1").exit_code == 2
