"""Contacts and events imports fed generated hostile files: never a traceback, a refusal by
row for what is bad, and nothing already stored lost."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.harness import FUZZ, Project, check_outcome
from tests.fuzz.strategies import csv_file, jsonl_file

_names = itertools.count()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(tmp_path_factory.mktemp("imports"))


def feed(project: Project, data: bytes, suffix: str, *command: str) -> None:
    path = project.root / f"in-{next(_names)}{suffix}"
    path.write_bytes(data)
    outcome = project.run(*command, str(path))
    check_outcome(outcome)
    project.check_intact()


@FUZZ
@given(data=csv_file())
def test_contacts_import_csv(project: Project, data: bytes) -> None:
    feed(project, data, ".csv", "contacts", "import")


@FUZZ
@given(data=jsonl_file())
def test_contacts_import_jsonl(project: Project, data: bytes) -> None:
    feed(project, data, ".jsonl", "contacts", "import")


@FUZZ
@given(data=jsonl_file())
def test_events_import_jsonl(project: Project, data: bytes) -> None:
    feed(project, data, ".jsonl", "events", "import")


@FUZZ
@given(data=csv_file())
def test_events_import_csv(project: Project, data: bytes) -> None:
    feed(project, data, ".csv", "events", "import")


def test_good_rows_go_in_beside_bad_ones(project: Project, tmp_path: Path) -> None:
    """The property the fuzz cases lean on, stated once with known rows."""
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"key": "good-1", "email": "g1@acme.test"}\n'
        b'{"key": "nan", "score": NaN}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"
        b'{"key": "bad-byte", "name": "\xff"}\n'
        b'{"key": "good-2", "email": "g2@acme.test"}\n'
    )

    outcome = project.run("contacts", "import", str(path), "--json")

    check_outcome(outcome)
    assert project.run("contacts", "show", "good-1").exit_code == 0
    assert project.run("contacts", "show", "good-2").exit_code == 0
    assert project.run("contacts", "show", "nan").exit_code == 2
    project.check_intact()
