"""How big a YAML file may be, and how far its aliases may expand it.

A YAML alias is a reference: a 438-byte file whose anchors each repeat the previous one nine
times ("billion laughs") composes into a few nodes but expands into billions of values when it
is turned into data. The composed node graph is measured before anything is built: each node's
size once its aliases are expanded, and how deep it nests, computed once per node (the graph is
shared, never walked per alias). An alias that refers to a value containing it is refused too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml

MAX_FILE_CHARS = 1_000_000  # a playbook or seqctl.yaml; the largest real ones are a few KB
MAX_VALUES = 100_000  # keys, values and items once aliases are expanded
MAX_TEXT = 4 * MAX_FILE_CHARS  # characters of text once aliases are expanded
MAX_DEPTH = 100  # nesting of mappings and lists


@dataclass(frozen=True)
class Excess:
    """What is too big, and the node where it is (its start mark gives the line and column)."""

    rule: str  # "yaml-aliases" | "too-large" | "too-deep"
    message: str
    node: yaml.Node


@dataclass
class _Size:
    values: int
    text: int
    depth: int


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def measure(root: yaml.Node) -> Excess | None:
    """The first limit the document breaks once its aliases are expanded, or None."""
    sizes: dict[int, _Size] = {}
    open_nodes: set[int] = set()  # on the path being measured: an alias to one is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative: libyaml allows 1,000 levels of nesting, Python's stack less
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            children = [sizes[id(child)] for child in _children(node)]
            text = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            sizes[key] = _Size(
                # Capped: the counts of a bomb grow exponentially with each level.
                min(1 + sum(c.values for c in children), MAX_VALUES + 1),
                min(text + sum(c.text for c in children), MAX_TEXT + 1),
                min(1 + max((c.depth for c in children), default=0), MAX_DEPTH + 1),
            )
            continue
        if key in sizes:
            continue
        stack.append((node, True))
        open_nodes.add(key)
        for child in reversed(_children(node)):
            if id(child) in open_nodes:
                return Excess(
                    "yaml-aliases",
                    "an alias refers to a value that contains it: the value would never end",
                    child,
                )
            if id(child) not in sizes:
                stack.append((child, False))
    return _excess(root, sizes)


def _excess(root: yaml.Node, sizes: dict[int, _Size]) -> Excess | None:
    total = sizes[id(root)]
    aliased = total.values > len(sizes)  # some node is counted more than once: aliases
    if total.depth > MAX_DEPTH:
        return Excess(
            "too-deep",
            f"values are nested more than {MAX_DEPTH} levels deep",
            _at_depth(root, sizes, MAX_DEPTH),
        )
    if total.values > MAX_VALUES:
        where = _innermost_over(root, sizes, lambda s: s.values, MAX_VALUES)
        if aliased:
            return Excess(
                "yaml-aliases",
                f"aliases expand this value to more than {MAX_VALUES:,} values; "
                "write the values out or use fewer aliases",
                where,
            )
        return Excess("too-large", f"the file holds more than {MAX_VALUES:,} values", where)
    if total.text > MAX_TEXT:
        where = _innermost_over(root, sizes, lambda s: s.text, MAX_TEXT)
        return Excess(
            "yaml-aliases" if aliased else "too-large",
            f"aliases expand this value to more than {MAX_TEXT:,} characters of text",
            where,
        )
    return None


def _innermost_over(
    node: yaml.Node, sizes: dict[int, _Size], size: Callable[[_Size], int], limit: int
) -> yaml.Node:
    """The innermost node over the limit: where the excess is made, to point the finding at."""
    while True:
        over = next((c for c in _children(node) if size(sizes[id(c)]) > limit), None)
        if over is None:
            return node
        node = over


def _at_depth(node: yaml.Node, sizes: dict[int, _Size], levels: int) -> yaml.Node:
    """The node `levels` below this one on its deepest path."""
    for _ in range(levels):
        children = _children(node)
        if not children:
            break
        node = max(children, key=lambda child: sizes[id(child)].depth)
    return node
