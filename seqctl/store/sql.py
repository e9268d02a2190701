"""Small pieces of SQL that several query modules build the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def json_list(values: Iterable[str | int]) -> str:
    """Many values as one parameter, read back with json_each: no limit on how many."""
    return _JSON_LIST.encode(list(values))


_JSON_LIST = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


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
