"""Each mistake in a playbook, alone in its file, gives exactly one rule at the right place."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seqctl.playbook.findings import Severity
from seqctl.playbook.lint import lint_paths

HEADER = """\
sequence: demo
name: Demo
"""


def lint(tmp_path: Path, source: str, *, name: str = "demo.yaml") -> list[tuple[int, int, str]]:
    path = tmp_path / "playbooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    result = lint_paths([path])
    return [(f.line, f.column, f.rule) for f in result.findings]


def test_a_clean_playbook_has_no_findings(tmp_path: Path) -> None:
    assert (
        lint(
            tmp_path,
            HEADER
            + """\
        steps:
          - id: hello
            type: email
            subject: "Hi {{ contact.first_name | default('there') }}"
            body: Hello.
          - type: wait
            wait: 3 days
          - type: call
            instructions: Ask about the budget.
        """.replace("        ", "", 1),
        )
        == []
    )


CASES = {
    "yaml-syntax": (
        """
        sequence: demo
        steps: [
        """,
        [(3, 1, "yaml-syntax")],
    ),
    "duplicate-key": (
        """
        sequence: demo
        steps:
          - type: email
            body: a
            body: b
        """,
        [(5, 5, "duplicate-key")],
    ),
    "unknown-key": (
        """
        sequence: demo
        steps:
          - type: email
            subjet: Hello
            body: Hi
        """,
        [(4, 5, "unknown-key")],
    ),
    "enum": (
        """
        sequence: demo
        visibility: public
        steps:
          - type: task
        """,
        [(2, 13, "schema")],
    ),
    "wait-unit": (
        """
        sequence: demo
        steps:
          - type: wait
            wait: 3 dais
          - type: task
        """,
        [(4, 11, "wait-unit")],
    ),
    "duplicate-step": (
        """
        sequence: demo
        steps:
          - id: hello
            type: task
          - id: hello
            type: call
        """,
        [(5, 9, "duplicate-step")],
    ),
    "branch-target": (
        """
        sequence: demo
        steps:
          - type: branch
            if: "contact.vip"
            then: vip-call
          - id: normal
            type: task
        """,
        [(5, 11, "branch-target")],
    ),
    "unreachable-step": (
        """
        sequence: demo
        steps:
          - type: branch
            if: "contact.vip"
            then: last
            else: last
          - id: lonely
            type: task
          - id: last
            type: call
        """,
        [(7, 5, "unreachable-step")],
    ),
    "trailing-wait": (
        """
        sequence: demo
        steps:
          - type: task
          - type: wait
            wait: 2 days
        """,
        [(4, 5, "trailing-wait")],
    ),
    "template-syntax": (
        """
        sequence: demo
        steps:
          - type: email
            subject: Hello
            body: |
              Hi there,
              {{ contact.first_name | default('x') }
        """,
        [(7, 7, "template-syntax")],
    ),
    "template-missing": (
        """
        sequence: demo
        steps:
          - type: email
            subject: Hello
            template: nowhere.md.j2
        """,
        [(5, 15, "template-missing")],
    ),
    "template-variable": (
        """
        sequence: demo
        steps:
          - type: email
            subject: "Hi {{ contcat.first_name }}"
            body: Hello
        """,
        [(4, 21, "template-variable")],
    ),
    "template-unsafe": (
        """
        sequence: demo
        steps:
          - type: email
            subject: Hello
            body: |
              {{ contact.__class__ }}
        """,
        [(6, 18, "template-unsafe")],
    ),
    "timezone": (
        """
        sequence: demo
        timezone: America/Sao_Paolo
        steps:
          - type: task
        """,
        [(2, 11, "timezone")],
    ),
    "holiday-country": (
        """
        sequence: demo
        holidays: {country: XX}
        steps:
          - type: task
        """,
        [(2, 21, "holiday-country")],
    ),
    "send-window": (
        """
        sequence: demo
        send_window: {days: [mon], start: "18:00", end: "09:00"}
        steps:
          - type: task
        """,
        [(2, 49, "send-window")],
    ),
    "message-gap": (
        """
        sequence: demo
        steps:
          - type: email
            subject: One
            body: One
          - type: sms
            wait: 10 minutes
            body: Two
        """,
        [(6, 5, "message-gap")],
    ),
    "whatsapp-fallback": (
        """
        sequence: demo
        steps:
          - type: whatsapp
            body: Hi
        """,
        [(3, 11, "whatsapp-fallback")],
    ),
    "consent": (
        """
        sequence: demo
        approval: auto
        steps:
          - type: task
        """,
        [(2, 11, "consent")],
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_mistake_is_found_at_its_place(tmp_path: Path, rule: str) -> None:
    source, expected = CASES[rule]
    assert lint(tmp_path, source) == expected


def test_template_file_errors_point_into_the_template(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "hello.md.j2").write_text("Hi,\n\n{% if contact.vip %}VIP\n", encoding="utf-8")
    path = tmp_path / "playbooks" / "demo.yaml"
    path.parent.mkdir()
    path.write_text(
        "sequence: demo\nsteps:\n  - type: email\n    subject: Hi\n    template: hello.md.j2\n",
        encoding="utf-8",
    )
    [finding] = lint_paths([path]).findings
    assert finding.path.endswith("templates/hello.md.j2")
    assert (finding.rule, finding.line) == ("template-syntax", 3)


def test_duplicate_sequence_ids_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "a.yaml").write_text("sequence: same\nsteps:\n  - type: task\n", encoding="utf-8")
    (folder / "b.yaml").write_text("sequence: same\nsteps:\n  - type: call\n", encoding="utf-8")
    [finding] = lint_paths([folder]).findings
    assert (finding.path.endswith("b.yaml"), finding.line, finding.column) == (True, 1, 11)
    assert finding.rule == "duplicate-sequence"
    assert "a.yaml:1:11" in finding.message


def test_warnings_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "wa.yaml"
    path.write_text("sequence: wa\nsteps:\n  - type: whatsapp\n    body: Hi\n", encoding="utf-8")
    result = lint_paths([path])
    assert [f.severity for f in result.findings] == [Severity.WARNING]
    assert not result.failed()
    assert result.failed(strict=True)


def test_wait_unit_suggests_the_right_word(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("sequence: w\nsteps:\n  - type: task\n    wait: 2 weks\n", encoding="utf-8")
    [finding] = lint_paths([path]).findings
    assert finding.message == "unknown unit 'weks' (did you mean 'weeks'?)"


def test_holiday_country_suggests_the_code(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(
        "sequence: h\nholidays: {country: USX}\nsteps:\n  - type: task\n", encoding="utf-8"
    )
    [finding] = lint_paths([path]).findings
    assert (finding.line, finding.column, finding.rule) == (2, 21, "holiday-country")
    assert finding.message == "no public holidays are known for country 'USX' (did you mean 'US'?)"


def test_on_and_no_stay_words(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text(
        "sequence: n\non: {reply: exit}\nholidays: {country: NO}\nsteps:\n  - type: task\n",
        encoding="utf-8",
    )
    assert lint_paths([path]).findings == []
