"""Sandboxed Jinja for message subjects and bodies, rendered at send time.

A variable that is missing, None or "" never renders blank: it raises `MissingVariable` with its
dotted name, unless the template handles it (`| default(...)`, `{% if %}`, `is defined`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jinja2 import Template
from jinja2.environment import TemplateExpression
from jinja2.exceptions import (
    SecurityError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.runtime import StrictUndefined, Undefined, missing
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
)

from seqctl.errors import InputError, SeqctlError

TARGETS = frozenset({"contact", "lead", "deal", "conversation", "appointment", "charge"})
KNOWN_ROOTS: frozenset[str] = TARGETS | {"sender", "sequence", "step", "enrollment", "now"}

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


def prepared(value: Any, name: str) -> Any:
    """A variable wrapped once for many renders (the sender of every message of a step)."""
    return _wrap(value, name)


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
    if isinstance(value, Undefined) and value._undefined_exception is SecurityError:
        value._fail_with_undefined_error()  # the sandbox refused it: no default hides that
    if isinstance(value, Undefined) or value is None or (isinstance(value, str) and not value):
        return default_value
    return default_value if boolean and not value else value


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with attribute and item lookups that keep the dotted path of what is missing."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute[:1] != "_":
            kind = type(obj)
            if kind is _Record:
                value = obj._data.get(attribute)
                if type(value) is str and value:  # `contact.first_name`: most lookups
                    return value
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
def environment(html: bool) -> _Environment:
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
        return environment(html).from_string(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error: {exc.message}", line=exc.lineno) from None


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> TemplateExpression:
    try:
        return environment(False).compile_expression(source, undefined_to_none=False)
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
        # The context is made here rather than by Template.new_context, which copies the
        # environment's globals (a ChainMap) into a set on every render.
        env = template.environment
        context = env.context_class(
            env, {**_globals(template), **_context(variables)}, template.name, template.blocks
        )
        return env.concat(template.root_render_func(context))
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
