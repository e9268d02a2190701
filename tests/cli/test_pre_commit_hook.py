"""The pre-commit hook, run as pre-commit runs it: the staged file names are matched against
the hook's `files`, and when one matches its `entry` runs at the repository's root (with the
names only if `pass_filenames`). A broken template, alone in a commit, must stop the commit."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HOOKS = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
SEQCTL = Path(sys.executable).parent / "seqctl"


def hook() -> dict[str, Any]:
    [found] = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert found["id"] == "seqctl-lint"
    return dict(found)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@x.test", "-c", "user.name=t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_check(repo: Path) -> subprocess.CompletedProcess[str] | None:
    """What `pre-commit run` does for this hook on the staged files; None: it would not run."""
    spec = hook()
    staged = git(repo, "diff", "--cached", "--name-only").split()
    chosen = [name for name in staged if re.search(spec["files"], name)]
    if not chosen and not spec.get("always_run"):
        return None
    argv = shlex.split(spec["entry"]) + list(spec.get("args", []))
    argv[0] = str(SEQCTL)  # the seqctl that pre-commit installs from this repository
    if spec.get("pass_filenames", True):
        argv += chosen
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A playbook repository as `seqctl init` makes it, committed."""
    root = tmp_path / "acme"
    subprocess.run([str(SEQCTL), "init", str(root)], check=True, capture_output=True)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


def test_a_broken_template_alone_in_a_commit_is_caught(repo: Path) -> None:
    template = repo / "templates" / "welcome-2.md.j2"
    template.write_text(
        template.read_text(encoding="utf-8") + "\n{{ contact.first_name | defualt('there') }}\n",
        encoding="utf-8",
    )
    git(repo, "add", "templates/welcome-2.md.j2")
    result = commit_check(repo)
    assert result is not None, "the hook must run for a template-only change"
    assert result.returncode == 1
    line = template.read_text(encoding="utf-8").count("\n")
    assert f"templates/welcome-2.md.j2:{line}:" in result.stdout
    assert "error [template-syntax] unknown filter 'defualt' (did you mean 'default'?)" in (
        result.stdout
    )


def test_a_new_template_no_playbook_uses_yet_is_checked_too(repo: Path) -> None:
    (repo / "templates" / "draft.md.j2").write_text("Hi {{ contcat.name }}\n", encoding="utf-8")
    git(repo, "add", "templates/draft.md.j2")
    result = commit_check(repo)
    assert result is not None and result.returncode == 1
    assert (
        "templates/draft.md.j2:1:7: error [template-variable] unknown variable 'contcat' "
        "(did you mean 'contact'?)"
    ) in result.stdout


def test_a_broken_seqctl_yaml_is_reported_at_its_line(repo: Path) -> None:
    config = repo / "seqctl.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "senders: 7\n", encoding="utf-8")
    git(repo, "add", "seqctl.yaml")
    result = commit_check(repo)
    assert result is not None and result.returncode == 1
    lines = config.read_text(encoding="utf-8").count("\n")
    assert f"seqctl.yaml:{lines}:10: error [schema]" in result.stdout


def test_a_playbook_change_lints_the_whole_repository(repo: Path) -> None:
    """Sequence ids are compared across every playbook, not only the staged one."""
    copy = (repo / "playbooks" / "intro.yaml").read_text(encoding="utf-8")
    (repo / "playbooks" / "intro-copy.yaml").write_text(copy, encoding="utf-8")
    git(repo, "add", "playbooks/intro-copy.yaml")
    result = commit_check(repo)
    assert result is not None and result.returncode == 1
    assert "[duplicate-sequence]" in result.stdout


def test_a_clean_change_passes_and_other_files_do_not_run_the_hook(repo: Path) -> None:
    (repo / "README.md").write_text("notes\n", encoding="utf-8")
    git(repo, "add", "README.md")
    assert commit_check(repo) is None
    template = repo / "templates" / "welcome-2.md.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\nSee you!\n", encoding="utf-8")
    git(repo, "add", "-A")
    result = commit_check(repo)
    assert result is not None
    assert (result.returncode, result.stderr) == (0, "")
    assert "no problems" in result.stdout
