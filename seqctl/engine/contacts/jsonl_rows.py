"""The rows of a JSON Lines contact file: one JSON object a line.

`key`, `email`, `phone` and `timezone` route and must be text (a whole number for a key or a
phone); every other field is an attribute, nested objects kept, nulls and empty strings dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from seqctl.engine.contacts.rows import ParsedRow, Refusal, checked_row, not_utf8


def read_jsonl(lines: Iterator[str], name: str) -> Iterator[ParsedRow]:
    """Each non-blank line as a contact or a refusal."""
    row = 0
    try:
        for row, line in enumerate(lines, 1):
            if not line or line.isspace():
                continue
            try:
                data = _decode(line.rstrip("\r\n"))  # so columns count on this line
            except json.JSONDecodeError as exc:
                yield Refusal(row, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(data, dict):
                yield Refusal(row, f"not a JSON object but {_json_type(data)}")
                continue
            try:
                key = _text(data.pop("key", None), "key", numbers=True)
                email = _text(data.pop("email", None), "email")
                phone = _text(data.pop("phone", None), "phone", numbers=True)
                timezone = _text(data.pop("timezone", None), "timezone")
            except _WrongType as exc:
                yield Refusal(row, str(exc))
                continue
            yield checked_row(row, key, email, phone, timezone, _pruned(data))
    except UnicodeDecodeError as exc:
        raise not_utf8(name, row + 1, exc) from None


def _decode(text: str) -> Any:
    """json.loads, a third faster for the usual line: one value, nothing around it.

    Anything else (spaces around, a byte-order mark, broken JSON) goes through json.loads
    itself, for the same value or the same error.
    """
    try:
        data, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        return json.loads(text)
    return data if end == len(text) else json.loads(text)


_DECODER = json.JSONDecoder()


class _WrongType(Exception):
    pass


def _text(value: Any, field: str, *, numbers: bool = False) -> str:
    """A routing field from JSON: text (stripped), a whole number where allowed, or missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _WrongType(f"{field} must be text, not {_json_type(value)}")


def _pruned(data: dict[str, Any]) -> dict[str, Any]:
    """Drop nulls and empty strings, in nested objects too: missing stays missing."""
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            value = _pruned(value)
            if not value:
                continue
        elif value is None or value == "":
            continue
        kept[name] = value
    return kept


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return "null"
