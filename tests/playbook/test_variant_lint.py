"""Lint of A/B variants: ids, weights, the count, the winner, and every variant's templates,
each finding at its line and column inside the variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.playbook.test_lint_rules import lint

STEP = """
sequence: demo
steps:
  - id: hello
    type: email
    subject: Hello
    body: Hi.
    variants:
"""

CASES = {
    "one variant is no test": (STEP + "      - id: a\n", [(8, 7, "schema")]),
    "six are too many": (
        STEP + "".join(f"      - id: v{n}\n" for n in range(6)),
        [(8, 7, "schema")],
    ),
    "a weight of zero": (
        STEP + "      - id: a\n        weight: 0\n      - id: b\n",
        [(9, 17, "schema")],
    ),
    "a weight that is no number": (
        STEP + "      - id: a\n        weight: lots\n      - id: b\n",
        [(9, 17, "schema")],
    ),
    "an id that is no slug": (STEP + "      - id: A\n      - id: b\n", [(8, 13, "schema")]),
    "an id twice": (STEP + "      - id: a\n      - id: a\n", [(9, 13, "duplicate-variant")]),
    "a winner that is no variant": (
        STEP.replace("    variants:", "    winner: c\n    variants:")
        + "      - id: a\n      - id: b\n",
        [(7, 13, "variant-winner")],
    ),
    "a winner without variants": (
        STEP.replace("    variants:\n", "    winner: a\n"),
        [(7, 13, "schema")],
    ),
    "variants on a call": (
        "sequence: demo\nsteps:\n  - type: call\n    variants:\n      - id: a\n      - id: b\n",
        [(5, 7, "schema")],
    ),
    "a variant's body and template": (
        STEP + "      - id: a\n        body: x\n        template: t.md.j2\n      - id: b\n",
        [(8, 9, "schema")],
    ),
    "an unknown variable in a variant's subject": (
        STEP + '      - id: a\n      - id: b\n        subject: "Hi {{ contcat.name }}"\n',
        [(10, 25, "template-variable")],
    ),
    "a syntax error in a variant's body block": (
        STEP + "      - id: a\n      - id: b\n        body: |\n          Hi,\n          {{ x }\n",
        [(12, 11, "template-syntax")],
    ),
    "a variant's template file that is missing": (
        STEP + "      - id: a\n      - id: b\n        template: gone.md.j2\n",
        [(10, 19, "template-missing")],
    ),
    "a variant's attachment that is missing": (
        STEP + "      - id: a\n      - id: b\n        attachments: [gone.pdf]\n",
        [(10, 23, "attachment-missing")],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_variant_mistake_is_found_at_its_place(tmp_path: Path, case: str) -> None:
    source, expected = CASES[case]
    assert lint(tmp_path, source) == expected


def test_a_clean_ab_test_has_no_findings(tmp_path: Path) -> None:
    source = STEP + (
        "      - id: short\n        weight: 70\n"
        "      - id: long\n        weight: 30.5\n        name: The long one\n"
        "        subject: \"Hi {{ contact.first_name | default('there') }}\"\n"
        "        body: A longer text.\n"
    )
    assert lint(tmp_path, source) == []


def test_a_variant_step_after_a_message_is_no_message_gap(tmp_path: Path) -> None:
    """One message per enrollment, whichever variant: only the wait before it counts."""
    source = STEP + (
        "      - id: a\n      - id: b\n"
        "  - id: follow-up\n    type: email\n    wait: 2 days\n    subject: Again\n"
        "    body: Hi again.\n    variants:\n      - id: a\n      - id: b\n"
        "        subject: Still there?\n"
    )
    assert lint(tmp_path, source) == []


def test_template_file_errors_of_a_variant_point_into_the_file(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "b.md.j2").write_text("Hi,\n{{ contact.nme | upper }\n", encoding="utf-8")
    found = lint(tmp_path, STEP + "      - id: a\n      - id: b\n        template: b.md.j2\n")
    assert found == [(2, 1, "template-syntax")]


def test_variant_schema_mistakes_are_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        STEP + "      - id: a\n        weight: -2\n"
        "  - type: call\n    variants:\n      - id: a\n      - id: b\n",
        encoding="utf-8",
    )
    from seqctl.playbook.lint import lint_paths

    messages = [f.message for f in lint_paths([path]).findings]
    assert messages == [
        "a step has 2 to 5 variants, not 1",
        "a variant's weight is a positive number, not -2",
        "Only message steps (email, sms, whatsapp, telegram) have variants.",
    ]
