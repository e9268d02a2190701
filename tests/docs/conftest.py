from __future__ import annotations

import pytest

from tests.docs.runner import SKIPPED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the documentation blocks that the examples test left out (`<!-- docs: skip -->`)."""
    if SKIPPED:
        terminalreporter.write_sep("-", f"docs: {len(SKIPPED)} blocks not run (docs: skip)")
        for where in SKIPPED:
            terminalreporter.write_line(where)
