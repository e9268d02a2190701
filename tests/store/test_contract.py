"""A store implements the contract: every operation, taking the parameters callers pass.

mypy proves the layers above use nothing but the contract; this checks, at run time, that an
implementation offers all of it under the same parameter names (mypy does not compare the names
of positional parameters, and a keyword call with a wrong one fails only when it runs). Another
store's tests reuse `missing_operations`.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from seqctl.store import Parallel, SqliteStore, Store
from seqctl.store.queries.enrollments import _LIVE
from seqctl.store.sqlite import migrations
from seqctl.store.sqlite.base import SqliteParallel
from seqctl.store.states import ENDED_STATES, LIVE_STATES, EnrollmentState, MessageStatus

_DUNDERS = ("__enter__", "__exit__")


def operations(contract: type) -> dict[str, Any]:
    """The operations a Protocol declares, its own and those of the Protocols it joins."""
    found: dict[str, Any] = {}
    for part in reversed(contract.__mro__):
        if not getattr(part, "_is_protocol", False):
            continue
        for name, value in vars(part).items():
            if inspect.isfunction(value) and (not name.startswith("_") or name in _DUNDERS):
                found[name] = value
    return found


def missing_operations(cls: type, contract: type = Store) -> list[str]:
    """What cls lacks of the contract: `name: why` for each operation absent or not callable
    as the contract says (a parameter missing, renamed, of another kind, without its default,
    or an extra one callers would not pass). Empty when cls implements it all."""
    problems: list[str] = []
    for name, declared in sorted(operations(contract).items()):
        implemented = getattr(cls, name, None)
        if implemented is None or not callable(implemented):
            problems.append(f"{name}: missing")
            continue
        problems.extend(
            f"{name}: {why}"
            for why in _incompatible(inspect.signature(declared), inspect.signature(implemented))
        )
    return problems


def _incompatible(declared: inspect.Signature, implemented: inspect.Signature) -> list[str]:
    """Why a call the declared signature allows would fail, or mean something else, on the
    implemented one."""
    want = list(declared.parameters.values())
    have = list(implemented.parameters.values())
    have_by_name = {p.name: p for p in have}
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    why: list[str] = []
    for index, param in enumerate(want):
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            if not any(p.kind == param.kind for p in have):
                why.append(f"takes no {param}")
            continue
        found = have_by_name.get(param.name)
        if found is None:
            why.append(f"no parameter {param.name!r}")
            continue
        if param.kind in positional:
            if found.kind not in positional or have.index(found) != index:
                why.append(f"{param.name!r} is not positional at {index}")
        elif found.kind not in (inspect.Parameter.KEYWORD_ONLY, *positional[1:]):
            why.append(f"{param.name!r} cannot be passed by keyword")
        if param.default is not inspect.Parameter.empty and param.default != found.default:
            why.append(f"{param.name!r} defaults to {found.default!r}, not {param.default!r}")
    declared_names = {p.name for p in want}
    for param in have:
        optional = param.default is not inspect.Parameter.empty or param.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        if param.name not in declared_names and not optional:
            why.append(f"requires {param.name!r}, which callers do not pass")
    return why


def test_the_sqlite_store_implements_the_whole_contract() -> None:
    assert missing_operations(SqliteStore) == []
    assert len(operations(Store)) > 100  # every concept's operations, not only Store's own


def test_the_sqlite_store_offers_parallel_work_as_the_contract_says() -> None:
    assert missing_operations(SqliteParallel, Parallel) == []


def test_a_missing_or_mismatched_operation_is_named_with_why() -> None:
    class Partial(SqliteStore):
        enrollment = None  # type: ignore[assignment]

        def add_event(self, evt: Any) -> None:
            return None

        def contacts(self, limit: int | None = 10, offset: int = 0) -> Any:
            return []

        def count_due(self, now: str, strict: bool) -> int:  # type: ignore[override]
            return 0

    assert missing_operations(Partial) == [
        "add_event: no parameter 'event'",
        "add_event: requires 'evt', which callers do not pass",
        "contacts: 'limit' defaults to 10, not None",
        "count_due: requires 'strict', which callers do not pass",
        "enrollment: missing",
    ]
    assert len(missing_operations(object)) == len(operations(Store))


def test_live_states_are_those_of_the_unique_index_word_for_word() -> None:
    """SQLite uses the partial index `enrollments_live` (and `INDEXED BY` queries run at all)
    only when a query repeats its condition as written."""
    assert f"WHERE state IN {_LIVE};" in inspect.getsource(migrations)
    assert set(LIVE_STATES) | set(ENDED_STATES) == set(EnrollmentState)


def test_states_compare_equal_to_the_stored_text() -> None:
    assert EnrollmentState.ACTIVE == "active" and MessageStatus.QUEUED == "queued"
    assert "failed" in LIVE_STATES and f"{MessageStatus.SENT}" == "sent"


def test_the_postgresql_store_implements_the_whole_contract() -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    from seqctl.store.postgres.store import PostgresStore

    assert missing_operations(PostgresStore) == []
