"""The tests' throwaway PostgreSQL cluster: bench/postgres_server.py, shared with the benchmark
(bench/postgres.py), loaded from there so both start the same cluster the same way."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "postgres_server.py"
    spec = importlib.util.spec_from_file_location("postgres_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["postgres_server"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


_server = _load()
Postgres = _server.Postgres
PostgresUnavailable = _server.PostgresUnavailable
binaries = _server.binaries
create_database = _server.create_database
database_of = _server.database_of
drop_database = _server.drop_database
start = _server.start
unavailable = _server.unavailable
with_database = _server.with_database

__all__ = [
    "Postgres",
    "PostgresUnavailable",
    "binaries",
    "create_database",
    "database_of",
    "drop_database",
    "start",
    "unavailable",
    "with_database",
]
