"""Run one seqctl command in a fresh process; measure its wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tree_memory import TreeMemory

# Variables that would make a measured command read another database, clock or config.
_SCRUBBED_ENV = ("SEQCTL_DB", "SEQCTL_NOW", "SEQCTL_CONFIG", "GITHUB_ACTIONS")


class BenchFailure(Exception):
    """A measured command failed or printed something that does not add up."""


@dataclass(frozen=True)
class Run:
    """One finished command: what it printed, how long it took, how much memory it held."""

    args: tuple[str, ...]
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    processes: int = 1  # the most processes of the command seen at once
    processes_peak_mb: float = 0.0  # their summed PSS at its highest, sampled

    def describe(self) -> str:
        """The command and the tail of what it said, for a failure message."""
        tail = (self.stderr.strip() or self.stdout.strip())[-2000:]
        return f"command: {' '.join(self.args)}\nexit code: {self.returncode}\noutput:\n{tail}"


def seqctl_command() -> list[str]:
    """The `seqctl` console script of this interpreter's environment, as a user would run it."""
    script = Path(sys.executable).parent / "seqctl"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "seqctl"]


def clean_env() -> dict[str, str]:
    """The environment for measured commands: no stray seqctl settings, no colour."""
    env = {name: value for name, value in os.environ.items() if name not in _SCRUBBED_ENV}
    env["NO_COLOR"] = "1"
    return env


def run_measured(args: list[str], cwd: Path) -> Run:
    """Run args in cwd; wall seconds, the child's own peak RSS (ru_maxrss, KiB) in MB, and the
    sampled memory of the child with its own children (see tree_memory)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, cwd=cwd, env=clean_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        with TreeMemory(proc.pid) as tree:
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            args=tuple(args),
            returncode=proc.returncode,
            seconds=seconds,
            peak_rss_mb=usage.ru_maxrss / 1024,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            processes=max(1, tree.most_processes),
            processes_peak_mb=tree.peak_mb,
        )
