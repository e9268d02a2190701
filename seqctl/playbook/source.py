"""Read a playbook's YAML keeping the file, line and column of every node.

The file is read up to a bound, composed, measured (aliases must not expand it without end, see
bounds.py) and only then turned into data (nodes.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqctl.playbook.bounds import MAX_FILE_CHARS, measure
from seqctl.playbook.findings import Finding, Severity
from seqctl.playbook.nodes import Builder, JsonPath, Loader, Position, Scalar, position_of

__all__ = ["Document", "JsonPath", "LoadError", "Position", "Scalar", "load_document"]


@dataclass
class Document:
    """One YAML file: its data and where each value and key stands."""

    path: Path
    display: str
    text: str
    data: Any
    values: dict[JsonPath, Scalar | Position] = field(default_factory=dict)
    keys: dict[JsonPath, Position] = field(default_factory=dict)

    def position(self, path: Sequence[str | int], *, key: bool = False) -> Position:
        """The position of the value (or its key) at `path`, else of its nearest ancestor."""
        probe = tuple(path)
        while True:
            if key and probe in self.keys:
                return self.keys[probe]
            found = self.values.get(probe)
            if found is not None:
                return found.position if isinstance(found, Scalar) else found
            if not probe:
                return Position(1, 1)
            probe = probe[:-1]

    def scalar(self, path: Sequence[str | int]) -> Scalar | None:
        found = self.values.get(tuple(path))
        return found if isinstance(found, Scalar) else None

    def finding(
        self,
        path: Sequence[str | int],
        rule: str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> Finding:
        where = self.position(path, key=key)
        return Finding(self.display, where.line, where.column, rule, severity, message)


class LoadError(Exception):
    """The file is not a readable YAML mapping; `findings` say where."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(findings[0].message if findings else "unreadable")
        self.findings = findings


def read_bounded(path: Path) -> str | None:
    """A YAML file's text, or None when it is longer than MAX_FILE_CHARS (it is not read whole:
    the name may be a huge file or a device). OSError and UnicodeDecodeError: unreadable."""
    with path.open(encoding="utf-8") as handle:
        text = handle.read(MAX_FILE_CHARS + 1)
    return text if len(text) <= MAX_FILE_CHARS else None


def _too_large(shown: str) -> LoadError:
    return LoadError(
        [
            Finding(
                shown,
                1,
                1,
                "too-large",
                Severity.ERROR,
                f"the file is longer than {MAX_FILE_CHARS:,} characters (a playbook is a few KB; "
                "is this the right file?)",
            )
        ]
    )


def load_document(path: Path, *, display: str | None = None, text: str | None = None) -> Document:
    """Read and compose one playbook. Raises LoadError (syntax, duplicate keys, not a mapping,
    too large, or aliases that expand too far)."""
    shown = display or str(path)
    if text is None:
        text = read_bounded(path)
    if text is None or len(text) > MAX_FILE_CHARS:
        raise _too_large(shown)
    try:
        nodes = list(yaml.compose_all(text, Loader=Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = position_of(mark) if mark is not None else Position(1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise LoadError(
            [
                Finding(
                    shown,
                    where.line,
                    where.column,
                    "yaml-syntax",
                    Severity.ERROR,
                    problem or "invalid YAML",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise LoadError([Finding(shown, 1, 1, "yaml-syntax", Severity.ERROR, str(exc))]) from None
    if not nodes or nodes[0] is None:
        raise LoadError([Finding(shown, 1, 1, "empty", Severity.ERROR, "the file has no playbook")])
    if len(nodes) > 1:
        where = position_of(nodes[1].start_mark)
        raise LoadError(
            [
                Finding(
                    shown,
                    where.line,
                    where.column,
                    "multiple-documents",
                    Severity.ERROR,
                    "one playbook per file: found a second document",
                )
            ]
        )
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        where = position_of(root.start_mark)
        raise LoadError(
            [
                Finding(
                    shown,
                    where.line,
                    where.column,
                    "schema",
                    Severity.ERROR,
                    "a playbook is a mapping of keys (sequence, steps, ...)",
                )
            ]
        )
    excess = measure(root)
    if excess is not None:
        where = position_of(excess.node.start_mark)
        raise LoadError(
            [Finding(shown, where.line, where.column, excess.rule, Severity.ERROR, excess.message)]
        )
    builder = Builder(shown, text)
    data = builder.build(root, ())
    if builder.problems:
        raise LoadError(builder.problems)
    return Document(path, shown, text, data, builder.values, builder.keys)


def iter_paths(paths: Sequence[Path]) -> Iterator[Path]:
    """Expand files and folders into the playbook files they hold, sorted, each once."""
    seen: set[Path] = set()
    for given in paths:
        if given.is_dir():
            found = sorted(
                p for p in given.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
            )
        else:
            found = [given]
        for item in found:
            if item not in seen:
                seen.add(item)
                yield item
