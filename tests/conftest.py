from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqctl.cli import app


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


Run = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the current directory, with no seqctl settings leaking in."""
    for name in ("SEQCTL_DB", "SEQCTL_NOW", "SEQCTL_CONFIG", "GITHUB_ACTIONS", "SEQCTL_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "playbooks").mkdir()
    return tmp_path


@pytest.fixture
def run(project: Path) -> Run:
    """Run the CLI in the project folder; exceptions that are bugs propagate."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def write(project: Path) -> Callable[[str, str], Path]:
    """Write a dedented file under the project folder."""

    def writer(relative: str, content: str) -> Path:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        return path

    return writer
