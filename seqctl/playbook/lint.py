"""Lint a set of playbooks: load, schema, semantic rules, and checks across files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from seqctl.errors import InputError
from seqctl.playbook import repository
from seqctl.playbook.consent import CONSENT_RULES
from seqctl.playbook.files import sources_for
from seqctl.playbook.findings import Finding, Severity
from seqctl.playbook.model import SequenceDef, StepType, normalise
from seqctl.playbook.rules import RULES, Context
from seqctl.playbook.schema import schema_findings
from seqctl.playbook.source import Document, LoadError, iter_paths, load_document


@dataclass
class LintedFile:
    path: Path
    display: str
    document: Document | None = None
    sequence: SequenceDef | None = None
    findings: list[Finding] = field(default_factory=list)


@dataclass
class LintResult:
    files: list[LintedFile]

    @property
    def findings(self) -> list[Finding]:
        return sorted(f for linted in self.files for f in linted.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def failed(self, *, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))

    @property
    def sequences(self) -> list[tuple[LintedFile, SequenceDef]]:
        return [(f, f.sequence) for f in self.files if f.sequence is not None]


def display_path(path: Path) -> str:
    """A path as people typed it: relative to the current folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def collect(paths: Sequence[Path]) -> list[Path]:
    """The playbook files named by paths (files or folders). InputError when one is missing."""
    for given in paths:
        if not given.exists():
            raise InputError(f"{given}: no such file or folder")
    return list(iter_paths(paths))


def lint_paths(paths: Sequence[Path], *, now: datetime | None = None) -> LintResult:
    """Lint every playbook under paths, then check sequence ids across files.

    `now` is the run's clock (rules about dates, such as a consent's); None: the real clock.
    """
    found = collect(paths)
    files = [lint_file(path, now=now) for path in found if repository.is_playbook(path)]
    _duplicate_sequences(files)
    files.extend(_others([p for p in found if not repository.is_playbook(p)], files))
    return LintResult(files)


def lint_repository(
    playbooks: Path, *, config: Path | None, now: datetime | None = None
) -> LintResult:
    """A whole repository: its playbooks, every file in their templates/ folders, seqctl.yaml."""
    extra = repository.repository_templates([playbooks])
    return lint_paths([playbooks, *extra, *([config] if config is not None else [])], now=now)


def _others(paths: list[Path], playbooks: list[LintedFile]) -> list[LintedFile]:
    """Template files and seqctl.yaml given to lint; a template a playbook uses was checked
    there already (with its playbook), so it is not reported twice."""
    used = repository.used_templates(
        (linted.path, _template_names(linted.sequence))
        for linted in playbooks
        if linted.sequence is not None
    )
    linted_others = []
    for path in paths:
        display = display_path(path)
        if repository.is_config(path):
            linted_others.append(
                LintedFile(path, display, findings=repository.config_findings(path, display))
            )
        elif path.resolve() not in used:
            linted_others.append(
                LintedFile(path, display, findings=repository.template_findings(path, display))
            )
    return linted_others


def _template_names(sequence: SequenceDef) -> list[str]:
    """Every `template:` file name in a sequence's steps, at any depth (variants too)."""
    names: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "template" and isinstance(item, str):
                    names.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for step in sequence.steps:
        walk(dict(step.spec))
    return names


def lint_file(path: Path, *, now: datetime | None = None) -> LintedFile:
    linted = LintedFile(path, display_path(path))
    try:
        document = load_document(path, display=linted.display)
    except OSError as exc:
        raise InputError(f"{linted.display}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{linted.display}: not UTF-8 text ({exc.reason})") from None
    except LoadError as exc:
        linted.findings = exc.findings
        return linted
    linted.document = document
    linted.findings = schema_findings(document)
    if linted.findings:
        return linted
    sources = sources_for(path)
    sequence = normalise(document.data, sources)
    raw_index = tuple(i for i, s in enumerate(document.data["steps"]) if s["type"] != StepType.WAIT)
    context = Context(document, sequence, sources, raw_index, now)
    for rule in (*RULES, *CONSENT_RULES):
        linted.findings.extend(rule(context))
    linted.sequence = sequence
    return linted


def _duplicate_sequences(files: list[LintedFile]) -> None:
    first: dict[str, LintedFile] = {}
    for linted in files:
        if linted.document is None or not isinstance(linted.document.data.get("sequence"), str):
            continue
        seq_id = linted.document.data["sequence"]
        if seq_id in first:
            other = first[seq_id]
            assert other.document is not None
            where = other.document.position(("sequence",))
            linted.findings.append(
                linted.document.finding(
                    ("sequence",),
                    "duplicate-sequence",
                    f"sequence id '{seq_id}' is already defined in "
                    f"{other.display}:{where.line}:{where.column}",
                )
            )
        else:
            first[seq_id] = linted
