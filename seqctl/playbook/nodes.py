"""Composed YAML nodes into plain data, keeping the line and column of every value and key.

Safe loading only. Duplicate keys are errors. Dates stay strings, and `on`, `yes`, `no` stay
strings too (YAML 1.1 would turn the `on:` block into `True:` and Norway's `NO` into `False`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from seqctl.playbook.findings import Finding, Severity

JsonPath = tuple[str | int, ...]


# libyaml's parser when PyYAML was built with it (it nearly always is): several times faster.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader without the timestamp resolver and with YAML 1.2 booleans."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (
        "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}  # fmt: skip
Loader.add_implicit_resolver(
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


def position_of(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


_CORE = "tag:yaml.org,2002:"
_MERGE = _CORE + "merge"
_SCALAR_TAGS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null"))
_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: _CORE + "map",
    yaml.SequenceNode: _CORE + "seq",
}


def _tag(node: yaml.Node) -> str:
    return "!!" + node.tag.removeprefix(_CORE) if node.tag.startswith(_CORE) else node.tag


class Builder:
    """Turn composed nodes into plain data, recording positions and duplicate keys.

    Only plain data: text, numbers, true/false, null, mappings and lists. A tag that asks for
    anything else (`!!binary`, `!!set`, `!custom`) is a finding, not a Python object.
    """

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.lines = text.splitlines()
        self.loader = Loader("")
        self.values: dict[JsonPath, Scalar | Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self.problems: list[Finding] = []

    def problem(self, node: yaml.Node, rule: str, message: str) -> None:
        where = position_of(node.start_mark)
        self.problems.append(
            Finding(self.display, where.line, where.column, rule, Severity.ERROR, message)
        )

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        expected = _TAGS.get(type(node))
        if expected is not None and node.tag != expected:
            self.problem(node, "yaml-tag", f"the tag '{_tag(node)}' is not supported here")
            return None
        if isinstance(node, yaml.MappingNode):
            self.values[path] = position_of(node.start_mark)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self.values[path] = position_of(node.start_mark)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        self.values[path] = self._scalar(node)
        return self._construct(node)

    def _construct(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _MERGE:
            return node.value  # `<<` written as a value: just text
        if node.tag not in _SCALAR_TAGS:
            self.problem(
                node,
                "yaml-tag",
                f"the tag '{_tag(node)}' is not supported: a playbook holds text, numbers, "
                "true/false and null",
            )
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
            kind = node.tag.removeprefix(_CORE)
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            if kind == "int" and len(node.value) > 4000:
                message = f"a number of {len(node.value):,} digits is too long"
            else:
                message = f"'{shown}' is not a valid {kind}"
            self.problem(node, "yaml-syntax", message)
            return None

    def _pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node, bool]]:
        """The mapping's own pairs, then those it merges in with `<<`, marked as merged.

        YAML's merge key: the mapping's own keys win over merged ones, and an earlier mapping
        in `<<: [*a, *b]` wins over a later one. (The sizes were bounded by `measure`.)
        """
        pairs = [(key, value, False) for key, value in node.value if key.tag != _MERGE]
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.problem(source, "yaml-syntax", "'<<' merges a mapping or a list of them")
                    continue
                pairs.extend((key, value, True) for key, value, _ in self._pairs(source))
        return pairs

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Position] = {}
        for key_node, value_node, merged in self._pairs(node):
            where = position_of(key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "yaml-syntax", "a key must be plain text")
                continue
            key = self._construct(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in first_seen:
                if not merged:
                    first = first_seen[key]
                    self.problem(
                        key_node,
                        "duplicate-key",
                        f"duplicate key '{key}' (first defined at line {first.line})",
                    )
                continue
            first_seen[key] = where
            self.keys[(*path, key)] = where
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Scalar:
        start = position_of(node.start_mark)
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
