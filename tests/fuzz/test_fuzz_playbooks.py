"""Playbooks from a pull request, generated and mutated: lint, diff and preview never show a
traceback and never run away, whatever the YAML holds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import FUZZ, Project, check_outcome
from tests.fuzz.strategies import nasty_text

BASE = """\
sequence: fuzz
name: Fuzzed
timezone: America/Sao_Paulo
send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
steps:
  - id: hello
    type: email
    subject: "Hi {{ contact.first_name | default('there') }}"
    body: Hello
  - type: wait
    wait: 3 days
  - id: call
    type: call
    instructions: Ask about the budget.
"""

# YAML that is legal but hostile: tags, anchors and aliases, merges, huge scalars, odd keys.
SNIPPETS = [
    "!!python/object/apply:os.system ['echo pwned']", "!!binary aGVsbG8=", "&a [1, 2]", "*a",
    "<<: *a", "? [complex, key]\n: value", "{a: 1, a: 2}", "9" * 400, "0x1F", "1_000",
    ".inf", "-.nan", "~", "2026-11-23", "yes", "no", "on", "NO", "'", '"', "|\n  block",
    ">-\n  folded", "[", "]", "{", "}", "- - -", "\t", "%YAML 1.2\n---", "---\n...",
    "template: ../../etc/passwd", "attachments: [/etc/shadow]", "wait: 99999999 days",
    "wait: -1 hours", "day: 0", "type: branch", "next: hello", "if: contact.__class__",
    "subject: '{{ range(10**9)|list }}'", "body: '{% for a in range(999999) %}x{% endfor %}'",
]  # fmt: skip


@st.composite
def playbook(draw: st.DrawFn) -> str:
    lines = BASE.splitlines()
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(lines)))
        if action == 0 and lines:
            del lines[min(at, len(lines) - 1)]
        elif action == 1:
            indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
            lines.insert(at, indent + draw(st.sampled_from(SNIPPETS)))
        elif action == 2 and lines:
            i = min(at, len(lines) - 1)
            key, sep, _ = lines[i].partition(": ")
            lines[i] = key + (sep or ": ") + draw(st.one_of(nasty_text, st.sampled_from(SNIPPETS)))
        else:
            lines.insert(at, draw(nasty_text))
    return "\n".join(lines) + "\n"


@st.composite
def alias_bomb(draw: st.DrawFn) -> str:
    """Nested aliases: each level refers to the last one several times ("billion laughs")."""
    depth, width = draw(st.integers(2, 14)), draw(st.integers(2, 10))
    lines = ["sequence: bomb", 'a0: &a0 ["lol"]']
    for level in range(1, depth):
        refs = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"steps: [{{type: email, subject: x, body: *a{depth - 1}}}]")
    return "\n".join(lines) + "\n"


_names = itertools.count()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(tmp_path_factory.mktemp("playbooks"))


def check_playbook(project: Project, text: str) -> None:
    path = project.root / "fuzzed" / f"p{next(_names)}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, "utf-8", errors="surrogatepass")
    for command in (
        ("lint", str(path)),
        ("lint", "--format", "json", str(path)),
        ("diff", str(path)),
        ("preview", str(path), "--contact", "zz-sentinel-7f3a"),
    ):
        check_outcome(project.run(*command))
    project.check_intact()


@FUZZ
@given(text=playbook())
def test_mutated_playbooks(project: Project, text: str) -> None:
    check_playbook(project, text)


@settings(FUZZ, max_examples=max(FUZZ.max_examples // 3, 10))  # each costs four commands
@given(text=alias_bomb())
def test_alias_bombs_are_refused_quickly(project: Project, text: str) -> None:
    check_playbook(project, text)
