"""What every fuzz test shares: a project with a database holding data that must survive, the
CLI run in-process (an exception is a failure: users must never see a traceback), and checks
that stored data is intact."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from seqctl.cli import app
from seqctl.store import open_store

NOW = "--now=2026-11-23T09:00:00Z"
SENTINEL = "zz-sentinel-7f3a"  # a key the strategies never produce
# The budget: enough examples to find the classic failures, few enough for every `make test`.
FUZZ = settings(
    max_examples=int(os.environ.get("SEQCTL_FUZZ_EXAMPLES", "60")),
    deadline=None,  # timed per example below, with room for a loaded CI machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("SEQCTL_FUZZ_RANDOM") is None,  # the same cases on every run
)
SECONDS_PER_EXAMPLE = 20.0


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


class Project:
    """A playbook repository with a database that already holds a contact and an enrollment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "playbooks").mkdir(parents=True, exist_ok=True)
        open_store(root / "seqctl.db").close()
        (root / "playbooks" / "hello.yaml").write_text(
            "sequence: hello\nsteps:\n  - id: hi\n    type: email\n    subject: Hi\n"
            "    body: Hello {{ contact.first_name | default('there') }}\n",
            "utf-8",
        )
        sentinel = root / "sentinel.csv"
        sentinel.write_text(f"key,email,first_name\n{SENTINEL},s@acme.test,Sólveig\n", "utf-8")
        for args in (
            ("publish",),
            ("activate", "hello"),
            ("contacts", "import", str(sentinel)),
            ("enroll", "hello", "--contact", SENTINEL),
        ):
            done = self.run(*args)
            assert done.exit_code == 0, (args, done.stderr)
        self.baseline = self.snapshot()

    def run(self, *args: str, stdin: str | None = None) -> Outcome:
        """The CLI in this project; an exception escaping it fails the test (a traceback)."""
        with chdir(self.root):
            start = time.perf_counter()
            result = CliRunner().invoke(app, [NOW, *args], input=stdin, catch_exceptions=False)
            seconds = time.perf_counter() - start
        return Outcome(result.exit_code, result.stdout, result.stderr, seconds)

    def snapshot(self) -> dict[str, Any]:
        """What must not change whatever is fed in: the sentinel contact and enrollment."""
        contact = self.run("contacts", "show", SENTINEL, "--json")
        enrolled = self.run("enrollments", "--contact", SENTINEL, "--json")
        assert contact.exit_code == 0 and enrolled.exit_code == 0, contact.stderr
        return {"contact": strict_json(contact.stdout), "enrollments": strict_json(enrolled.stdout)}

    def check_intact(self) -> None:
        """The database is sound, its old data is there, and its JSON output is valid JSON."""
        with sqlite3.connect(self.root / "seqctl.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert self.snapshot() == self.baseline
        listed = self.run("contacts", "list", "--limit", "0", "--json")
        assert listed.exit_code == 0, listed.stderr
        strict_json(listed.stdout)


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity, as every JSON parser but Python's does."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"invalid JSON constant {constant} in output")

    return json.loads(text, parse_constant=refuse)


def check_outcome(outcome: Outcome) -> None:
    """A documented exit code, a message when refused, and within the time allowed."""
    assert outcome.exit_code in (0, 1, 2), outcome
    if outcome.exit_code == 2:
        assert outcome.stderr.strip(), "refused without saying why"
    assert "Traceback" not in outcome.stderr + outcome.stdout
    assert outcome.seconds < SECONDS_PER_EXAMPLE, f"took {outcome.seconds:.1f} s"


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
