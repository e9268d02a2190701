"""What publishing a playbook would change: every changed field with its old and new value.

A reviewer reads `seqctl diff` in a pull request, so nothing is cut short: a send window's start
going from 09:00 to 10:00 shows both times, and a body that changed is shown whole, its lines
marked `-` (only in the old text), `+` (only in the new) or left as they are (in both).
Nested settings (`send_window`, `holidays`, a step's `compose`) are compared key by key and named
by their dotted path; lists are compared whole.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# How a field of the normalised definition is named for people (the file's words).
_SHOWN = {"template_source": "template text", "waits": "wait"}


@dataclass(frozen=True)
class Change:
    """One difference between the published version and the file: `+`, `-` or `~`.

    `step` is the step's id (None for the sequence's own settings), `field` the dotted path of
    the setting (None for a whole step added or removed), `old` and `new` the values (None when
    absent), `note` a short description of a step added or removed.
    """

    kind: str
    step: str | None = None
    field: str | None = None
    old: Any = None
    new: Any = None
    note: str = ""

    @property
    def what(self) -> str:
        """The changed thing as people name it: `send_window.start`, `step 'hello' body`."""
        field = _SHOWN.get(self.field, self.field) if self.field else None
        step = f"step '{self.step}'" if self.step is not None else None
        return " ".join(x for x in (step, field) if x) or "sequence"

    def __str__(self) -> str:
        """One line, whole: `~ send_window.start: "09:00" -> "10:00"`."""
        if self.kind == "~":
            return f"~ {self.what}: {_inline(self.old)} -> {_inline(self.new)}"
        return f"{self.kind} {self.what}" + (f": {self.note}" if self.note else "")

    def lines(self) -> list[str]:
        """The change for a person: one line, or a header and the whole text when it has
        several lines."""
        if self.kind == "+" and isinstance(self.new, Mapping) and self.step is not None:
            body = [line for key, value in self.new.items() for line in _field(key, value)]
            return [f"+ {self.what} ({self.note}):", *(f"    {line}".rstrip() for line in body)]
        if self.kind != "~" or not (_multiline(self.old) or _multiline(self.new)):
            return [str(self)]
        shown = _text_diff(self.old, self.new)
        return [f"~ {self.what}:", *(f"    {line}".rstrip() for line in shown)]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "field": self.field,
            "old": self.old,
            "new": self.new,
        }


def diff_definitions(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Change]:
    """Every difference between two normalised definitions, settings first, then step by step."""
    if old is None:
        steps = ", ".join(s["id"] for s in new["steps"])
        return [Change("+", note=f"new, {len(new['steps'])} steps ({steps})")]
    changes = list(_fields(_without_steps(old), _without_steps(new), step=None))
    old_steps = {s["id"]: s for s in old["steps"]}
    new_steps = {s["id"]: s for s in new["steps"]}
    for position, step in enumerate(new["steps"], start=1):
        before = old_steps.get(step["id"])
        if before is None:
            content = {k: v for k, v in step.items() if k != "id"}
            note = f"{step['type']}, position {position}"
            changes.append(Change("+", step=step["id"], new=content, note=note))
        else:
            changes.extend(_fields(before, step, step=step["id"]))
    for step_id, step in old_steps.items():
        if step_id not in new_steps:
            old_content = {k: v for k, v in step.items() if k != "id"}
            changes.append(Change("-", step=step_id, old=old_content, note=str(step["type"])))
    old_order = [s for s in old_steps if s in new_steps]
    new_order = [s for s in new_steps if s in old_steps]
    if old_order != new_order:
        changes.append(Change("~", field="step order", old=old_order, new=new_order))
    return changes


def _without_steps(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k != "steps"}


def _fields(
    old: Mapping[str, Any], new: Mapping[str, Any], *, step: str | None, prefix: str = ""
) -> Iterator[Change]:
    """The changed keys of two mappings, down into nested mappings, by dotted path."""
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        path = f"{prefix}{key}"
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            yield from _fields(before, after, step=step, prefix=f"{path}.")
        else:
            yield Change("~", step=step, field=path, old=before, new=after)


def _inline(value: Any) -> str:
    """A value on one line, exactly: JSON (strings quoted, so blanks show), `(none)` if absent."""
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.rstrip("\n")


def _field(key: str, value: Any) -> list[str]:
    """One field of a new step: `subject: "Hi"`, or the whole text under its name."""
    name = _SHOWN.get(key, key)
    if _multiline(value):
        return [f"{name}:", *(f"  {line}" for line in str(value).splitlines())]
    return [f"{name}: {_inline(value)}"]


def _text_diff(old: Any, new: Any) -> list[str]:
    """Both texts whole, line by line: `- ` only in the old, `+ ` only in the new, `  ` both."""
    before = str(old).splitlines() if old is not None else []
    after = str(new).splitlines() if new is not None else []
    context = max(len(before), len(after))
    lines = difflib.unified_diff(before, after, lineterm="", n=context)
    shown = [line for line in lines if not line.startswith(("---", "+++", "@@"))]
    return [f"{line[0]} {line[1:]}".rstrip() for line in shown]
