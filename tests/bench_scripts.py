"""The benchmark scripts under bench/, run from the tests as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str, timeout: float) -> tuple[list[dict[str, Any]], str]:
    """Run bench/<script> from the repository: its JSON lines, one a stage, and its stderr."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr
