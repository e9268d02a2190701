"""Sandboxed Jinja for message subjects and bodies: static checks for lint, rendering at send time.

A variable that is missing, None or "" never renders blank: it raises `MissingVariable` with its
dotted name, unless the template handles it (`| default(...)`, `{% if %}`, `is defined`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from jinja2 import Template, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import (
    SecurityError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.parser import Parser
from jinja2.runtime import StrictUndefined, Undefined, missing
from jinja2.sandbox import (
    MAX_RANGE,
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    ImmutableSandboxedEnvironment,
)

from seqctl.errors import InputError, SeqctlError

TARGETS = frozenset({"contact", "lead", "deal", "conversation", "appointment", "charge"})
KNOWN_ROOTS: frozenset[str] = TARGETS | {"sender", "sequence", "step", "enrollment", "now"}

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
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


class RenderError(SeqctlError):
    """A template could not be rendered: a sandbox violation, a syntax or runtime error."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"{message} (template line {line})")
        self.line = line


class MissingVariable(RenderError):
    """A variable the template needs has no value (missing, None or "") and no default."""

    def __init__(self, name: str, *, line: int | None = None) -> None:
        super().__init__(f"missing variable '{name}' (no value and no default)", line=line)
        self.name = name


@dataclasses.dataclass(frozen=True)
class TemplateProblem:
    """One finding of `check_template` / `check_expression`, positioned inside the source."""

    line: int  # 1-based line inside the template source
    column: int  # 1-based, 1 when unknown
    rule: str  # "template-syntax" | "template-unsafe" | "template-variable"
    message: str


# --- values in the render context ----------------------------------------------------------------


class _MissingError(UndefinedError):
    """Raised inside Jinja by a missing variable; becomes MissingVariable at the render boundary."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Missing(StrictUndefined):
    """A missing value that knows its dotted name.

    False in tests, never equal to anything and chainable (`contact.company.name`); printing,
    iterating or arithmetic raise. An unsafe access (made by the sandbox) fails on any use.
    """

    __slots__ = ("_path",)

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
        path: str | None = None,
    ) -> None:
        super().__init__(hint, obj, name, _MissingError if exc is UndefinedError else exc)
        self._path = path or str(name or "value")

    @property
    def _undefined_message(self) -> str:
        if self._undefined_exception is _MissingError:
            return self._path
        if self._undefined_exception is SecurityError and self._undefined_name is not None:
            return f"access to {self._undefined_name!r} is not allowed"
        return super()._undefined_message

    def _check(self) -> None:
        if self._undefined_exception is not _MissingError:
            self._fail_with_undefined_error()

    def _chain(self, key: str | int) -> _Missing:
        self._check()
        path = f"{self._path}[{key}]" if isinstance(key, int) else f"{self._path}.{key}"
        return _Missing(name=str(key), path=path)

    # StrictUndefined fails on these; a missing value is false in tests and comparisons instead
    # (`{% if contact.phone %}`, `contact.status == 'Interested'`), like NaN: never equal.
    def __bool__(self) -> bool:  # type: ignore[override]
        self._check()
        return False

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        self._check()
        return other is self

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        self._check()
        return other is not self

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def _false(self, *args: Any, **kwargs: Any) -> bool:
        self._check()
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = _false  # type: ignore[assignment]


def _child(value: Any, parent: str, key: str | int) -> Any:
    """Wrap a looked-up value: None and "" are missing, containers learn their dotted path."""
    if value is None or (isinstance(value, str) and not value):
        return _Missing(name=str(key), path=_join(parent, key))
    if type(value) in (str, int, float, bool):  # the common case, kept fast
        return value
    if isinstance(value, Mapping):
        return _Record(value, _join(parent, key))
    if isinstance(value, list | tuple):
        return _Records(value, _join(parent, key))
    return value


def _join(parent: str, key: str | int) -> str:
    return f"{parent}[{key}]" if isinstance(key, int) else f"{parent}.{key}"


class _Record(Mapping[str, Any]):
    """A read-only view of a mapping that knows its dotted path (`contact.company`)."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._data = data
        self._path = path

    def _lookup(self, key: str, *, methods: bool = False) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            if methods and key in _MAPPING_METHODS:
                return getattr(self, key)
            return _Missing(name=key, path=_join(self._path, key))
        return _child(value, self._path, key)

    def __getitem__(self, key: str) -> Any:
        return _child(self._data[key], self._path, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = self._lookup(key)
        return value if default is None or not isinstance(value, _Missing) else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(dict(self._data))


class _Records(Sequence[Any]):
    """A read-only view of a list whose items know their path (`contact.orders[0]`)."""

    __slots__ = ("_items", "_path")

    def __init__(self, items: Sequence[Any], path: str) -> None:
        self._items = items
        self._path = path

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self._items))[index]]
        return _child(self._items[index], self._path, index % len(self._items))

    def _lookup(self, index: int) -> Any:
        if -len(self._items) <= index < len(self._items):
            return self[index]
        return _Missing(name=str(index), path=_join(self._path, index))

    def __iter__(self) -> Iterator[Any]:
        path = self._path
        return (_child(item, path, index) for index, item in enumerate(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(list(self._items))


def _wrap(value: Any, name: str) -> Any:
    """Wrap a top-level variable so that what is missing inside it is named from its root."""
    kind = type(value)
    if kind is _Record or kind is _Records or kind in (str, int, float, bool):
        return value  # already wrapped, or plain: the common cases, kept fast
    if kind is dict:
        return _Record(value, name)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if type(value) is not _Record and isinstance(value, Mapping):
        return _Record(value, name)
    if isinstance(value, list | tuple):
        return _Records(value, name)
    return value


# --- the environment ---------------------------------------------------------------------------


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for None and "" (a CSV empty cell is not a first name)."""
    if isinstance(value, _Missing):
        value._check()  # an unsafe access stays an error
        return default_value
    if isinstance(value, Undefined) or value is None or (isinstance(value, str) and not value):
        return default_value
    return default_value if boolean and not value else value


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with attribute and item lookups that keep the dotted path of what is missing."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute[:1] != "_":
            kind = type(obj)
            if kind is _Record:
                return obj._lookup(attribute, methods=True)
            if kind is _Missing:
                return obj._chain(attribute)
            if kind is _Records:
                value = super().getattr(obj, attribute)
                if type(value) is _Missing and value._undefined_exception is _MissingError:
                    return _Missing(name=attribute, path=_join(obj._path, attribute))
                return value
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        kind = type(obj)
        if kind is _Record and isinstance(argument, str) and argument[:1] != "_":
            return obj._lookup(argument)
        if kind is _Records and type(argument) is int:
            return obj._lookup(argument)
        if kind is _Missing and isinstance(argument, str | int) and str(argument)[:1] != "_":
            return obj._chain(argument)
        return super().getitem(obj, argument)


@functools.cache
def _environment(html: bool) -> _Environment:
    env = _Environment(
        undefined=_Missing,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["default"] = env.filters["d"] = _default
    return env


def compile_template(source: str, *, html: bool = False) -> Template:
    """Compile a template once; the same source (and html flag) returns the same object."""
    return _compile_template(source, html)


@functools.lru_cache(maxsize=4096)
def _compile_template(source: str, html: bool) -> Template:
    try:
        return _environment(html).from_string(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error: {exc.message}", line=exc.lineno) from None


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> TemplateExpression:
    try:
        return _environment(False).compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise RenderError(f"expression syntax error: {exc.message}", line=exc.lineno) from None


class _Prepared(dict[str, Any]):
    """Variables already wrapped by template_context: rendering uses them as they are."""


def _context(variables: Mapping[str, Any]) -> dict[str, Any]:
    if type(variables) is _Prepared:
        return variables
    return {
        name: _wrap(value, name)
        for name, value in variables.items()
        if value is not None and not (isinstance(value, str) and not value)
    }


_GLOBALS: dict[int, dict[str, Any]] = {}


def _globals(template: Template) -> dict[str, Any]:
    """A template's globals as a plain dict (Jinja keeps a ChainMap, slow to copy per render).

    Templates here carry no globals of their own, so one copy per environment serves them all.
    """
    found = _GLOBALS.get(id(template.environment))
    if found is None:
        found = _GLOBALS[id(template.environment)] = dict(template.globals)
    return found


def _template_line(exc: BaseException, template: Template | None = None) -> int | None:
    """The template line an error was raised at, from the compiled template's frames."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is not None and template is not None:
        return template.get_corresponding_lineno(line)
    return line


def render(
    source_or_template: str | Template, variables: Mapping[str, Any], *, html: bool = False
) -> str:
    """Render a template; raise MissingVariable or RenderError rather than render a blank.

    `html` picks the autoescaping environment for source text; a compiled template keeps its own.
    """
    template = (
        _compile_template(source_or_template, html)
        if isinstance(source_or_template, str)
        else source_or_template
    )
    try:
        # What Template.render does, without copying the variables into a fresh context twice:
        # the tick renders every message of a million enrollments.
        context = {**_globals(template), **_context(variables)}
        return template.environment.concat(
            template.root_render_func(template.new_context(context, shared=True))
        )
    except _MissingError as exc:
        raise MissingVariable(exc.name, line=_template_line(exc, template)) from None
    except SecurityError as exc:
        line = _template_line(exc, template)
        raise RenderError(f"unsafe template construct: {exc}", line=line) from None
    except Exception as exc:  # a template's runtime error is the author's mistake, not a bug
        line = _template_line(exc, template)
        raise RenderError(f"template error: {exc}", line=line) from exc


def evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate a condition (`if:`, `enroll_when:`); anything missing in it evaluates to None."""
    compiled = _compile_expression(expression)
    try:
        result = compiled(_context(variables))
        if isinstance(result, _Missing):
            result._check()
            return None
        return result
    except _MissingError:
        return None
    except SecurityError as exc:
        raise RenderError(f"unsafe expression {expression!r}: {exc}") from None
    except Exception as exc:
        raise RenderError(f"error in expression {expression!r}: {exc}") from exc


def template_context(
    contact: Mapping[str, Any],
    *,
    sender: Any = None,
    sequence: Any = None,
    step: Any = None,
    enrollment: Any = None,
    now: Any = None,
    target: str = "contact",
) -> dict[str, Any]:
    """The variables a step renders with: `contact`, the target's alias, sender, ..., `now`.

    Mappings (and dataclasses) are wrapped so that what is missing is named by its dotted path;
    None leaves a variable out, so using it is a MissingVariable.
    """
    if target not in TARGETS:
        raise InputError(f"unknown target {target!r} (one of {', '.join(sorted(TARGETS))})")
    variables: dict[str, Any] = _Prepared(contact=_Record(contact, "contact"))
    variables[target] = _Record(contact, target)
    others = {"sender": sender, "sequence": sequence, "step": step, "enrollment": enrollment}
    for name, value in others.items():
        if value is not None:
            variables[name] = _wrap(value, name)
    if now is not None:
        variables["now"] = now
    return variables


# --- static checks for lint --------------------------------------------------------------------


def check_template(source: str, *, extra_roots: Iterable[str] = ()) -> list[TemplateProblem]:
    """Syntax errors, unknown variables and constructs the sandbox rejects, with line and column."""
    return list(_check_template(source, tuple(sorted(extra_roots))))


@functools.lru_cache(maxsize=4096)
def _check_template(source: str, extra_roots: tuple[str, ...]) -> tuple[TemplateProblem, ...]:
    # Playbooks in a repository share much of their text: each distinct template is checked once.
    return tuple(_problems(source, extra_roots))


def _problems(source: str, extra_roots: tuple[str, ...]) -> list[TemplateProblem]:
    if "{" not in source:
        return []  # plain text: nothing for Jinja to do (most subjects and many bodies)
    env = _environment(False)
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [_syntax_problem(exc)]
    # Read from the syntax tree rather than from Jinja's code generator (meta.*, compile): lint
    # checks thousands of templates, and generating code for each is most of its time. Unknown
    # filters and tests, which the generator would reject, are checked in _check_tree.
    undeclared = _names(tree, "load") - _names(tree, "store", "param") - _IMPLICIT
    problems = _check_tree(tree, source, undeclared, extra_roots, state=None)
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def check_expression(source: str, *, extra_roots: Iterable[str] = ()) -> list[TemplateProblem]:
    """The same checks for a bare expression (a branch's `if:`, `enroll_when:`)."""
    env = _environment(False)
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
            env.compile_expression(source)
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(exc))
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
    env = _environment(False)
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
        for _, kind, value in _environment(False).lexer.tokeniter(source, None, state=state):
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
