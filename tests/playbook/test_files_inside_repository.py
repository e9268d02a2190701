"""Templates and attachments come from inside the playbook repository, never from outside it.

A repository is the folder of seqctl.yaml (or .git) at or above the playbook. Outside it here:
`outside/`, a sibling of the repository holding a secret, reached by absolute paths, by `..`, by
symlinked files and by symlinked folders.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqctl.playbook.lint import lint_paths
from seqctl.playbook.model import SequenceDef
from seqctl.render import RenderError, render
from tests.conftest import Run

SECRET = "root:x:0:0:root:/root:/bin/bash\n"
OPENED: list[str] | None = None  # the files opened while a test listens (see `opened`)


def _audit(event: str, args: tuple[object, ...]) -> None:
    if OPENED is not None and event == "open" and isinstance(args[0], str | Path):
        OPENED.append(str(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one records only when asked


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every file this process opens during the test."""
    global OPENED
    OPENED = []
    try:
        yield OPENED
    finally:
        OPENED = None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """tmp/repo with seqctl.yaml, playbooks/ and templates/; tmp/outside/passwd beside it."""
    root = tmp_path / "repo"
    (root / "playbooks").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "seqctl.yaml").write_text("database: seqctl.db\n", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_text(SECRET, encoding="utf-8")
    return root


def lint(root: Path, step: str) -> tuple[list[tuple[int, int, str, str]], SequenceDef | None]:
    """Lint a one-step email playbook; the findings and, without errors, its model."""
    path = root / "playbooks" / "demo.yaml"
    body = textwrap.indent(textwrap.dedent(step).strip("\n"), "    ")
    path.write_text(
        f"sequence: demo\nsteps:\n  - id: hello\n    type: email\n    subject: Hi\n{body}\n",
        encoding="utf-8",
    )
    result = lint_paths([path])
    findings = [(f.line, f.column, f.rule, f.message) for f in result.findings]
    return findings, (result.sequences[0][1] if result.sequences else None)


def rules(findings: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str]]:
    return [finding[:3] for finding in findings]


def test_a_template_linked_to_a_file_outside_is_refused_unread(
    repo: Path, opened: list[str]
) -> None:
    (repo / "templates" / "t.j2").symlink_to(repo.parent / "outside" / "passwd")
    findings, sequence = lint(repo, "template: t.j2")
    assert rules(findings) == [(6, 15, "template-outside")]
    assert "is a link to a file outside" in findings[0][3] and "outside/passwd" in findings[0][3]
    assert sequence is not None and "template_source" not in sequence.steps[0].spec
    assert not [p for p in opened if "outside" in p]


def test_a_template_in_a_linked_folder_is_refused(repo: Path) -> None:
    (repo / "templates" / "shared").symlink_to(repo.parent / "outside")
    findings, _ = lint(repo, "template: shared/passwd")
    assert rules(findings) == [(6, 15, "template-outside")]


def test_a_templates_folder_that_is_a_link_out_of_the_repository_is_refused(
    repo: Path,
) -> None:
    (repo / "templates").rmdir()
    (repo / "templates").symlink_to(repo.parent / "outside")
    findings, _ = lint(repo, "template: passwd")
    assert rules(findings) == [(6, 15, "template-outside")]


def test_a_link_that_stays_inside_the_repository_is_fine(repo: Path) -> None:
    (repo / "shared").mkdir()
    (repo / "shared" / "hello.j2").write_text("Hello {{ contact.first_name }}\n")
    (repo / "templates" / "hello.j2").symlink_to(repo / "shared" / "hello.j2")
    findings, _ = lint(repo, "template: hello.j2")
    # Inside the repository but outside templates/: templates are read from templates/ only.
    assert rules(findings) == [(6, 15, "template-outside")]
    (repo / "templates" / "hello.j2").unlink()
    (repo / "templates" / "more").symlink_to(repo / "templates")  # a link within templates/
    (repo / "templates" / "real.j2").write_text("Hello {{ contact.first_name }}\n")
    findings, sequence = lint(repo, "template: more/real.j2")
    assert findings == []
    assert sequence is not None
    assert sequence.steps[0].spec["template_source"] == "Hello {{ contact.first_name }}\n"


@pytest.mark.parametrize(
    "name",
    ["../../outside/passwd", "/etc/passwd", "..\\..\\outside\\passwd", "C:\\Windows\\win.ini",
     "\\\\server\\share\\secret.txt", "C:secret.txt", "a/../../../outside/passwd"],
)  # fmt: skip
def test_attachments_by_absolute_path_or_leading_out_are_refused_unread(
    repo: Path, opened: list[str], name: str
) -> None:
    findings, sequence = lint(repo, f"body: Hi\nattachments: ['{name}']")
    assert rules(findings) == [(7, 19, "attachment-outside")]
    assert "playbook repository" in findings[0][3]
    assert sequence is not None and "sha256" not in sequence.steps[0].spec["attachments"][0]
    assert not [p for p in opened if "outside" in p or p.startswith("/etc")]


def test_an_attachment_linked_out_is_refused(repo: Path, opened: list[str]) -> None:
    (repo / "playbooks" / "brochure.pdf").symlink_to(repo.parent / "outside" / "passwd")
    findings, _ = lint(repo, "body: Hi\nattachments: [brochure.pdf]")
    assert rules(findings) == [(7, 19, "attachment-outside")]
    assert "is a link to a file outside the playbook repository" in findings[0][3]
    assert not [p for p in opened if "outside" in p]


def test_an_attachments_folder_linked_out_is_refused(repo: Path) -> None:
    (repo / "playbooks" / "attachments").symlink_to(repo.parent / "outside")
    findings, _ = lint(repo, "body: Hi\nattachments: [passwd]")
    assert rules(findings) == [(7, 19, "attachment-outside")]


def test_dot_dot_that_stays_inside_is_allowed_and_recorded(repo: Path) -> None:
    (repo / "brochures").mkdir()
    (repo / "brochures" / "price.pdf").write_bytes(b"%PDF price")
    findings, sequence = lint(repo, "body: Hi\nattachments: [../brochures/price.pdf]")
    assert findings == []
    assert sequence is not None
    [item] = sequence.steps[0].spec["attachments"]
    assert (item["name"], item["path"], item["size"]) == (
        "../brochures/price.pdf",
        "brochures/price.pdf",
        10,
    )


def test_a_plain_name_records_no_path(repo: Path) -> None:
    (repo / "playbooks" / "attachments").mkdir()
    (repo / "playbooks" / "attachments" / "guide.pdf").write_bytes(b"%PDF guide")
    findings, sequence = lint(repo, "body: Hi\nattachments: [guide.pdf]")
    assert findings == []
    assert sequence is not None
    assert set(sequence.steps[0].spec["attachments"][0]) == {"name", "size", "sha256"}


def test_without_seqctl_yaml_or_git_only_the_folders_seqctl_looks_in_count(
    tmp_path: Path,
) -> None:
    root = tmp_path / "loose"
    (root / "playbooks").mkdir(parents=True)
    (root / "attachments").mkdir()
    (root / "attachments" / "guide.pdf").write_bytes(b"%PDF guide")
    (root / "other").mkdir()
    (root / "other" / "notes.txt").write_text("private")
    assert lint(root, "body: Hi\nattachments: [guide.pdf]")[0] == []
    findings, _ = lint(root, "body: Hi\nattachments: [../other/notes.txt]")
    assert rules(findings) == [(7, 19, "attachment-outside")]
    assert "no seqctl.yaml or .git above the playbook" in findings[0][3]


def test_a_template_that_is_not_utf8_is_a_finding(repo: Path) -> None:
    (repo / "templates" / "latin.j2").write_bytes(b"Ol\xe1\n")
    findings, _ = lint(repo, "template: latin.j2")
    assert rules(findings) == [(6, 15, "template-missing")]
    assert "not UTF-8" in findings[0][3]


def test_publish_refuses_and_stores_nothing(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    monkeypatch.chdir(repo)
    (repo / "playbooks" / "leak.yaml").write_text(
        "sequence: leak\nsteps:\n  - type: email\n    subject: Hi\n    body: Hi\n"
        "    attachments: [../../outside/passwd]\n",
        encoding="utf-8",
    )
    assert run("db", "init").exit_code == 0
    result = run("publish")
    assert result.exit_code == 1
    assert "playbooks/leak.yaml:6:19: error [attachment-outside]" in result.stderr
    assert not [p for p in opened if "outside" in p]
    assert "no sequences published yet" in run("sequences", "list").stdout


@pytest.mark.parametrize(
    "source",
    ["{% include '/etc/passwd' %}", "{% extends '../outside/passwd' %}",
     "{% import 'passwd' as p %}", "{% from 'passwd' import x %}"],
)  # fmt: skip
def test_jinja_cannot_include_files_at_all(repo: Path, source: str) -> None:
    with pytest.raises(RenderError) as raised:
        render(source, {})
    assert "root:x" not in str(raised.value)
    findings, _ = lint(repo, f'body: "{source}"')
    assert [rule for _, _, rule, _ in findings] == ["template-unsafe"]


def test_one_file_listed_a_hundred_times_is_too_much_for_one_message(repo: Path) -> None:
    (repo / "playbooks" / "big.pdf").write_bytes(b"%PDF" + b"x" * (3 * 1024 * 1024))
    findings, _ = lint(repo, "body: Hi\nattachments: [" + ", ".join(["big.pdf"] * 100) + "]")
    assert rules(findings) == [(7, 18, "attachment-size")]
    assert "come to 300.0 MB: at most 20 MB a message" in findings[0][3]
