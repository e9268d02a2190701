"""The render context: the variables a step renders with, as values that know their dotted path.

A mapping (or dataclass) is wrapped in a read-only view whose lookups name what they reach
(`contact.company.name`, `contact.orders[0]`); None and "" are missing, and a missing value
carries its dotted name, so the sandbox can raise `MissingVariable` with it. `template_context`
builds the variables of a step's render; `prepared` wraps one shared by many renders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.runtime import StrictUndefined, missing

from seqctl.errors import InputError

TARGETS = frozenset({"contact", "lead", "deal", "conversation", "appointment", "charge"})
KNOWN_ROOTS: frozenset[str] = TARGETS | {"sender", "sequence", "step", "enrollment", "now"}

_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


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
    if target != "contact":
        variables[target] = _Record(contact, target)
    # Written out rather than looped over: the tick makes one of these per message.
    if sender is not None:
        variables["sender"] = _wrap(sender, "sender")
    if sequence is not None:
        variables["sequence"] = _wrap(sequence, "sequence")
    if step is not None:
        variables["step"] = _wrap(step, "step")
    if enrollment is not None:
        variables["enrollment"] = _wrap(enrollment, "enrollment")
    if now is not None:
        variables["now"] = now
    return variables
