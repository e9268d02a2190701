"""The sandboxed Jinja environment: compiling (cached), rendering and evaluating.

Rendering turns what goes wrong inside Jinja into the errors here, with the template line: a
missing value into `MissingVariable`, a sandbox violation or a runtime error into `RenderError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import Template
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from seqctl.errors import SeqctlError
from seqctl.render.context import _context, _join, _Missing, _MissingError, _Record, _Records


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


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for None and "" (a CSV empty cell is not a first name)."""
    if type(value) is str and value:  # a value that is there: most calls, kept fast
        return value
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
