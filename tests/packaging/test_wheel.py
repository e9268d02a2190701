"""The built wheel carries what seqctl reads at run time: schemas and starters."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel, and what the build printed (verbose: the backend's warnings included)."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.skip(f"could not build the wheel here: {build.stderr.strip()[-300:]}")
    (found,) = out.glob("seqctl-*.whl")
    return found, build.stdout + build.stderr


@pytest.fixture(scope="module")
def wheel(built: tuple[Path, str]) -> Path:
    return built[0]


def test_the_build_has_no_deprecation_warnings(built: tuple[Path, str]) -> None:
    assert "deprecat" not in built[1].lower()


def test_the_wheel_carries_schemas_starters_and_the_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    assert {"seqctl/schemas/sequence.schema.json", "seqctl/schemas/config.schema.json"} <= names
    assert {"seqctl/starters/seqctl.yaml", "seqctl/starters/gitignore"} <= names
    assert {"seqctl/starters/playbooks/intro.yaml", "seqctl/starters/contacts.csv"} <= names
    assert "seqctl/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert "Requires-Dist: tzdata" in text and "pendulum" not in text
    assert "Project-URL: Documentation" in text


def test_init_and_lint_work_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # The wheel's code first on the path, this environment's dependencies after it: nothing
    # of the source tree is importable.
    env = {**os.environ, "PYTHONPATH": str(unpacked), "PYTHONSAFEPATH": "1"}
    work = tmp_path / "work"
    work.mkdir()

    def seqctl(*args: str) -> subprocess.CompletedProcess[str]:
        code = "import sys; from seqctl.cli import main; sys.argv[0] = 'seqctl'; main()"
        return subprocess.run(
            [sys.executable, "-c", code, *args], cwd=work, env=env, capture_output=True, text=True
        )

    where = seqctl("--version")
    assert where.returncode == 0, where.stderr
    located = subprocess.run(
        [sys.executable, "-c", "import seqctl; print(seqctl.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert located.startswith(str(unpacked))

    init = seqctl("init", "x")
    assert init.returncode == 0, init.stderr
    lint = seqctl("lint", "x/playbooks")
    assert (lint.returncode, lint.stdout.strip()) == (0, "5 files checked, no problems")
