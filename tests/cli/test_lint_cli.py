"""`seqctl lint` as CI runs it: formats, exit codes, defaults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run

BROKEN = "sequence: demo\nsteps:\n  - type: wait\n    wait: 3 dais\n  - type: task\n"


def test_text_format(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/demo.yaml", BROKEN)
    result = run("lint")
    assert result.exit_code == 1
    assert result.stdout == (
        "playbooks/demo.yaml:4:11: error [wait-unit] unknown unit 'dais' (did you mean 'days'?)\n"
        "1 file checked: 1 error, 0 warnings\n"
    )


def test_json_format(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/demo.yaml", BROKEN)
    result = run("lint", "--format", "json")
    assert json.loads(result.stdout) == [
        {
            "path": "playbooks/demo.yaml",
            "line": 4,
            "column": 11,
            "rule": "wait-unit",
            "severity": "error",
            "message": "unknown unit 'dais' (did you mean 'days'?)",
        }
    ]


def test_github_format(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/demo.yaml", BROKEN)
    assert run("lint", "--format", "github").stdout == (
        "::error file=playbooks/demo.yaml,line=4,col=11,title=wait-unit::"
        "unknown unit 'dais' (did you mean 'days'?)\n"
    )


def test_github_is_the_default_under_github_actions(
    run: Run, write: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("playbooks/demo.yaml", BROKEN)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run("lint").stdout.startswith("::error file=playbooks/demo.yaml,line=4,col=11")


def test_clean_files_exit_zero(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/ok.yaml", "sequence: ok\nsteps:\n  - type: task\n")
    result = run("lint", "playbooks/ok.yaml")
    assert (result.exit_code, result.stdout) == (0, "1 file checked, no problems\n")


def test_strict_fails_on_warnings(run: Run, write: Callable[[str, str], Path]) -> None:
    write("playbooks/wa.yaml", "sequence: wa\nsteps:\n  - type: whatsapp\n    body: Hi\n")
    assert run("lint").exit_code == 0
    assert run("lint", "--strict").exit_code == 1


def test_missing_path_is_a_usage_error(run: Run) -> None:
    result = run("lint", "nowhere.yaml")
    assert result.exit_code == 2
    assert result.stderr == "seqctl: nowhere.yaml: no such file or folder\n"


def test_unreadable_file_exits_two(run: Run, project: Path) -> None:
    (project / "playbooks" / "bin.yaml").write_bytes(b"sequence: \xff\xfe\n")
    result = run("lint")
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


def test_shipped_playbooks_lint_clean(run: Run) -> None:
    repo_playbooks = Path(__file__).resolve().parents[2] / "playbooks"
    result = run("lint", "--strict", str(repo_playbooks))
    assert result.exit_code == 0, result.stdout
