"""The keys a JSON Schema defines, per definition, for the reference pages' key tables.

`keys(schema)` maps "" (the document itself) and each `$defs` name to the dotted paths of the
properties it defines: nested objects written inline are followed (`send_window.days`, `items`
as `[]`: `auto_approve[].step`), a `$ref` is not (its keys are listed under its own name).
A reference page puts `<!-- schema: NAME -->` (`<!-- schema: config -->` for the document,
whose name is the schema file's stem) before the table of those keys; the table's first column
names them in code spans, where a span starting with `.` or `[` continues the key before it in
the cell: `` `send_window` (`.days`, `.start`) `` names send_window, send_window.days and
send_window.start.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_MARKER = re.compile(r"^<!-- schema: (?P<name>[\w-]+) -->\s*$")
_CODE = re.compile(r"`([^`]+)`")


def keys(schema: dict[str, Any]) -> dict[str, set[str]]:
    found = {"": _paths(schema, "")}
    for name, definition in schema.get("$defs", {}).items():
        paths = _paths(definition, "")
        if paths:
            found[name] = paths
    return found


def _paths(node: Any, prefix: str) -> set[str]:
    out: set[str] = set()
    if not isinstance(node, dict) or "$ref" in node:
        return out
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        out.add(path)
        out |= _paths(sub, path)
    if isinstance(node.get("items"), dict):
        out |= _paths(node["items"], f"{prefix}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out |= _paths(node["additionalProperties"], f"{prefix}.*" if prefix else "*")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            out |= _paths(sub, prefix)
    for key in ("if", "then", "else"):
        out |= _paths(node.get(key), prefix)
    return out


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def tables(page: Path) -> dict[str, set[str]]:
    """The keys each `<!-- schema: NAME -->` table of the page names, by NAME."""
    found: dict[str, set[str]] = {}
    lines = page.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        marker = _MARKER.match(line)
        if not marker:
            continue
        names = found.setdefault(marker["name"], set())
        rows = iter(lines[index + 1 :])
        for row in rows:
            if row.strip():
                break
        for row in rows:
            if not row.startswith("|"):
                break
            first = row.strip("|").split("|")[0]
            if set(first.strip()) <= set("-: "):
                continue
            full = ""
            for span in _CODE.findall(first):
                if span[0] in ".[" and full:
                    names.add(full + span)  # `.days` after `send_window`: send_window.days
                else:
                    full = span
                    names.add(span)
    return found
