"""Small pieces of SQL that several query modules build the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from seqctl.timeutil import format_instant


def json_list(values: Iterable[str | int]) -> str:
    """Many values as one parameter, read back with json_each: no limit on how many."""
    return _JSON_LIST.encode(list(values))


_JSON_LIST = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class TimeTexts(dict[datetime | None, str | None]):
    """Times as the database keeps them (fixed-width UTC text, None as NULL), each distinct
    time formatted once: the rows of a tick's batch share a few (its `now`, due times)."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, value: datetime | None) -> str | None:
        text = format_instant(value)
        if value is not None and value.tzinfo is UTC:
            # Only UTC times are kept: a local time in the hour a clock goes back equals (and
            # hashes like) the same wall time an hour later, so it is formatted every time.
            self[value] = text
        return text


def equal(*pairs: tuple[str, object]) -> tuple[list[str], list[Any]]:
    """`column = ?` conditions, and their parameters, for the pairs whose value is not None."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in pairs:
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    return conditions, params


def where(conditions: list[str]) -> str:
    """A WHERE clause joining the conditions with AND; empty when there are none."""
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


NO_LIMIT = 2**62  # LIMIT for "all rows": both stores take a number, neither takes NULL or -1


def limit(most: int | None) -> int:
    """A LIMIT parameter: `most` rows, or all of them (None or a negative number)."""
    return NO_LIMIT if most is None or most < 0 else most


class Cursor(Protocol):
    """What a query returns, in either store."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """The connection the queries run on: sqlite3's own, or the PostgreSQL one, which takes
    the same SQL (see store/postgres/dialect.py)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...
