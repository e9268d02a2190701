"""The rows of a JSON Lines contact file: one JSON object a line.

`key`, `email`, `phone` and `timezone` route and must be text (a whole number for a key or a
phone); every other field is an attribute, nested objects kept, nulls and empty strings dropped.
A line that is not JSON seqctl can keep (NaN, nesting past 32 levels, ...) is refused alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from seqctl.engine.contacts.lines import BIG_LINE, Lines
from seqctl.engine.contacts.rows import ParsedRow, Refusal, checked_row, not_utf8
from seqctl.engine.contacts.strict_json import MAX_DEPTH, TOO_DEEP, BadValue, decode, too_deep


def read_jsonl(lines: Iterator[str], checked: Lines, name: str) -> Iterator[ParsedRow]:
    """Each non-blank line as a contact or a refusal; `checked` knows the unusable lines."""
    problems = checked.problems
    row = 0
    try:
        for row, line in enumerate(lines, 1):
            if problems and row in problems:
                yield Refusal(row, problems[row])
                continue
            if not line or line.isspace():
                continue
            text = line.rstrip("\r\n")  # so columns count on this line
            try:
                data = decode(text)
                if "[" in text and too_deep(data):  # objects alone: _pruned counts their levels
                    raise BadValue(TOO_DEEP)
            except BadValue as exc:
                yield Refusal(row, str(exc))
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
            try:
                attributes = _pruned(data, 1)
            except _TooDeep:
                yield Refusal(row, TOO_DEEP)
                continue
            size = length if (length := len(line)) > BIG_LINE else 0
            yield checked_row(row, key, email, phone, timezone, attributes, size)
    except UnicodeDecodeError as exc:  # a source decoded strictly, not through open_source
        raise not_utf8(name, row + 1, exc) from None


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


def _pruned(data: dict[str, Any], level: int) -> dict[str, Any]:
    """Drop nulls and empty strings, in nested objects too: missing stays missing.

    `level` is data's own nesting level (the row is 1); _TooDeep past MAX_DEPTH.
    """
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            if level >= MAX_DEPTH:
                raise _TooDeep
            value = _pruned(value, level + 1)
            if not value:
                continue
        elif value is None or value == "":
            continue
        kept[name] = value
    return kept


class _TooDeep(Exception):
    pass


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
