"""Operations that make text or lists by an argument's size, checked before they run.

`'x'|center(1100000000)`, `'ab' * 1000000000`, `'%999999999s'|format(1)`, `2 ** 10**9`,
`'x'|replace('', s)` or `lipsum(2000000)` would each allocate gigabytes (or compute for minutes)
in one call that nothing can interrupt. Each is replaced here by a version that works out the
size of its result first and counts it in the render's budget (limits.py); past the limit it
raises instead. Containers a template builds (`[a, a, a]`, `[a] * 1000`) are checked by weight,
the size of their text.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping
from string import Formatter
from typing import Any

from jinja2 import filters as builtin
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from seqctl.render.errors import RenderLimit
from seqctl.render.limits import CONTAINERS, LIMITS, current, weight

MAX_DIGITS = 10_000  # of a number `**` may make


def _build(size: int, what: str) -> None:
    current().build(size, what)


def _checked(value: Any, what: str) -> Any:
    """A container the template builds: its text may not exceed the limit."""
    limit = LIMITS.max_built
    if weight(value, limit) > limit:
        raise RenderLimit(f"{what} would be more than {limit:,} characters as text")
    return value


_SCALARS = frozenset({str, int, float, bool, type(None), Markup})


def text(value: Any) -> Any:
    """A value about to become text (`{{ value }}`, a filter that takes text): a container's
    text is measured first. The value is returned as it is."""
    if type(value) not in _SCALARS and isinstance(value, CONTAINERS):
        _checked(value, "a value")
    return value


def literal(value: Any) -> Any:
    """A list, tuple or dict written in the template with variables in it."""
    return _checked(value, "a list or mapping")


def concat(values: tuple[Any, ...]) -> str:
    """The `~` operator: the pieces' text, joined once their size is known to be fine."""
    texts = [value if type(value) is str else str(_checked(value, "a value")) for value in values]
    _build(sum(map(len, texts)), "'~'")
    return "".join(texts)


def stringifying(filter_: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that makes text of its value (`string`, `upper`, `tojson`, ...), its value
    measured first when it is a container."""
    passes = getattr(filter_, "jinja_pass_arg", None) is not None

    def checked(*args: Any, **kwargs: Any) -> Any:
        value = args[1] if passes else args[0]
        if type(value) not in _SCALARS and isinstance(value, CONTAINERS):
            _checked(value, f"the value of {filter_.__name__}")
        return filter_(*args, **kwargs)

    return functools.update_wrapper(checked, filter_)


STRINGIFYING = (
    "string", "upper", "lower", "title", "capitalize", "trim", "striptags", "escape", "e",
    "forceescape", "urlize", "wordcount", "truncate", "urlencode", "tojson", "pprint", "xmlattr",
    "reverse", "safe", "float", "int",
)  # fmt: skip


# Binary operators


def _sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def binop(operator_: str, left: Any, right: Any) -> Any:
    """`*`, `**`, `+` and `%`, sized before they run."""
    if operator_ == "*":
        if _sized(left) and type(right) is int or _sized(right) and type(left) is int:
            sequence, times = (left, right) if _sized(left) else (right, left)
            _repeat(sequence, times)
        return left * right
    if operator_ == "**":
        _power(left, right)
        return left**right
    if operator_ == "+":
        if _sized(left) and _sized(right):
            _build(len(left) + len(right), "'+'")
            if isinstance(left, list | tuple):
                return _checked(left + right, "a list")
        return left + right
    if isinstance(left, str):  # %: printf-style formatting
        _build(printf_size(left, right), "'%'")
    return left % right


def _repeat(sequence: Any, times: int) -> None:
    if times <= 0:
        return
    _build(len(sequence) * times, "'*'")
    if isinstance(sequence, list | tuple):
        limit = LIMITS.max_built
        if weight(sequence, limit) * times > limit:
            raise RenderLimit(f"'*' would make a list of more than {limit:,} characters as text")


def _power(base: Any, exponent: Any) -> None:
    if type(base) is not int or type(exponent) is not int or exponent < 2 or abs(base) < 2:
        return
    digits = exponent * len(str(abs(base)))
    if digits > MAX_DIGITS:
        raise RenderLimit(f"'**' would make a number of about {digits:,} digits")


# printf-style (`%`, `format`) and str.format


_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?"
    r"(?P<type>[a-zA-Z%])"
)


def printf_size(fmt: str, values: Any) -> int:
    """At most how long `fmt % values` is: the text, each width or precision, each value."""
    args = list(values) if type(values) is tuple else [values]
    size = len(fmt)
    position = 0
    for spec in _PRINTF.finditer(fmt):
        if spec["type"] == "%":
            continue
        for number in (spec["width"], spec["precision"]):
            if number == "*":
                given = args[position] if position < len(args) else 0
                position += 1
                size += abs(given) if type(given) is int else 0
            elif number:
                size += int(number)
        if spec["key"] is not None and isinstance(values, Mapping):
            size += weight(values.get(spec["key"]))
        elif position < len(args):
            size += weight(args[position])
            position += 1
    return size


def format_size(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """At most how long `fmt.format(*args, **kwargs)` is."""
    size = len(fmt)
    automatic = 0
    for _, field, spec, _ in Formatter().parse(fmt):
        if field is None:
            continue
        name = re.split(r"[.\[]", field, maxsplit=1)[0]
        if name == "":
            value, automatic = (args[automatic] if automatic < len(args) else None), automatic + 1
        elif name.isdigit():
            value = args[int(name)] if int(name) < len(args) else None
        else:
            value = kwargs.get(name)
        size += weight(value) + sum(int(n) for n in re.findall(r"\d+", spec or ""))
        if spec and "{" in spec:  # a width from the arguments: any of them
            size += sum(abs(v) for v in (*args, *kwargs.values()) if type(v) is int)
    return size


# Methods called on text (through the sandbox's call)


def _replace_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    old, new = str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if type(count) is int and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _join_size(separator: Any, items: list[Any]) -> int:
    return sum(len(item) if isinstance(item, str | bytes) else weight(item) for item in items) + (
        len(separator) * max(len(items) - 1, 0)
    )


def _width(text: Any, width: Any = 0, *_: Any) -> int:
    return max(len(text), width if type(width) is int else 0)


def _translate_size(text: Any, table: Any = None, *_: Any) -> int:
    if isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, str | bytes)), default=1)
        return len(text) * max(longest, 1)
    return len(text)


_GROWING: dict[str, Callable[..., int]] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": lambda text, tabsize=8: (
        len(text) * max(tabsize if type(tabsize) is int else 8, 1)
    ),
    "replace": _replace_size,
    "translate": _translate_size,
    "encode": lambda text, *_, **__: 10 * len(text),
    "hex": lambda text, *_, **__: 3 * len(text),
}


def method_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Size the call of a method of text (or `int.to_bytes`); the arguments to call it with
    (a generator given to `join` is read once, here)."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    wrapped = getattr(method, "__wrapped__", None)  # the sandbox's str.format
    if wrapped is not None and isinstance(getattr(wrapped, "__self__", None), str):
        if name == "format":
            _build(format_size(wrapped.__self__, args, kwargs), "format()")
        elif name == "format_map" and args and isinstance(args[0], Mapping):
            _build(format_size(wrapped.__self__, (), args[0]), "format_map()")
        return args
    if isinstance(owner, str | bytes):
        if name == "join" and args:
            items = list(args[0])
            _build(_join_size(owner, items), "join()")
            return (items, *args[1:])
        size = _GROWING.get(name)
        if size is not None:
            _build(size(owner, *args, **kwargs), f"{name}()")
    elif type(owner) is int and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        _build(length if type(length) is int else 0, "to_bytes()")
    return args


def call_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """What a call passes (a macro's varargs, dict(...), namespace(...)) is bounded too."""
    if len(args) + len(kwargs) > 1:
        _checked((*args, *kwargs.values()), "the arguments of a call")


# Filters and globals that allocate by an argument


def center(value: Any, width: Any = 80) -> str:
    text(value)
    _build(_width(builtin.soft_str(value), width), "center")
    return builtin.do_center(value, width)


def indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    content = str(text(s))
    prefix = len(width) if isinstance(width, str) else max(width, 0) if type(width) is int else 0
    _build(len(content) + (content.count("\n") + 1) * prefix, "indent")
    return builtin.do_indent(s, width, first, blank)


@builtin.pass_environment
def wordwrap(environment: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> str:
    content = str(text(s))
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    joint = len(wrapstring) if isinstance(wrapstring, str) else 1
    lines = content.count("\n") + 1
    lines += len(content) // width if type(width) is int and width > 0 else 0
    _build(len(content) + lines * joint, "wordwrap")
    return builtin.do_wordwrap(environment, s, width, *args, **kwargs)


def format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    _build(printf_size(builtin.soft_str(text(value)), kwargs or args), "format")
    return builtin.do_format(value, *args, **kwargs)


@builtin.pass_eval_context
def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    _build(_replace_size(str(text(s)), old, new, -1 if count is None else count), "replace")
    return builtin.do_replace(eval_ctx, s, old, new, count)


@builtin.pass_eval_context
def join(eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None) -> str:
    if attribute is not None:
        value = map(builtin.make_attrgetter(eval_ctx.environment, attribute), value)
    items = list(value)
    size = _join_size(str(d), items)
    _build(6 * size if eval_ctx.autoescape else size, "join")  # escaping can make it longer
    return builtin.sync_do_join(eval_ctx, items, d)


def batch(value: Any, linecount: Any, fill_with: Any = None) -> Any:
    if fill_with is not None and type(linecount) is int:
        _build(linecount * (weight(fill_with) + 2), "batch")
    return builtin.do_batch(value, linecount, fill_with)


def slice_filter(value: Any, slices: Any, fill_with: Any = None) -> Any:
    if type(slices) is int:
        _build(slices * (64 + (weight(fill_with) if fill_with is not None else 0)), "slice")
    return builtin.sync_do_slice(value, slices, fill_with)


@builtin.pass_environment
def sum_filter(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if attribute is not None:
        iterable = map(builtin.make_attrgetter(environment, attribute), iterable)
    if isinstance(start, list | tuple):  # sum() of lists copies each time: join them instead
        items = list(iterable)
        _build(len(start) + sum(len(i) for i in items if isinstance(i, list | tuple)), "sum")
        joined = list(itertools.chain(start, *items))
        return _checked(type(start)(joined), "sum")
    return sum(iterable, start)


def lipsum(n: Any = 5, html: bool = True, min: Any = 20, max: Any = 100) -> str:
    words = n * max if type(n) is int and type(max) is int else 0
    _build(words * 12, "lipsum")  # a word and its space are at most about 12 characters
    return str(generate_lorem_ipsum(n, html, min, max))


FILTERS: dict[str, Callable[..., Any]] = {
    "center": center,
    "indent": indent,
    "wordwrap": wordwrap,
    "format": format_filter,
    "replace": replace,
    "join": join,
    "batch": batch,
    "slice": slice_filter,
    "sum": sum_filter,
}
BINOPS = frozenset({"*", "**", "+", "%"})
