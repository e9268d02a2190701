"""One JSON value per line, refused unless it can be stored and printed back as valid JSON.

Python's json reads more than JSON: `NaN`, `Infinity` and `-Infinity`, and numbers too large
for a float (`1e400` becomes infinity), all of which it would then print back as invalid
JSON. It also fails with RecursionError on deep nesting and ValueError on an integer of more
than 4,300 digits, and keeps `\\u0000` and unpaired `\\ud800` escapes, which the database
cannot store or channels send. Here each of those is a `BadValue` with the reason, for the
row alone. The usual line costs what `raw_decode` costs, and a search for a backslash.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # objects and arrays, the row itself included
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


class BadValue(Exception):
    """A line that is not a JSON value seqctl can keep; the message says why."""


def _constant(name: str) -> Any:
    raise BadValue(f"{name} is not a number JSON allows; leave the field out instead")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadValue(f"number {text[:24]}{'...' if len(text) > 24 else ''} is too large")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)
# Escapes that may decode to a NUL or to half of a surrogate pair: only then are strings looked at.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abAB]|[dD][c-fC-F])")


def decode_line(text: str) -> Any:
    """The JSON value on one line (without its line ending); BadValue says why not."""
    data = decode(text)
    if (text.count("{") > MAX_DEPTH or "[" in text) and too_deep(data):
        raise BadValue(TOO_DEEP)
    return data


def decode(text: str) -> Any:
    """decode_line but for the nesting limit, for a caller that walks the value anyway.

    raw_decode first: a third faster for the usual line (one value, nothing around it).
    Anything else (spaces around, something after) goes through decode() for the same value
    or the error json.loads would give.
    """
    try:
        try:
            data, end = _DECODER.raw_decode(text)
        except json.JSONDecodeError:
            data, end = _DECODER.decode(text), len(text)  # decode() skips leading spaces
        if end != len(text):
            data = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BadValue(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise BadValue(TOO_DEEP) from None
    except BadValue:
        raise
    except ValueError:  # int() refuses more than 4,300 digits (sys.get_int_max_str_digits)
        raise BadValue("a number with too many digits") from None
    if "\\" in text and _SUSPECT_ESCAPE.search(text):
        _check_strings(data)
    return data


def too_deep(value: Any) -> bool:
    """Whether objects and arrays nest more than MAX_DEPTH levels in value (no recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _check_strings(value: Any) -> None:
    """BadValue when a name or a string holds a NUL or half of a surrogate pair."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise BadValue("a NUL character (\\u0000) in a value")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadValue(
                    "half of a surrogate pair (an escape such as \\ud800 alone) in a value"
                ) from None
