"""Lint what a playbook repository holds beside its playbooks: template files and seqctl.yaml.

`seqctl lint` over a repository (the pre-commit hook runs it so) checks the playbooks, every
file in their `templates/` folders (a template no playbook uses yet is checked on its own, so a
broken one cannot be committed unnoticed) and seqctl.yaml against its schema. Given paths, lint
takes a template file or seqctl.yaml as such, not as a playbook.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from seqctl.errors import InputError
from seqctl.playbook.config_rules import credential_findings
from seqctl.playbook.files import read_template, sources_for
from seqctl.playbook.findings import Finding, Severity
from seqctl.playbook.schema import CONFIG_SCHEMA, schema_findings
from seqctl.playbook.source import LoadError, load_document

CONFIG_NAMES = ("seqctl.yaml", "seqctl.yml")
PLAYBOOK_SUFFIXES = (".yaml", ".yml")


def is_config(path: Path) -> bool:
    return path.name in CONFIG_NAMES


def is_playbook(path: Path) -> bool:
    """A YAML file that is not seqctl.yaml and does not sit in a templates/ folder."""
    return path.suffix in PLAYBOOK_SUFFIXES and not is_config(path) and not _in_templates(path)


def _in_templates(path: Path) -> bool:
    return "templates" in path.parent.parts


def repository_templates(folders: Iterable[Path]) -> list[Path]:
    """Every file in the templates/ folders a playbook in these folders can use, sorted."""
    found: set[Path] = set()
    for folder in folders:
        sources = sources_for(folder / "playbook.yaml")
        for templates in sources.template_dirs:
            if templates.is_dir() and sources.repository.contains(templates.resolve()):
                found.update(p for p in templates.rglob("*") if p.is_file())
    return sorted(found)


def used_templates(playbooks: Iterable[tuple[Path, Iterable[str]]]) -> set[Path]:
    """The template files that playbooks (path, template names) use: lint checked them there."""
    used = set()
    for path, names in playbooks:
        sources = sources_for(path)
        for name in names:
            found = sources.template(name).path
            if found is not None:
                used.add(found.resolve())
    return used


def template_findings(path: Path, display: str) -> list[Finding]:
    """A template file alone: syntax, unsafe constructs and unknown variables, at its line:col."""
    from seqctl import template_checks  # Jinja: loaded only when there is a template to check

    source, problem = read_template(path)
    if source is None:
        raise InputError(problem or f"{display}: cannot be read")
    return [
        Finding(display, p.line, p.column, p.rule, Severity.ERROR, p.message)
        for p in template_checks.check_template(source)
    ]


def config_findings(path: Path, display: str) -> list[Finding]:
    """seqctl.yaml against its schema and the rules for secrets: the findings `seqctl` itself
    would stop on."""
    try:
        document = load_document(path, display=display)
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{display}: not UTF-8 text ({exc.reason})") from None
    except LoadError as exc:
        return list(exc.findings)
    return schema_findings(document, CONFIG_SCHEMA) + credential_findings(document)
