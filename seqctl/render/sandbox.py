"""The sandboxed Jinja environment: compiling (cached), rendering and evaluating.

Rendering turns what goes wrong inside Jinja into the errors here, with the template line: a
missing value into `MissingVariable`, a sandbox violation or a runtime error into `RenderError`,
a render past its bounds (limits.py: time, output, text built, memory) into `RenderLimit`.

The guards are wired into the code Jinja generates (codegen.py): each `{% for %}` iterates
through `limits.guarded`, `~` and list literals are sized; calls and `*`, `**`, `+`, `%` go
through the environment. A template that ran out of time is not run again for a minute: a tick
over 10,000 enrollments of a runaway sequence must not spend 10,000 time limits on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from time import monotonic
from typing import Any, TypeVar

from jinja2 import Template
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from seqctl.render import codegen, guards, limits, watchdog
from seqctl.render.context import _context, _join, _Missing, _MissingError, _Record, _Records
from seqctl.render.errors import MissingVariable, RenderError, RenderLimit, RenderTimeout

__all__ = ["MissingVariable", "RenderError", "RenderLimit", "RenderTimeout"]

_T = TypeVar("_T")


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
    """The sandbox, with attribute and item lookups that keep the dotted path of what is missing,
    and the guards of limits.py and guards.py."""

    code_generator_class = codegen.GuardedCodeGenerator
    intercepted_binops = guards.BINOPS
    concat = staticmethod(codegen.concat_buffer)
    literal = staticmethod(guards.literal)
    text = staticmethod(guards.text)
    concat_checked = staticmethod(codegen.concat_checked)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return guards.binop(operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Every call: the budget is checked (a macro that calls itself), a method of text is
        sized, what is passed is bounded."""
        limits.local.budget.check()
        args = guards.method_call(__obj, args, kwargs)
        if len(args) + len(kwargs) > 1:
            guards.call_arguments(
                args, {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
            )
        return super().call(__context, __obj, *args, **kwargs)

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


_SAFE_GLOBALS = {"lipsum": guards.lipsum}


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
    for name in guards.STRINGIFYING:
        env.filters[name] = guards.stringifying(env.filters[name])
    env.filters.update(guards.FILTERS)
    env.filters[codegen.LOOP_FILTER] = limits.guarded
    env.globals.update(_SAFE_GLOBALS)
    return env


def compile_template(source: str, *, html: bool = False) -> Template:
    """Compile a template once; the same source (and html flag) returns the same object."""
    return _compiled(source, html)


def _compiled(source: str, html: bool) -> Template:
    found = _compile_template(source, html)
    if isinstance(found, RenderError):
        raise found
    return found


@functools.lru_cache(maxsize=4096)
def _compile_template(source: str, html: bool) -> Template | RenderError:
    """The compiled template, or why it cannot be (kept too: a message of 10,000 contacts
    does not compile a broken template 10,000 times)."""
    try:
        return within_limits(lambda: environment(html).from_string(source))
    except TemplateSyntaxError as exc:
        return RenderError(f"template syntax error: {exc.message}", line=exc.lineno)
    except RenderError as exc:
        return exc
    except (RecursionError, MemoryError, SyntaxError, ValueError, OverflowError):
        return RenderError("the template is too deeply nested or too large to compile")


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> TemplateExpression:
    try:
        return within_limits(
            lambda: environment(False).compile_expression(source, undefined_to_none=False)
        )
    except TemplateSyntaxError as exc:
        raise RenderError(f"expression syntax error: {exc.message}", line=exc.lineno) from None
    except (RecursionError, MemoryError, SyntaxError, ValueError, OverflowError):
        raise RenderError("the expression is too deeply nested or too large") from None


def within_limits(compile: Callable[[], _T]) -> _T:
    """Compile under the render limits: Jinja computes the constant parts of a template while
    it compiles (`{{ '<a><a>...' | striptags }}`), which could take as long as rendering them."""
    budget = limits.local.budget
    if not budget.armed:
        watchdog.arm(budget)
    budget.parts = []
    budget.fresh()
    try:
        return compile()
    finally:
        budget.parts = None


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


_TIMED_OUT: dict[int, tuple[Any, str, float]] = {}  # ran out of time: (template, why, until)
RETRY_AFTER = 60.0  # seconds before a template that timed out is tried again
_LOCAL = limits.local


def render(
    source_or_template: str | Template, variables: Mapping[str, Any], *, html: bool = False
) -> str:
    """Render a template; raise MissingVariable or RenderError rather than render a blank.

    `html` picks the autoescaping environment for source text; a compiled template keeps its own.
    """
    template = (
        _compiled(source_or_template, html)
        if isinstance(source_or_template, str)
        else source_or_template
    )
    if _TIMED_OUT:
        _refuse_if_timed_out(template)
    budget = _LOCAL.budget  # the tick's hot path: a render that needs no guard pays this
    if not budget.armed:
        watchdog.arm(budget)
    parts: list[str] = []
    budget.parts = parts
    try:
        # What Template.render does, without copying the variables into a fresh context twice:
        # the tick renders every message of a million enrollments.
        # The context is made here rather than by Template.new_context, which copies the
        # environment's globals (a ChainMap) into a set on every render.
        env = template.environment
        context = env.context_class(
            env, {**_globals(template), **_context(variables)}, template.name, template.blocks
        )
        parts.extend(template.root_render_func(context))
        # Few pieces and no guard used: joined, then measured. Else measured before joining.
        if (len(parts) > 32 or budget.owner is parts) and budget.rendered_size(
            parts
        ) > limits.LIMITS.max_output:
            raise limits.too_long()
        text = "".join(parts)
        if len(text) > limits.LIMITS.max_output:
            raise limits.too_long()
        return text
    except RenderLimit as exc:
        raise _limit(exc, template, template) from None
    except _MissingError as exc:
        raise MissingVariable(exc.name, line=_template_line(exc, template)) from None
    except SecurityError as exc:
        line = _template_line(exc, template)
        raise RenderError(f"unsafe template construct: {exc}", line=line) from None
    except RecursionError as exc:
        line = _template_line(exc, template)
        raise RenderError("the template calls itself without end", line=line) from None
    except Exception as exc:  # a template's runtime error is the author's mistake, not a bug
        line = _template_line(exc, template)
        raise RenderError(f"template error: {exc}", line=line) from exc
    finally:
        budget.parts = None


def _refuse_if_timed_out(key: Any) -> None:
    found = _TIMED_OUT.get(id(key))
    if found is None or found[0] is not key:
        return
    if monotonic() < found[2]:
        raise RenderTimeout(found[1])
    del _TIMED_OUT[id(key)]


def _limit(exc: RenderLimit, template: Template | None, key: Any) -> RenderLimit:
    """The limit error with the template line; a timeout is remembered for `key`, the compiled
    template or expression."""
    line = exc.line
    if line is None and template is not None:
        line = _template_line(exc, template)
    bounded = type(exc)(str(exc), line=line)
    if isinstance(exc, RenderTimeout):
        _TIMED_OUT[id(key)] = (
            key,
            f"{bounded} for an earlier message: not tried again for a minute",
            monotonic() + RETRY_AFTER,
        )
    return bounded


def evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate a condition (`if:`, `enroll_when:`); anything missing in it evaluates to None."""
    compiled = _compile_expression(expression)
    if _TIMED_OUT:
        _refuse_if_timed_out(compiled)
    budget = _LOCAL.budget
    if not budget.armed:
        watchdog.arm(budget)
    budget.parts = []
    try:
        result = compiled(_context(variables))
        if isinstance(result, _Missing):
            result._check()
            return None
        return result
    except _MissingError:
        return None
    except RenderLimit as exc:
        raise _limit(exc, None, compiled) from None
    except SecurityError as exc:
        raise RenderError(f"unsafe expression {expression!r}: {exc}") from None
    except RecursionError:
        raise RenderError(f"expression {expression!r} nests without end") from None
    except Exception as exc:
        raise RenderError(f"error in expression {expression!r}: {exc}") from exc
    finally:
        budget.parts = None


watchdog.RENDER_CODES.update((render.__code__, evaluate.__code__, within_limits.__code__))
