"""Static checks of templates for lint: syntax, unknown variables, what the sandbox rejects.

Read from Jinja's syntax tree, never from its code generator: lint checks thousands of templates.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections import Counter
from collections.abc import Iterable

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.sandbox import (
    MAX_RANGE,
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
)

from seqctl.render import KNOWN_ROOTS, RenderError, environment, within_limits

INCLUDE_MESSAGE = (
    "include/extends/import are not supported; put the text in the step or its template file"
)
_UNSAFE_ATTRIBUTES = frozenset(
    UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
    | {"mro", "format", "format_map"}
)
_KEYWORDS = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from",
}


@dataclasses.dataclass(frozen=True)
class TemplateProblem:
    """One finding of `check_template` / `check_expression`, positioned inside the source."""

    line: int  # 1-based line inside the template source
    column: int  # 1-based, 1 when unknown
    rule: str  # "template-syntax" | "template-unsafe" | "template-variable"
    message: str


def check_template(source: str, *, extra_roots: Iterable[str] = ()) -> list[TemplateProblem]:
    """Syntax errors, unknown variables and constructs the sandbox rejects, with line and column."""
    return list(_check_template(source, tuple(sorted(extra_roots))))


@functools.lru_cache(maxsize=4096)
def _check_template(source: str, extra_roots: tuple[str, ...]) -> tuple[TemplateProblem, ...]:
    # Playbooks in a repository share much of their text: each distinct template is checked once.
    return tuple(_problems(source, extra_roots))


NESTED = "the template is nested too deeply (parentheses, brackets or blocks)"


def _problems(source: str, extra_roots: tuple[str, ...]) -> list[TemplateProblem]:
    if "{" not in source:
        return []  # plain text: nothing for Jinja to do (most subjects and many bodies)
    try:
        return _tree_problems(source, extra_roots)
    except RecursionError:  # Jinja's parser and tree walks recurse once per level
        return [TemplateProblem(1, 1, "template-syntax", NESTED)]


def _tree_problems(source: str, extra_roots: tuple[str, ...]) -> list[TemplateProblem]:
    env = environment(False)
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [_syntax_problem(exc)]
    # Read from the syntax tree rather than from Jinja's code generator (meta.*, compile): lint
    # checks thousands of templates, and generating code for each is most of its time. Unknown
    # filters and tests, which the generator would reject, are checked in _check_tree.
    macros = {macro.name for macro in tree.find_all(nodes.Macro)}
    undeclared = _names(tree, "load") - _names(tree, "store", "param") - macros - _IMPLICIT
    problems = _check_tree(tree, source, undeclared, extra_roots, state=None)
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def check_expression(source: str, *, extra_roots: Iterable[str] = ()) -> list[TemplateProblem]:
    """The same checks for a bare expression (a branch's `if:`, `enroll_when:`)."""
    try:
        return _expression_problems(source, extra_roots)
    except RecursionError:
        return [TemplateProblem(1, 1, "template-syntax", NESTED)]


def _expression_problems(source: str, extra_roots: Iterable[str]) -> list[TemplateProblem]:
    env = environment(False)
    try:
        parser = Parser(env, source, state="variable")
        expression = parser.parse_expression()
        if not parser.stream.eos:
            parser.fail("unexpected text after the expression", parser.stream.current.lineno)
    except TemplateSyntaxError as exc:
        return [_syntax_problem(exc)]
    tree = nodes.Template([nodes.Output([expression])])  # find_all() skips the node it starts at
    undeclared = _names(tree, "load")
    problems = _check_tree(tree, source, undeclared, extra_roots, state="variable")
    if not any(problem.rule == "template-syntax" for problem in problems):
        try:
            # Within the render limits: compiling computes the expression's constant parts.
            within_limits(lambda: env.compile_expression(source))
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(exc))
        except RenderError as exc:
            problems.append(TemplateProblem(1, 1, "template-unsafe", str(exc)))
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


# Names Jinja defines itself inside loops, macros and call blocks.
_IMPLICIT = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})


def _names(tree: nodes.Node, *contexts: str) -> set[str]:
    return {name.name for name in tree.find_all(nodes.Name) if name.ctx in contexts}


def _syntax_problem(exc: TemplateSyntaxError) -> TemplateProblem:
    return TemplateProblem(exc.lineno or 1, 1, "template-syntax", exc.message or str(exc))


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_tree(
    tree: nodes.Template,
    source: str,
    undeclared: set[str],
    extra_roots: Iterable[str],
    *,
    state: str | None,
) -> list[TemplateProblem]:
    env = environment(False)
    columns = _Columns(source, state)
    seen: Counter[tuple[int, str, str]] = Counter()
    problems: list[TemplateProblem] = []

    def locate(node: nodes.Node, role: str, text: str) -> int:
        """The column of this node's `text`: the n-th of its kind on its line, in source order."""
        key = (node.lineno, role, text)
        seen[key] += 1
        return columns.find(key, seen[key] - 1)

    def report(node: nodes.Node, column: int, rule: str, message: str) -> None:
        problems.append(TemplateProblem(node.lineno, column, rule, message))

    def unsafe(node: nodes.Node, column: int, name: str) -> None:
        if name.startswith("_") or name in _UNSAFE_ATTRIBUTES:
            message = f"unsafe template construct: access to '{name}' is not allowed"
            report(node, column, "template-unsafe", message)

    for statement in tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        column = locate(statement, "name", _KEYWORDS[type(statement)])
        report(statement, column, "template-unsafe", INCLUDE_MESSAGE)
    for attribute in tree.find_all(nodes.Getattr):
        unsafe(attribute, locate(attribute, "attr", attribute.attr), attribute.attr)
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            unsafe(item, locate(item, "key", item.arg.value), item.arg.value)
    checks = (("filter", nodes.Filter, env.filters), ("test", nodes.Test, env.tests))
    for role, node_type, known in checks:
        for use in tree.find_all(node_type):
            column = locate(use, role, use.name)
            if use.name not in known:
                message = f"unknown {role} '{use.name}'{_suggest(use.name, known)}"
                report(use, column, "template-syntax", message)
            arg = use.args[0] if use.name == "attr" and use.args else None
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                unsafe(use, columns.find((use.lineno, "string", arg.value)), arg.value)
    roots = KNOWN_ROOTS | set(extra_roots)
    unknown = undeclared - roots - set(env.globals)
    name_columns: dict[int, int] = {}
    first_use: dict[str, tuple[int, int, nodes.Name]] = {}
    for variable in tree.find_all(nodes.Name):
        column = name_columns[id(variable)] = locate(variable, "name", variable.name)
        if variable.ctx == "load" and variable.name in unknown:
            current = first_use.get(variable.name)
            if current is None or (variable.lineno, column) < current[:2]:
                first_use[variable.name] = (variable.lineno, column, variable)
    for name, (_, column, variable) in first_use.items():
        message = f"unknown variable '{name}'{_suggest(name, roots)}"
        report(variable, column, "template-variable", message)
    for call in tree.find_all(nodes.Call):
        if _range_size(call) > MAX_RANGE:
            message = f"unsafe template construct: range() of more than {MAX_RANGE} items"
            report(call.node, name_columns.get(id(call.node), 1), "template-unsafe", message)
    return problems


def _range_size(node: nodes.Call) -> int:
    """How many items `range(<literals>)` would make; 0 when it is not such a call."""
    if not (isinstance(node.node, nodes.Name) and node.node.name == "range"):
        return 0
    values = [arg.value for arg in node.args if isinstance(arg, nodes.Const)]
    if len(values) != len(node.args) or not all(type(value) is int for value in values):
        return 0
    try:
        return len(range(*values))
    except (TypeError, ValueError):
        return 0


class _Columns:
    """Where names and strings are, by line, role and text (Jinja's nodes only know their line).

    The role tells an attribute (`.name`), a key (`['name']`), a filter (`| name`) and a test
    (`is name`) from a variable with the same text.
    """

    def __init__(self, source: str, state: str | None) -> None:
        self._columns: dict[tuple[int, str, str], list[int]] = {}
        line, column = 1, 1
        before = ("", "")  # the two tokens before this one, whitespace aside
        for _, kind, value in environment(False).lexer.tokeniter(source, None, state=state):
            if kind in ("name", "string"):
                key = (line, _role(kind, before), value[1:-1] if kind == "string" else value)
                self._columns.setdefault(key, []).append(column)
            if kind != "whitespace":
                before = (before[1], value)
            if "\n" in value:
                line += value.count("\n")
                column = len(value) - value.rfind("\n")
            else:
                column += len(value)

    def find(self, key: tuple[int, str, str], nth: int = 0) -> int:
        """The 1-based column of the nth `text` with this role on this line; 1 when not found."""
        columns = self._columns.get(key)
        return columns[min(nth, len(columns) - 1)] if columns else 1


def _role(kind: str, before: tuple[str, str]) -> str:
    if kind == "string":
        return "key" if before[1] == "[" else "string"
    if before[1] == ".":
        return "attr"
    if before[1] == "|":
        return "filter"
    if before[1] == "is" or before == ("is", "not"):
        return "test"
    return "name"
