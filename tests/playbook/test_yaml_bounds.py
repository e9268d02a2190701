"""YAML that would expand without end (aliases), nest too deep, or is far too big: a finding with
line and column, in bounded time and memory, wherever a playbook or seqctl.yaml is read."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from seqctl.playbook.bounds import MAX_FILE_CHARS
from seqctl.playbook.lint import lint_paths
from tests.conftest import Run, Write


def laughs(levels: int) -> str:
    """A "billion laughs": each anchor lists the previous one nine times."""
    lines = ["sequence: lol", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for level in range(1, levels):
        previous = names[level - 1]
        lines.append(f"{names[level]}: &{names[level]} [{','.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\nsteps:\n  - type: task\n"


def findings(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    path = tmp_path / "playbooks" / "demo.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return [(f.line, f.column, f.rule, f.message) for f in lint_paths([path]).findings]


def test_billion_laughs_is_refused_at_the_line_that_expands_too_far(tmp_path: Path) -> None:
    started = time.monotonic()
    [(line, column, rule, message)] = findings(tmp_path, laughs(9))
    assert time.monotonic() - started < 5
    # a: 9 values, b: 81, c: 729, d: 6,561, e: 59,049, f: 531,441 -> over 100,000 at `f:`
    assert (line, column, rule) == (7, 4, "yaml-aliases")
    assert "more than 100,000 values" in message


def test_the_bomb_runs_in_little_memory(tmp_path: Path) -> None:
    """Lint the 9-level bomb (billions of values) in a process allowed 1 GB of address space."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(9), encoding="utf-8")
    assert len(bomb.read_bytes()) < 450

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run(
        [sys.executable, "-m", "seqctl", "lint", str(bomb)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bomb.yaml:7:4: error [yaml-aliases]" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_few_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        sequence: anchors
        sender: &ana {name: Ana, email: ana@acme.test}
        steps:
          - &mail
            id: hello
            type: email
            subject: Hello
            body: &body |
              Hi {{ contact.first_name | default('there') }}.
            wait: 1 day
          - <<: *mail
            id: again
            subject: Hello again
            body: *body
          - type: task
            instructions: Call them.
        """
    )
    assert findings(tmp_path, text) == []
    path = tmp_path / "playbooks" / "demo.yaml"
    [(_, sequence)] = lint_paths([path]).sequences
    again = sequence.step("again")
    assert again is not None
    assert (again.spec["subject"], again.spec["body"]) == (
        "Hello again",
        "Hi {{ contact.first_name | default('there') }}.\n",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sequence: demo\nloop: &x [1, *x]\n", (2, 7, "yaml-aliases")),
        ("sequence: demo\nloop: &x {again: *x}\n", (2, 7, "yaml-aliases")),
        ("sequence: demo\ndeep: " + "[" * 150 + "]" * 150 + "\n", (2, 106, "too-deep")),
        ("sequence: demo\nbig: [" + "1," * 120_000 + "1]\n", (2, 6, "too-large")),
        ("sequence: !!python/object:os.system ls\n", (1, 11, "yaml-tag")),
        ("sequence: demo\nx: !!binary aGVsbG8=\n", (2, 4, "yaml-tag")),
        ("sequence: demo\nx: !!set {a, b}\n", (2, 4, "yaml-tag")),
        ("sequence: demo\nx: !custom 1\n", (2, 4, "yaml-tag")),
        ("sequence: demo\nx: !!float abc\n", (2, 4, "yaml-syntax")),
        ("sequence: demo\nx: !!timestamp nope\n", (2, 4, "yaml-tag")),
        ("sequence: demo\nx: 1" + "0" * 5000 + "\n", (2, 4, "yaml-syntax")),
        ("sequence: demo\nx: {<<: [1]}\n", (2, 10, "yaml-syntax")),
    ],
)
def test_values_that_are_not_plain_data(
    tmp_path: Path, text: str, expected: tuple[int, int, str]
) -> None:
    assert [f[:3] for f in findings(tmp_path, text)] == [expected]


def test_explicit_duplicate_keys_are_still_errors_beside_a_merge(tmp_path: Path) -> None:
    text = "sequence: demo\nbase: &b {x: 1}\nm: {<<: *b, x: 2, x: 3}\nsteps: [{type: task}]\n"
    assert [f[:3] for f in findings(tmp_path, text)] == [(3, 19, "duplicate-key")]


def test_a_file_too_large_is_not_read_whole(tmp_path: Path) -> None:
    text = "sequence: demo\nnotes: |\n" + ("  " + "x" * 99 + "\n") * (MAX_FILE_CHARS // 100)
    [(line, column, rule, message)] = findings(tmp_path, text)
    assert (line, column, rule) == (1, 1, "too-large")
    assert "longer than 1,000,000 characters" in message


def test_publish_diff_and_preview_refuse_the_bomb(run: Run, write: Write) -> None:
    write("playbooks/lol.yaml", laughs(9))
    write("c.csv", "key,email\nx,x@example.test\n")
    assert run("contacts", "import", "c.csv").exit_code == 0
    for command in (["publish"], ["diff"], ["preview", "playbooks/lol.yaml", "--contact", "x"]):
        result = run(*command)
        assert result.exit_code in (1, 2), command
        assert "playbooks/lol.yaml:7:4: error [yaml-aliases]" in result.stdout + result.stderr


def test_seqctl_yaml_bomb_is_a_config_error(run: Run, write: Write) -> None:
    write("seqctl.yaml", laughs(9).replace("sequence: lol\n", "").replace("steps:\n", "x:\n"))
    # lint reports it as a finding of the repository (seqctl.yaml is linted with the rest) ...
    linted = run("lint")
    assert linted.exit_code == 1
    assert "seqctl.yaml:6:4: error [yaml-aliases]" in linted.stdout
    # ... and any other command stops on it as a configuration error.
    result = run("sequences", "list")
    assert result.exit_code == 2
    assert "seqctl.yaml:6:4: error [yaml-aliases]" in result.stderr
