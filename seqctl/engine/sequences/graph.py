"""A sequence as a diagram: Mermaid or Graphviz DOT text, from its model alone.

Nodes are keyed by position (`s1`, `s2`, ...) rather than by step id, so no id can clash with a
keyword of either format; step ids appear only in the quoted labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from seqctl.engine.incoming.events import DEFAULT_RULES, rule_for
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.sequences.catalog import sequence_view
from seqctl.engine.sequences.visibility import Viewer
from seqctl.engine.views.preview import load_for_preview
from seqctl.errors import InputError
from seqctl.playbook.model import SequenceDef, Step, StepType
from seqctl.store import Store


class Shape(StrEnum):
    TERMINAL = "terminal"
    STEP = "step"
    DECISION = "decision"


@dataclass(frozen=True)
class Node:
    key: str
    lines: tuple[str, ...]
    shape: Shape


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str | None = None
    dashed: bool = False


START, END, EXITED = "start", "done", "exited"


def load(
    store: Store, target: str, version: int | None = None, *, viewer: Viewer | None = None
) -> SequenceDef:
    """A playbook file's model (linted first), or a published sequence's (newest by default).

    A file is read by whoever can read it; a published sequence only by a viewer who may see it.
    """
    if version is None:
        return load_for_preview(store, target, viewer=viewer).model
    if Path(target).exists():
        raise InputError(f"{target}: --version is for a published sequence, not a playbook file")
    return sequence_view(store, target, version, viewer=viewer).model


def layout(model: SequenceDef) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges of a sequence, in a stable order: steps as they are written."""
    steps = model.steps
    keys = [f"s{i + 1}" for i in range(len(steps))]

    def to(index: int, prefix: str | None = None) -> tuple[str, str | None]:
        if index >= len(steps):
            return END, prefix
        wait = _wait_label(steps[index])
        label = ", ".join(part for part in (prefix, wait) if part) or None
        return keys[index], label

    nodes = [Node(START, ("enrolled",), Shape.TERMINAL)]
    edges = [Edge(START, *to(0))]
    version = RunnableVersion(model.id, 0, model)
    for index, step in enumerate(steps):
        lines = [f"{step.id}: {step.type}" + (" (manual)" if step.is_manual else "")]
        if step.type is StepType.BRANCH:
            lines.append(str(step.spec.get("if", "")))
            nodes.append(Node(keys[index], tuple(lines), Shape.DECISION))
            for answer, key in (("yes", "then"), ("no", "else")):
                edges.append(Edge(keys[index], *to(_branch_target(model, index, key), answer)))
        else:
            nodes.append(Node(keys[index], tuple(lines), Shape.STEP))
            edges.append(Edge(keys[index], *to(version.after(index))))
    nodes += [Node(END, ("completed",), Shape.TERMINAL), Node(EXITED, ("exited",), Shape.TERMINAL)]
    exits = [kind for kind in DEFAULT_RULES if rule_for(model.definition, kind)[0] == "exit"]
    edges.append(Edge(START, EXITED, ", ".join(exits), dashed=True))
    return nodes, edges


def _wait_label(step: Step) -> str | None:
    """What stands between the previous step and this one, as the tick reads it."""
    if step.day is not None:
        return f"day {step.day}"
    return ", ".join(str(w) for w in step.waits) or None


def _branch_target(model: SequenceDef, index: int, key: str) -> int:
    chosen = model.steps[index].spec.get(key)
    found = model.index(str(chosen)) if chosen is not None else None
    return found if found is not None else index + 1


_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}
_MERMAID_SHAPES = {
    Shape.TERMINAL: ('(["', '"])'),
    Shape.STEP: ('["', '"]'),
    Shape.DECISION: ('{"', '"}'),
}


def _mermaid_text(text: str) -> str:
    text = " ".join(text.splitlines())
    return "".join(_MERMAID_ESCAPES.get(char, char) for char in text)


def mermaid(model: SequenceDef, *, title: str | None = None) -> str:
    """The sequence as a Mermaid flowchart, with `title` in its front matter when given."""
    nodes, edges = layout(model)
    out = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---"] if title else []
    out.append("flowchart TD")
    for node in nodes:
        opening, closing = _MERMAID_SHAPES[node.shape]
        label = "<br>".join(_mermaid_text(line) for line in node.lines)
        out.append(f"    {node.key}{opening}{label}{closing}")
    for edge in edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        out.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(out) + "\n"


_DOT_SHAPES = {Shape.TERMINAL: "oval", Shape.STEP: "box", Shape.DECISION: "diamond"}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")


def dot(model: SequenceDef, *, title: str | None = None) -> str:
    """The sequence as a Graphviz digraph, labelled with `title` when given."""
    nodes, edges = layout(model)
    out = [f'digraph "{_dot_text(model.id)}" {{']
    if title:
        out += [f'    label="{_dot_text(title)}";', "    labelloc=t;"]
    for node in nodes:
        label = "\\n".join(_dot_text(line) for line in node.lines)
        out.append(f'    {node.key} [label="{label}", shape={_DOT_SHAPES[node.shape]}];')
    for edge in edges:
        attributes = [f'label="{_dot_text(edge.label)}"'] if edge.label else []
        if edge.dashed:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        out.append(f"    {edge.source} -> {edge.target}{suffix};")
    out.append("}")
    return "\n".join(out) + "\n"
