"""`seqctl lint` over a repository: playbooks, every template file and seqctl.yaml, each
problem once, at its own line and column."""

from __future__ import annotations

from pathlib import Path

from seqctl.playbook.lint import lint_paths
from tests.conftest import Run, Write

PLAYBOOK = """
sequence: hello
steps:
  - type: email
    subject: Hi
    template: used.md.j2
"""


def test_the_repository_in_one_run(run: Run, write: Write) -> None:
    write("playbooks/hello.yaml", PLAYBOOK)
    write("templates/used.md.j2", "Hi {{ contact.first_name | defualt('there') }}\n")
    write("templates/draft.md.j2", "{% if contact.vip %}VIP\n")
    write("seqctl.yaml", "database: seqctl.db\nsenders: 7\n")
    result = run("lint")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "seqctl.yaml:2:10: error [schema] 7 is not of type 'object'",
        "templates/draft.md.j2:1:1: error [template-syntax] Unexpected end of template. Jinja "
        "was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block "
        "that needs to be closed is 'if'.",
        "templates/used.md.j2:1:28: error [template-syntax] unknown filter 'defualt' (did you "
        "mean 'default'?)",
        "3 files checked: 3 errors, 0 warnings",
    ]


def test_paths_may_name_templates_and_the_configuration(tmp_path: Path) -> None:
    template = tmp_path / "templates" / "a.txt"
    template.parent.mkdir()
    template.write_text("Hello {{ sender.name }} and {{ nobody }}\n", encoding="utf-8")
    config = tmp_path / "seqctl.yaml"
    config.write_text("channels: {email: {kind: carrier-pigeon}}\n", encoding="utf-8")
    broken = tmp_path / "seqctl.yml"
    broken.write_text("channels: [\n", encoding="utf-8")
    found = [
        (Path(f.path).name, f.line, f.rule) for f in lint_paths([template, config, broken]).findings
    ]
    assert found == [
        ("seqctl.yaml", 1, "schema"),
        ("seqctl.yml", 2, "yaml-syntax"),
        ("a.txt", 1, "template-variable"),
    ]


def test_an_unreadable_template_is_an_input_error(run: Run, write: Write) -> None:
    path = write("templates/latin1.j2", "")
    path.write_bytes(b"caf\xe9\n")
    result = run("lint", "templates/latin1.j2")
    assert result.exit_code == 2
    assert "template 'templates/latin1.j2' is not UTF-8 text" in result.stderr
