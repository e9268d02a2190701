"""The month of simulated activity, built once for the report's tests (it takes seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.engine.month import Month, simulate


@pytest.fixture(scope="session")
def built_month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    return simulate(tmp_path_factory.mktemp("month"))


@pytest.fixture
def month(built_month: Month, tmp_path: Path) -> Month:
    """A copy of the month's database for one test, which may change it."""
    root = tmp_path / "month"
    root.mkdir()
    shutil.copy(built_month.db, root / "seqctl.db")
    return Month(root, root / "seqctl.db", built_month.events, built_month.sent)
