"""Checks on what a measured command did: its exit code, its JSON, the counts in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from measure import BenchFailure, Run


def check(stage: str, run: Run) -> None:
    """The command exited 0."""
    require(run.returncode == 0, stage, run, f"exit code {run.returncode}")


def require(ok: bool, stage: str, run: Run, why: str) -> None:
    """Stop the benchmark, with the command and its output, unless ok."""
    if not ok:
        raise BenchFailure(f"{stage}: {why}\n{run.describe()}")


def require_fields(report: dict[str, Any], expected: dict[str, Any], stage: str, run: Run) -> None:
    """The report has exactly these values for these fields."""
    got = {name: report.get(name) for name in expected}
    require(got == expected, stage, run, f"expected {expected}, got {got}")


def json_object(stage: str, run: Run) -> dict[str, Any]:
    """The command exited 0 and printed a JSON object."""
    data = _json(stage, run)
    require(isinstance(data, dict), stage, run, "expected a JSON object")
    return cast(dict[str, Any], data)


def json_list(stage: str, run: Run) -> list[Any]:
    """The command exited 0 and printed a JSON list."""
    data = _json(stage, run)
    require(isinstance(data, list), stage, run, "expected a JSON list")
    return cast(list[Any], data)


def _json(stage: str, run: Run) -> object:
    check(stage, run)
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError as exc:
        raise BenchFailure(f"{stage}: output is not JSON ({exc})\n{run.describe()}") from None


def count_lines(path: Path) -> int:
    """Lines in a file; 0 when it does not exist."""
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)
