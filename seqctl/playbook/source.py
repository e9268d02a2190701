"""Read a playbook's YAML keeping the file, line and column of every node.

Safe loading only. Duplicate keys are errors. Dates stay strings, and `on`, `yes`, `no` stay
strings too (YAML 1.1 would turn the `on:` block into `True:` and Norway's `NO` into `False`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqctl.playbook.findings import Finding, Severity

JsonPath = tuple[str | int, ...]


# libyaml's parser when PyYAML was built with it (it nearly always is): several times faster.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader without the timestamp resolver and with YAML 1.2 booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (
        "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}  # fmt: skip
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class Scalar:
    """Where a scalar's text starts and how it was written, to locate errors inside it."""

    position: Position
    style: str | None  # None plain, '|' literal, '>' folded, '"' or "'" quoted
    content_line: int  # 1-based line of the first character of the value's content
    content_column: int


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


def _pos(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def load_document(path: Path, *, display: str | None = None, text: str | None = None) -> Document:
    """Read and compose one playbook. Raises LoadError (syntax, duplicate keys, not a mapping)."""
    shown = display or str(path)
    if text is None:
        text = path.read_text(encoding="utf-8")  # OSError and UnicodeDecodeError: unreadable
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _pos(mark) if mark is not None else Position(1, 1)
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
        where = _pos(nodes[1].start_mark)
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
        where = _pos(root.start_mark)
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
    builder = _Builder(shown, text)
    data = builder.build(root, ())
    if builder.problems:
        raise LoadError(builder.problems)
    return Document(path, shown, text, data, builder.values, builder.keys)


class _Builder:
    """Turn composed nodes into plain data, recording positions and duplicate keys."""

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.lines = text.splitlines()
        self.loader = _Loader("")
        self.values: dict[JsonPath, Scalar | Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self.problems: list[Finding] = []

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            self.values[path] = _pos(node.start_mark)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self.values[path] = _pos(node.start_mark)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        self.values[path] = self._scalar(node)
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            where = _pos(key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Finding(
                        self.display,
                        where.line,
                        where.column,
                        "yaml-syntax",
                        Severity.ERROR,
                        "a key must be plain text",
                    )
                )
                continue
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in first_seen:
                first = first_seen[key]
                self.problems.append(
                    Finding(
                        self.display,
                        where.line,
                        where.column,
                        "duplicate-key",
                        Severity.ERROR,
                        f"duplicate key '{key}' (first defined at line {first.line})",
                    )
                )
                continue
            first_seen[key] = where
            self.keys[(*path, key)] = where
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Scalar:
        start = _pos(node.start_mark)
        style = node.style
        if style in ("|", ">"):
            # Block scalar: the content starts on the next line, at the block's indentation.
            line = start.line + 1
            while line <= len(self.lines) and not self.lines[line - 1].strip():
                line += 1
            text = self.lines[line - 1] if line <= len(self.lines) else ""
            return Scalar(start, style, line, len(text) - len(text.lstrip()) + 1)
        offset = 1 if style in ('"', "'") else 0
        return Scalar(start, style, start.line, start.column + offset)


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
