"""The bench's memory sampler survives processes that end while it looks at them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def tree_memory() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tree_memory", REPO / "bench" / "tree_memory.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("tree_memory", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_process_that_ends_while_its_threads_are_listed_has_no_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = tree_memory()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in module.descendants(os.getpid())
        assert module.pss_kib(child.pid) > 0
    finally:
        child.kill()
        child.wait()

    def vanished(self: Path, pattern: str) -> list[Path]:
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "glob", vanished)
    assert module.descendants(os.getpid()) == []
    assert module.pss_kib(2**22 + 12345) == 0  # no such process
