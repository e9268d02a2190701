"""Jinja's code generator, with the guards of limits.py and guards.py in the code it writes.

- each `{% for %}` iterates through `limits.guarded` (the time and the output, every 16 items);
- `~` joins through `environment.concat_checked` (sized first);
- a list, tuple or dict literal that holds variables passes `environment.literal` (its text);
- what a macro or a `{% set %}`/`{% filter %}` block rendered is joined by `environment.concat`,
  sized first;
- each `{{ value }}` that is not text passes `environment.text` first: a list or mapping is
  checked by the length of its text before `str()` makes it (lists sharing items can be far
  larger as text than in memory). Text itself only pays a type check.

Jinja allows no node types of one's own, so the loop guard is a filter (`LOOP_FILTER`): Jinja
looks it up once per render and calls it directly.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import markup_join, str_join

from seqctl.render import guards, limits

LOOP_FILTER = "_loop_guard"
OUTPUT = "t_output"  # a local of the generated functions (Jinja's own are t_1, t_2, ...)


class GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator with the guards in the code it writes."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            iterable = loop.iter
            if not (isinstance(iterable, nodes.Filter) and iterable.name == LOOP_FILTER):
                # A filter rather than a call: Jinja looks it up once per render, and calls
                # it directly (Jinja allows no node types of one's own).
                loop.iter = nodes.Filter(
                    iterable, LOOP_FILTER, [], [], None, None, lineno=iterable.lineno
                )
                loop.iter.set_environment(self.environment)
        super().visit_Template(node, frame)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_pre(node, frame, finalize)
        self.write(f"{OUTPUT} if (t_kind := type({OUTPUT} := ")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(f")) is str or t_kind is int else environment.text({OUTPUT})")
        super()._output_child_post(node, frame, finalize)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        folded = self._folded(node, frame)
        if folded is not None:
            self.visit(folded, frame)
            return
        if frame.eval_ctx.volatile:
            escaping = "context.eval_ctx.autoescape"
        else:
            escaping = str(bool(frame.eval_ctx.autoescape))
        self.write("environment.concat_checked((")
        for item in node.nodes:
            self.visit(item, frame)
            self.write(", ")
        self.write(f"), {escaping})")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._literal(node, frame, super().visit_List)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # a loop's or a set's targets
            super().visit_Tuple(node, frame)
            return
        self._literal(node, frame, super().visit_Tuple)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._literal(node, frame, super().visit_Dict)

    def _literal(self, node: nodes.Expr, frame: Frame, write: Any) -> None:
        """A literal holding variables: its size is known only when it is made."""
        if self._folded(node, frame) is not None:
            write(node, frame)
            return
        self.write("environment.literal(")
        write(node, frame)
        self.write(")")

    def _folded(self, node: nodes.Expr, frame: Frame) -> nodes.Expr | None:
        """The node as a constant, when Jinja can compute it now (its text is in the source)."""
        if self.optimizer is None or frame.eval_ctx.volatile:
            return None
        try:
            return nodes.Const.from_untrusted(
                node.as_const(frame.eval_ctx), lineno=node.lineno, environment=self.environment
            )
        except nodes.Impossible:
            return None


def concat_buffer(parts: Any) -> str:
    """Join what a macro, a `{% set %}` block or a `{% filter %}` block rendered."""
    if type(parts) is not list:
        parts = list(parts)
    limits.local.budget.build(sum(map(len, parts)), "a block")
    return "".join(parts)


def concat_checked(values: tuple[Any, ...], autoescape: bool) -> str:
    """The `~` operator: sized, then joined as Jinja joins it."""
    guards.concat(values)
    return markup_join(values) if autoescape else str_join(values)
